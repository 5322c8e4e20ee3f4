"""The JavaScript a browser backend runs in pages: the id-injection pass and the click-handler registry.

`INIT_SCRIPT` runs in every document before the page's own scripts (Playwright's `add_init_script`): it wraps
`EventTarget.addEventListener` so elements that get a click/mouse/pointer/touch/hover handler from a script (jQuery,
d3, plain DOM code) are remembered. `ID_SCRIPT` runs after every load and action: it marks those elements (and
elements with an `onclick`-style property) with `CLICKABLE_ATTR`, then gives every element matching
`INTERACTIVE_SELECTOR` that has no id yet the next free id, keeps the ids already there, re-numbers duplicates
(a cloned element carries its original's id), marks the outermost unrendered elements with `HIDDEN_ATTR`, copies the
live form state into attributes (an input's `value`, `checked`, a textarea's text, an option's `selected`: what
`axtext` reads, as the HTTP backend keeps it), and returns the id of the focused element. With `renumber` it first removes every id (a new episode on the same page).
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
  // live form state into attributes, so the serialized HTML shows what a user typed, chose and ticked
  // (the text view reads attributes, as the HTTP backend keeps them); an attribute is only written when it
  // differs, and a select's `selected` attributes only when the live choice differs from what they imply
  for (const el of document.querySelectorAll('input, textarea, select')) {
    const tag = el.tagName;
    if (tag === 'INPUT') {
      const type = (el.getAttribute('type') || '').toLowerCase();
      if (type === 'checkbox' || type === 'radio') {
        if (el.checked !== el.hasAttribute('checked')) {
          if (el.checked) el.setAttribute('checked', ''); else el.removeAttribute('checked');
        }
      } else if (type !== 'file' && el.value !== (el.getAttribute('value') ?? '')) {
        el.setAttribute('value', el.value);
      }
    } else if (tag === 'TEXTAREA') {
      if (el.value !== el.textContent) el.textContent = el.value;
    } else {
      const opts = Array.from(el.options);
      const marked = opts.map(o => o.hasAttribute('selected'));
      if (!el.multiple && el.size <= 1 && !marked.some(Boolean)) {
        const first = opts.findIndex(o => !o.disabled);
        if (first >= 0) marked[first] = true;
      }
      if (opts.some((o, i) => o.selected !== marked[i])) {
        for (const o of opts) {
          if (o.selected) { if (!o.hasAttribute('selected')) o.setAttribute('selected', ''); }
          else if (o.hasAttribute('selected')) o.removeAttribute('selected');
        }
      }
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
