"""A virtual clock for pages whose own timers make observations depend on the wall clock.

A page that moves with time (a ticker updated by `setInterval`, an animation driven by `setTimeout`) shows a
different state depending on how long the browser took to load it and to run an action, so the same seed and
actions do not give the same observation. `VIRTUAL_CLOCK_SCRIPT`, installed with Playwright's `add_init_script`
before the page's own scripts, gives the page's code a clock that only moves when the env says so:
`setTimeout` / `setInterval` (and their `clear*`), `Date` and `performance.now` called from the page's own
scripts (frames served from the page's origin) run on virtual time, and `advance_clock(page, ms)` fires every
timer due in the next `ms` virtual milliseconds, in due order, synchronously. Code evaluated by the driver
(Playwright, BrowserGym's element marking, which polls with `setInterval` and times out with `Date.now`) keeps
the real clock, so the driver never waits on time that does not pass. `requestAnimationFrame` stays real:
animations that read the virtual clock simply do not progress between advances.

The virtual epoch is the current day's midnight (UTC), so date widgets still show today.
"""

from __future__ import annotations

from typing import Any

VIRTUAL_CLOCK_SCRIPT = r"""
(() => {
  if (window.__agClock) return;
  const realSetTimeout = window.setTimeout.bind(window);
  const realClearTimeout = window.clearTimeout.bind(window);
  const realSetInterval = window.setInterval.bind(window);
  const realClearInterval = window.clearInterval.bind(window);
  const RealDate = window.Date;
  const realPerfNow = performance.now.bind(performance);
  const origin = location.origin;
  const epoch = Math.floor(RealDate.now() / 86400000) * 86400000;
  const timers = new Map();
  let now = 0, nextId = 1000000000;
  const fromPage = () => {
    if (!origin || origin === 'null') return false;
    const stack = new Error().stack || '';
    return stack.indexOf(origin + '/') !== -1;
  };
  const schedule = (fn, delay, args, interval) => {
    const id = nextId++;
    const ms = Math.max(0, Number(delay) || 0);
    timers.set(id, {fn, args, due: now + ms, interval: interval ? Math.max(ms, 1) : null});
    return id;
  };
  window.setTimeout = function (fn, delay, ...args) {
    if (typeof fn !== 'function' || !fromPage()) return realSetTimeout(fn, delay, ...args);
    return schedule(fn, delay, args, false);
  };
  window.setInterval = function (fn, delay, ...args) {
    if (typeof fn !== 'function' || !fromPage()) return realSetInterval(fn, delay, ...args);
    return schedule(fn, delay, args, true);
  };
  window.clearTimeout = function (id) { if (!timers.delete(id)) realClearTimeout(id); };
  window.clearInterval = function (id) { if (!timers.delete(id)) realClearInterval(id); };
  const virtualNow = () => epoch + now;
  function VDate(...args) {
    if (!new.target) return (args.length === 0 && fromPage()) ? new RealDate(virtualNow()).toString()
                                                             : RealDate(...args);
    if (args.length === 0 && fromPage()) return new RealDate(virtualNow());
    return new RealDate(...args);
  }
  VDate.prototype = RealDate.prototype;
  VDate.now = () => fromPage() ? virtualNow() : RealDate.now();
  VDate.parse = RealDate.parse;
  VDate.UTC = RealDate.UTC;
  window.Date = VDate;
  performance.now = () => fromPage() ? now : realPerfNow();
  window.__agClock = {
    advance(ms) {
      const end = now + Math.max(0, Number(ms) || 0);
      let fired = 0;
      while (fired < 100000) {
        let nextKey = null, next = null;
        for (const [id, t] of timers) {
          if (t.due <= end && (next === null || t.due < next.due || (t.due === next.due && id < nextKey))) {
            nextKey = id; next = t;
          }
        }
        if (next === null) break;
        now = Math.max(now, next.due);
        if (next.interval === null) timers.delete(nextKey); else next.due += next.interval;
        fired++;
        try { next.fn(...next.args); } catch (e) { console.error(e); }
      }
      now = end;
      return fired;
    },
  };
})();
"""


def advance_clock(page: Any, ms: float) -> int:
    """Run the virtual clock of a page (Playwright's sync `Page`) forward by `ms`; returns the timers fired.

    A page without the clock (the script was not installed, or a document from another origin) is left as it
    is and 0 is returned.
    """
    return int(page.evaluate("(ms) => window.__agClock ? window.__agClock.advance(ms) : 0", ms))


def uses_timers(html: str) -> bool:
    """Whether a page's source schedules its own timers (what makes its observations depend on the wall clock)."""
    return "setInterval" in html or "setTimeout" in html
