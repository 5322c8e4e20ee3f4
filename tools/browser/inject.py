"""The JavaScript a browser backend runs in pages: the id-injection pass and the click-handler registry.

`INIT_SCRIPT` runs in every document before the page's own scripts (Playwright's `add_init_script`): it wraps
`EventTarget.addEventListener` so elements that get a click/mouse/pointer/touch/hover handler from a script (jQuery,
d3, plain DOM code) are remembered. `ID_SCRIPT` runs after every load and action: it marks those elements (and
elements with an `onclick`-style property) with `CLICKABLE_ATTR`, then gives every element matching
`INTERACTIVE_SELECTOR` that has no id yet the next free id, keeps the ids already there, re-numbers duplicates
(a cloned element carries its original's id), marks the outermost unrendered elements with `HIDDEN_ATTR`, and
returns the id of the focused element. With `renumber` it first removes every id (a new episode on the same page).
"""

from __future__ import annotations

from agentgym.tools.browser.base import AGID_ATTR, CLICKABLE_ATTR, HIDDEN_ATTR, INTERACTIVE_SELECTOR

INIT_SCRIPT = r"""
(() => {
  if (window.__agClickables) return;
  const set = new Set();
  window.__agClickables = set;
  const kinds = new Set(['click', 'dblclick', 'mousedown', 'mouseup', 'pointerdown', 'pointerup', 'touchstart',
                         'mouseover', 'mouseenter']);
  const orig = EventTarget.prototype.addEventListener;
  EventTarget.prototype.addEventListener = function (type, listener, options) {
    try {
      if (kinds.has(type) && this instanceof Element && this !== document.body &&
          this !== document.documentElement) set.add(this);
    } catch (e) { /* never break the page */ }
    return orig.call(this, type, listener, options);
  };
})();
"""

ID_SCRIPT = r"""
(args) => {
  const [attr, selector, clickAttr, hiddenAttr, renumber] = args;
  const root = document.documentElement;
  if (!root) return {focused: null, count: 0};
  if (renumber) {
    for (const el of document.querySelectorAll('[' + attr + ']')) el.removeAttribute(attr);
    window.__agNextId = 1;
  }
  const reg = window.__agClickables;
  if (reg) {
    for (const el of Array.from(reg)) {
      if (!el.isConnected) { reg.delete(el); continue; }
      if (!el.hasAttribute(clickAttr)) el.setAttribute(clickAttr, '');
    }
  }
  const body = document.body;
  if (body) {
    for (const el of body.getElementsByTagName('*')) {
      if ((typeof el.onclick === 'function' || typeof el.onmousedown === 'function' ||
           typeof el.onmouseup === 'function') && !el.hasAttribute(clickAttr)) el.setAttribute(clickAttr, '');
    }
  }
  let next = window.__agNextId || 1;
  const els = document.querySelectorAll(selector);
  const seen = new Set();
  // ids on the page that this pass did not give out (a page may be re-rendered around kept elements)
  for (const el of els) {
    const id = el.getAttribute(attr);
    if (id !== null) { const n = parseInt(id, 10); if (n >= next) next = n + 1; }
  }
  for (const el of els) {
    let id = el.getAttribute(attr);
    if (id === null || id === '' || seen.has(id)) { id = String(next++); el.setAttribute(attr, id); }
    seen.add(id);
  }
  // the outermost elements the browser does not render (their whole subtree is hidden)
  if (body) {
    for (const el of body.getElementsByTagName('*')) {
      let hidden = false;
      const tag = el.tagName;
      if (tag !== 'OPTION' && tag !== 'OPTGROUP' && typeof el.checkVisibility === 'function' &&
          !el.checkVisibility({checkVisibilityCSS: true, visibilityProperty: true})) {
        const parent = el.parentElement;
        const parentShown = !parent || parent === body || !parent.hasAttribute(hiddenAttr) &&
          (typeof parent.checkVisibility !== 'function' ||
           parent.checkVisibility({checkVisibilityCSS: true, visibilityProperty: true}) ||
           window.getComputedStyle(parent).display === 'contents');
        hidden = parentShown && window.getComputedStyle(el).display !== 'contents';
      }
      if (hidden) { if (!el.hasAttribute(hiddenAttr)) el.setAttribute(hiddenAttr, ''); }
      else if (el.hasAttribute(hiddenAttr)) el.removeAttribute(hiddenAttr);
    }
  }
  window.__agNextId = next;
  let f = document.activeElement;
  const focused = (f && f !== document.body && f.getAttribute) ? f.getAttribute(attr) : null;
  return {focused: focused, count: seen.size};
}
"""


def id_script_args(renumber: bool = False) -> list[object]:
    """The argument list `ID_SCRIPT` takes."""
    return [AGID_ATTR, INTERACTIVE_SELECTOR, CLICKABLE_ATTR, HIDDEN_ATTR, renumber]
