/* agentgym report viewer: vanilla JS, no dependencies, no network. Every text from a run is put in the page
   through textContent / attributes, never parsed as HTML. */
"use strict";
(function () {
  const T0 = performance.now();
  const META = JSON.parse(document.getElementById("ag-meta").textContent);
  const C = {};
  META.cols.forEach((name, i) => { C[name] = i; });
  const ROWS = META.rows;
  const RUNS = META.runs;
  const N = ROWS.length;
  const ROW_H = 28;
  const state = {
    filtered: [], sortKey: null, sortAsc: true, dashRun: null, dashStep: null, cmpA: 0, cmpB: 1,
  };
  let LINES = null, LOWER = null;
  const CACHE = new Map();

  // ------------------------------------------------------------------ helpers
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === null || v === undefined || v === false) continue;
        if (k === "class") e.className = v;
        else if (k === "text") e.textContent = v;
        else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
        else e.setAttribute(k, v === true ? "" : String(v));
      }
    }
    for (const kid of kids.flat()) {
      if (kid === null || kid === undefined || kid === false) continue;
      e.appendChild(typeof kid === "string" || typeof kid === "number" ? document.createTextNode(String(kid)) : kid);
    }
    return e;
  }
  const SVGNS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, ...kids) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") e.textContent = v; else e.setAttribute(k, String(v));
    }
    for (const kid of kids.flat()) if (kid) e.appendChild(kid);
    return e;
  }
  function fmt(x, d) {
    if (x === null || x === undefined || Number.isNaN(x)) return "";
    if (typeof x !== "number") return String(x);
    if (Number.isInteger(x) && d === undefined) return String(x);
    const a = Math.abs(x);
    if (d !== undefined) return x.toFixed(d);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return x.toExponential(2);
    return String(Math.round(x * 1000) / 1000);
  }
  function axis(x) {
    const a = Math.abs(x);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return x.toExponential(1);
    return String(Number(x.toPrecision(3)));
  }
  function pct(x) { return (100 * x).toFixed(1) + "%"; }
  function secs(s) { return s < 1 ? (1000 * s).toFixed(0) + " ms" : s.toFixed(2) + " s"; }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function runName(i) { return RUNS[i] ? RUNS[i].name : String(i); }
  function whenParsed(fn) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn, { once: true });
    else fn();
  }
  function lines() {
    if (LINES === null) {
      const node = document.getElementById("ag-episodes");
      LINES = node ? node.textContent.split("\n") : [];
    }
    return LINES;
  }
  function episode(i) {
    if (CACHE.has(i)) return CACHE.get(i);
    let ep = null;
    try { ep = JSON.parse(lines()[i]); } catch (e) { ep = null; }
    CACHE.set(i, ep);
    return ep;
  }
  function shared(content) {
    if (content && typeof content === "object" && !Array.isArray(content) && "$s" in content) return META.strings[content.$s];
    return content;
  }
  function textOf(content) {
    content = shared(content);
    if (typeof content === "string") return content;
    if (Array.isArray(content)) return content.map((p) => (p && p.type === "text" ? p.text || "" : "")).join("\n");
    return content === null || content === undefined ? "" : JSON.stringify(content);
  }

  // ------------------------------------------------------------------ pass@k / pass^k (unbiased estimators)
  function passAtK(n, c, k) {
    if (n - c < k) return 1;
    let p = 1;
    for (let i = n - c + 1; i <= n; i++) p *= 1 - k / i;
    return 1 - p;
  }
  function passHatK(n, c, k) {
    if (c < k) return 0;
    let p = 1;
    for (let i = 0; i < k; i++) p *= (c - i) / (n - i);
    return p;
  }

  // ------------------------------------------------------------------ header, banner
  function renderHeader() {
    const chips = document.getElementById("run-chips");
    RUNS.forEach((r, i) => chips.appendChild(el("span", { class: "run-chip", title: r.path },
      (RUNS.length > 1 ? String.fromCharCode(65 + (i % 26)) + ": " : "") + r.name + " (" + r.kind + ", " + r.episodes + " episodes)")));
    const skipped = RUNS.reduce((s, r) => s + r.skipped_lines, 0);
    const files = RUNS.flatMap((r) => r.skipped_files.map((f) => r.name + "/" + f));
    if (skipped || files.length) {
      const b = document.getElementById("banner");
      b.hidden = false;
      b.setAttribute("data-testid", "skipped");
      const parts = [];
      if (skipped) parts.push(skipped + " malformed or truncated line" + (skipped === 1 ? " was" : "s were") + " skipped");
      if (files.length) parts.push("unreadable: " + files.join(", "));
      b.textContent = parts.join("; ") + " (" + RUNS.filter((r) => r.skipped_lines).map((r) => r.name + ": " + r.skipped_lines).join(", ") + ")";
    }
    const hasTrain = RUNS.some((r) => r.steps.length || r.kind.includes("train"));
    if (!hasTrain) document.querySelector('nav a[data-view="train"]').classList.add("disabled");
    if (RUNS.length < 2) document.querySelector('nav a[data-view="compare"]').classList.add("disabled");
  }

  // ------------------------------------------------------------------ episode list
  const multiRun = RUNS.length > 1;
  const hasSteps = ROWS.some((r) => r[C.step] !== null);
  const COLUMNS = [
    multiRun && { key: "run", label: "run", w: "90px", get: (r) => runName(r[C.run]) },
    { key: "env", label: "env", w: "minmax(90px,1.2fr)", get: (r) => META.envs[r[C.env]] },
    { key: "task", label: "task", w: "minmax(80px,1fr)", get: (r) => r[C.task] },
    { key: "sample", label: "#", w: "34px", num: true, get: (r) => r[C.sample] },
    hasSteps && { key: "step", label: "step", w: "50px", num: true, get: (r) => r[C.step] },
    { key: "success", label: "success", w: "70px", get: (r) => r[C.success] },
    { key: "reward", label: "reward", w: "70px", num: true, get: (r) => r[C.reward] },
    { key: "turns", label: "turns", w: "50px", num: true, get: (r) => r[C.turns] },
    { key: "tool_calls", label: "tools", w: "50px", num: true, get: (r) => r[C.tool_calls] },
    { key: "tokens", label: "tokens", w: "64px", num: true, get: (r) => r[C.tokens] },
    { key: "seconds", label: "time", w: "70px", num: true, get: (r) => r[C.seconds] },
    { key: "errors", label: "errors", w: "54px", num: true, get: (r) => r[C.errors] },
  ].filter(Boolean);
  const GRID = COLUMNS.map((c) => c.w).join(" ");

  function cell(col, r) {
    const v = col.get(r);
    if (col.key === "success") {
      if (!r[C.finished]) return el("span", null, el("span", { class: "badge outcome warn" }, "error"));
      return el("span", null, el("span", { class: "badge outcome " + (v ? "ok" : "bad") }, v ? "success" : "failure"));
    }
    if (col.key === "seconds") return el("span", { class: "num" }, secs(v));
    if (col.key === "errors") return el("span", { class: "num" + (v ? " badge bad" : "") }, v ? String(v) : "");
    return el("span", { class: col.num ? "num" : "", title: typeof v === "string" ? v : null }, fmt(v));
  }

  function setupList() {
    const head = document.getElementById("list-head");
    head.style.setProperty("--cols", GRID);
    document.getElementById("list-rows").style.setProperty("--cols", GRID);
    COLUMNS.forEach((col) => {
      head.appendChild(el("span", { class: col.num ? "num" : "", "data-key": col.key, onclick: () => {
        if (state.sortKey === col.key) state.sortAsc = !state.sortAsc;
        else { state.sortKey = col.key; state.sortAsc = !col.num && col.key !== "success"; }
        applyFilters();
      } }, col.label));
    });
    const fill = (id, values) => {
      const s = document.getElementById(id);
      values.forEach(([v, label]) => s.appendChild(el("option", { value: v }, label)));
      if (values.length < 2) s.parentElement.hidden = true;
    };
    fill("f-run", RUNS.map((r, i) => [String(i), r.name]));
    fill("f-env", META.envs.map((e, i) => [String(i), e]));
    fill("f-tool", META.tools.map((t, i) => [String(i), t]));
    const steps = [...new Set(ROWS.map((r) => r[C.step]).filter((s) => s !== null))].sort((a, b) => a - b);
    fill("f-step", steps.map((s) => [String(s), String(s)]));
    if (!steps.length) document.getElementById("f-step").parentElement.hidden = true;
    let timer = null;
    for (const id of ["f-run", "f-env", "f-success", "f-rmin", "f-rmax", "f-tool", "f-step", "f-task", "f-text"]) {
      document.getElementById(id).addEventListener("input", () => {
        clearTimeout(timer);
        timer = setTimeout(applyFilters, id === "f-text" || id === "f-task" ? 200 : 0);
      });
    }
    document.getElementById("f-reset").addEventListener("click", () => {
      document.querySelectorAll("#filters input, #filters select").forEach((x) => { x.value = ""; });
      applyFilters();
    });
    const vp = document.getElementById("list-viewport");
    vp.addEventListener("scroll", () => requestAnimationFrame(drawRows));
    window.addEventListener("resize", () => requestAnimationFrame(drawRows));
  }

  function readFilters() {
    const v = (id) => document.getElementById(id).value;
    const num = (id) => (v(id) === "" ? null : Number(v(id)));
    return { run: v("f-run"), env: v("f-env"), success: v("f-success"), rmin: num("f-rmin"), rmax: num("f-rmax"),
      tool: v("f-tool"), step: v("f-step"), task: v("f-task").trim().toLowerCase(), text: v("f-text").trim().toLowerCase() };
  }

  function applyFilters() {
    const f = readFilters();
    const out = [];
    let lower = null;
    if (f.text) {
      if (LOWER === null) LOWER = lines().map((l) => l.toLowerCase());
      lower = LOWER;
    }
    const run = f.run === "" ? -1 : Number(f.run), env = f.env === "" ? -1 : Number(f.env);
    const tool = f.tool === "" ? -1 : Number(f.tool), step = f.step === "" ? null : Number(f.step);
    for (let i = 0; i < N; i++) {
      const r = ROWS[i];
      if (run >= 0 && r[C.run] !== run) continue;
      if (env >= 0 && r[C.env] !== env) continue;
      if (f.success === "1" && !r[C.success]) continue;
      if (f.success === "0" && (r[C.success] || !r[C.finished])) continue;
      if (f.success === "err" && !r[C.errors]) continue;
      if (f.rmin !== null && r[C.reward] < f.rmin) continue;
      if (f.rmax !== null && r[C.reward] > f.rmax) continue;
      if (tool >= 0 && !r[C.tools].includes(tool)) continue;
      if (step !== null && r[C.step] !== step) continue;
      if (f.task && !String(r[C.task]).toLowerCase().includes(f.task)) continue;
      if (lower && !(lower[i] || "").includes(f.text)) continue;
      out.push(i);
    }
    if (state.sortKey) {
      const col = COLUMNS.find((c) => c.key === state.sortKey);
      const dir = state.sortAsc ? 1 : -1;
      out.sort((a, b) => {
        const x = col.get(ROWS[a]), y = col.get(ROWS[b]);
        if (x === y) return a - b;
        if (x === null) return 1;
        if (y === null) return -1;
        return (x < y ? -1 : 1) * dir;
      });
    }
    document.querySelectorAll("#list-head span").forEach((s) => {
      s.classList.toggle("sorted", s.dataset.key === state.sortKey);
      s.classList.toggle("asc", s.dataset.key === state.sortKey && state.sortAsc);
    });
    state.filtered = out;
    renderStats(out);
    document.getElementById("list-spacer").style.height = out.length * ROW_H + "px";
    drawRows();
  }

  function renderStats(idx) {
    const s = clear(document.getElementById("list-stats"));
    let succ = 0, rew = 0, turns = 0, tools = 0, errs = 0;
    for (const i of idx) {
      const r = ROWS[i];
      succ += r[C.success]; rew += r[C.reward]; turns += r[C.turns]; tools += r[C.tool_calls]; errs += r[C.errors] ? 1 : 0;
    }
    const n = idx.length || 1;
    s.appendChild(el("span", { "data-testid": "episode-count" }, el("b", null, String(idx.length)), " of " + N + " episodes"));
    s.appendChild(el("span", null, "success ", el("b", null, pct(succ / n))));
    s.appendChild(el("span", null, "mean reward ", el("b", null, fmt(rew / n, 3))));
    s.appendChild(el("span", null, "turns/episode ", el("b", null, fmt(turns / n, 2))));
    s.appendChild(el("span", null, "tool calls/episode ", el("b", null, fmt(tools / n, 2))));
    s.appendChild(el("span", null, "with errors ", el("b", null, String(errs))));
    RUNS.forEach((r, i) => {
      const pk = r.pass;
      if (pk && pk.k > 1) {
        s.appendChild(el("span", { title: "over " + pk.tasks + " tasks with >= " + pk.k + " trials" },
          (multiRun ? runName(i) + ": " : "") + "pass@" + pk.k + " ", el("b", null, fmt(pk.at, 3)),
          " pass^" + pk.k + " ", el("b", null, fmt(pk.hat, 3))));
      }
    });
  }

  function drawRows() {
    const vp = document.getElementById("list-viewport");
    const box = document.getElementById("list-rows");
    if (!vp.offsetParent) return;
    const idx = state.filtered;
    const first = Math.max(0, Math.floor(vp.scrollTop / ROW_H) - 5);
    const last = Math.min(idx.length, first + Math.ceil(vp.clientHeight / ROW_H) + 10);
    clear(box);
    box.style.transform = "translateY(" + first * ROW_H + "px)";
    if (!idx.length) {
      box.style.transform = "";
      box.appendChild(el("div", { class: "empty" }, "No episode matches these filters."));
      return;
    }
    const frag = document.createDocumentFragment();
    for (let k = first; k < last; k++) {
      const i = idx[k];
      const r = ROWS[i];
      const row = el("div", { class: "row", "data-index": i, onclick: () => { location.hash = "#/episode/" + i; } },
        COLUMNS.map((col) => cell(col, r)));
      row.style.setProperty("--cols", GRID);
      frag.appendChild(row);
    }
    box.appendChild(frag);
  }

  // ------------------------------------------------------------------ one episode
  const RESULT_TAGS = ["tool_response", "output", "information", "response", "result", "observation"];

  function extractCalls(msg, names) {
    /* tool calls of an assistant message: native tool_calls, Hermes <tool_call> JSON, or tags named after the
       tools the env recorded for the turn; returns {calls, text} with the call markup removed from the text */
    const calls = [];
    let text = textOf(msg.content);
    for (const tc of msg.tool_calls || []) {
      const fn = tc.function || tc;
      calls.push({ name: fn.name || "?", args: fn.arguments, id: tc.id });
    }
    text = text.replace(/<tool_call>\s*([\s\S]*?)\s*(?:<\/tool_call>|$)/g, (m, body) => {
      let name = "?", args = body;
      try { const o = JSON.parse(body); name = o.name || "?"; args = o.arguments !== undefined ? o.arguments : o; } catch (e) { /* shown raw */ }
      calls.push({ name: name, args: args });
      return "";
    });
    for (const name of new Set(names || [])) {
      if (!/^[\w.-]+$/.test(name) || name === "tool_call") continue;
      const re = new RegExp("<" + name.replace(/\./g, "\\.") + ">([\\s\\S]*?)<\\/" + name.replace(/\./g, "\\.") + ">", "g");
      text = text.replace(re, (m, body) => { calls.push({ name: name, args: body }); return ""; });
    }
    return { calls: calls, text: text.trim() };
  }

  function extractResults(obs) {
    /* the tool results in a turn's observation: role "tool" messages, or result tags in a user message;
       anything else stays a plain message */
    const results = [], rest = [];
    for (const m of obs || []) {
      if (m.role === "tool") { results.push({ text: textOf(m.content), id: m.tool_call_id, msg: m }); continue; }
      const content = shared(m.content);
      if (typeof content === "string") {
        let found = false;
        const re = new RegExp("<(" + RESULT_TAGS.join("|") + ")>\\n?([\\s\\S]*?)\\n?<\\/\\1>", "g");
        const left = content.replace(re, (all, tag, body) => { found = true; results.push({ text: body }); return ""; });
        if (found) { if (left.trim()) rest.push({ ...m, content: left.trim() }); continue; }
      }
      rest.push(m);
    }
    return { results: results, rest: rest };
  }

  function resultKind(text) {
    /* how a tool result is highlighted: timeout, error (an Error / Traceback / exception line), or plain */
    if (/\btimed out\b|\bTimeoutError\b/i.test(text)) return "timeout";
    if (/^\s*(Error|Traceback)\b/.test(text) || /Traceback \(most recent call last\)/.test(text) ||
        /^\w*(Error|Exception)(: |$)/m.test(text) || /^\[killed by /m.test(text)) return "error";
    return "";
  }

  function splitNotes(text) {
    /* sandbox notes ("[the interpreter was restarted: ...]", "[killed by SIGKILL ...]") end a tool result */
    const lines = text.split("\n");
    const notes = [];
    while (lines.length && /^\[[^\]]+\]$/.test(lines[lines.length - 1].trim())) notes.unshift(lines.pop().trim().slice(1, -1));
    return { main: lines.join("\n"), notes: notes };
  }

  function argsView(args) {
    let value = args;
    if (typeof args === "string") { try { value = JSON.parse(args); } catch (e) { value = args; } }
    if (value && typeof value === "object") {
      const keys = Object.keys(value);
      if (keys.length === 1 && typeof value[keys[0]] === "string" && value[keys[0]].includes("\n")) {
        return el("div", null, el("span", { class: "muted mono" }, keys[0] + ":"), el("pre", null, value[keys[0]]));
      }
      return el("pre", null, JSON.stringify(value, null, 2));
    }
    return el("pre", null, String(value === undefined ? "" : value));
  }

  function contentView(content) {
    content = shared(content);
    if (Array.isArray(content)) {
      return el("div", null, content.map((p) => {
        if (p && p.type === "image_url") {
          const url = (p.image_url && p.image_url.url) || "";
          if (/^data:image\/(png|jpeg|gif|webp);base64,/.test(url)) return el("img", { class: "shot", src: url, alt: "screenshot" });
          return el("div", { class: "note" }, "image not embedded: " + url.slice(0, 120));
        }
        return el("pre", { class: "text" }, p && p.type === "text" ? p.text || "" : JSON.stringify(p));
      }));
    }
    const text = typeof content === "string" ? content : content === null || content === undefined ? "" : JSON.stringify(content);
    const box = el("div");
    const re = /<(think|thinking|reasoning)>([\s\S]*?)<\/\1>/g;
    let last = 0, m;
    while ((m = re.exec(text)) !== null) {
      if (m.index > last) box.appendChild(el("pre", { class: "text" }, text.slice(last, m.index).trim()));
      box.appendChild(el("details", null, el("summary", null, "thinking (" + m[2].length + " chars)"), el("pre", { class: "text think" }, m[2].trim())));
      last = m.index + m[0].length;
    }
    if (last < text.length) box.appendChild(el("pre", { class: "text" }, last ? text.slice(last).trim() : text));
    return box;
  }

  function messageView(m) {
    const role = m.role || "message";
    if (role === "system") {
      const text = textOf(m.content);
      return el("details", { class: "msg system" }, el("summary", null, "System prompt (" + text.length + " chars)"), contentView(m.content));
    }
    return el("div", { class: "msg " + role }, el("div", { class: "role" }, role + (m.name ? " · " + m.name : "")), contentView(m.content));
  }

  function callView(call, result) {
    const box = el("div", { class: "call", "data-testid": "tool-call" },
      el("div", { class: "call-head" }, "tool call ", el("span", { class: "name" }, call.name)),
      el("div", { class: "call-args" }, argsView(call.args)));
    if (result) {
      const kind = resultKind(result.text);
      const parts = splitNotes(result.text);
      box.appendChild(el("div", { class: "result " + kind, "data-testid": "tool-result" },
        el("div", { class: "label" }, kind || "result"),
        el("pre", null, parts.main),
        parts.notes.map((n) => el("div", { class: "note sandbox", "data-testid": "sandbox-note" }, "sandbox: " + n))));
    } else {
      box.appendChild(el("div", { class: "result" }, el("div", { class: "label" }, "no result recorded")));
    }
    return box;
  }

  function turnView(t, k) {
    const lp = t.lp ? "log-probs over " + t.lp[0] + " tokens: mean " + t.lp[1] + ", min " + t.lp[2] : "log-probs not recorded";
    const r = t.r || 0;
    const head = el("div", { class: "turn-head" },
      el("span", null, "turn " + (k + 1)),
      el("span", { class: "reward" + (r > 0 ? " pos" : r < 0 ? " neg" : ""), "data-testid": "turn-reward" }, "reward " + fmt(r, 3)),
      el("span", { title: lp, "data-testid": "turn-tokens" }, "tokens " + t.pt + " prompt / " + t.ct + " completion" + (t.lp ? " · mean log-prob " + t.lp[1] : "")),
      el("span", null, "agent " + secs(t.as || 0) + " · env " + secs(t.es || 0)),
      t.fr ? el("span", null, "finish: " + t.fr) : null,
      t.cost ? el("span", null, "$" + fmt(t.cost)) : null,
      t.cr ? el("span", { class: "note" }, "context reset after this turn") : null);
    const a = t.a || {};
    const ex = extractCalls(a, t.tc);
    const res = extractResults(t.o);
    const asst = el("div", { class: "msg assistant", title: lp }, el("div", { class: "role" }, "assistant"));
    if (ex.text) asst.appendChild(contentView(ex.text));
    if (a.reasoning_content) asst.insertBefore(el("details", null, el("summary", null, "reasoning"), el("pre", { class: "text think" }, a.reasoning_content)), asst.children[1] || null);
    const used = new Set();
    let next = 0;
    ex.calls.forEach((call) => {
      let n = call.id ? res.results.findIndex((x, j) => !used.has(j) && x.id === call.id) : -1;
      if (n < 0) {
        while (next < res.results.length && used.has(next)) next++;
        if (next < res.results.length) n = next;
      }
      if (n >= 0) used.add(n);
      asst.appendChild(callView(call, n >= 0 ? res.results[n] : null));
    });
    const box = el("div", { class: "turn", "data-turn": k }, head, asst);
    (t.pe || []).forEach((e) => box.appendChild(el("div", { class: "note err" }, "parse error: " + e)));
    res.results.forEach((x, n) => { if (!used.has(n)) box.appendChild(messageView(x.msg || { role: "tool", content: x.text })); });
    res.rest.forEach((m) => box.appendChild(messageView(m)));
    return box;
  }

  function outcomeView(ep) {
    const rows = [];
    const add = (k, v) => { if (v !== null && v !== undefined && v !== "") rows.push(el("tr", null, el("th", null, k), el("td", null, typeof v === "string" ? v : JSON.stringify(v)))); };
    add("answer", ep.answer);
    add("gold", ep.gold);
    add("terminated / truncated", String(ep.terminated) + " / " + String(ep.truncated));
    add("truncation reason", ep.truncation_reason);
    add("format", ep.format);
    const comps = Object.entries(ep.components || {});
    const panel = el("div", { class: "panel" }, el("h3", null, "Outcome"));
    if (ep.error) panel.appendChild(el("div", { class: "note err" }, "episode error: " + ep.error));
    panel.appendChild(el("table", { class: "simple kvt" }, rows));
    if (comps.length) {
      panel.appendChild(el("h3", { style: "margin-top:8px" }, "Reward components"));
      panel.appendChild(el("table", { class: "simple kvt", "data-testid": "reward-components" },
        el("tr", null, el("th", null, "component"), el("th", null, "value")),
        comps.map(([k, v]) => el("tr", null, el("td", null, k), el("td", { class: "num" }, typeof v === "number" ? fmt(v, 3) : JSON.stringify(v))))));
    }
    return panel;
  }

  function treeView(trees) {
    const panel = el("div", { class: "panel", "data-testid": "search-tree" }, el("h3", null, "Search tree (" + trees.length + " step" + (trees.length === 1 ? "" : "s") + ")"));
    trees.forEach((tree, s) => {
      const nodes = tree.nodes || [];
      const kids = new Map();
      nodes.forEach((n) => { const p = n.parent === null || n.parent === undefined ? -1 : n.parent; if (!kids.has(p)) kids.set(p, []); kids.get(p).push(n); });
      const chosenPath = new Set();
      let c = nodes.find((n) => n.id === tree.best);
      while (c) { chosenPath.add(c.id); c = nodes.find((n) => n.id === c.parent); }
      const build = (p) => el("ul", null, (kids.get(p) || []).map((n) => el("li", null,
        el("span", { class: "node" + (n.id === tree.chosen ? " chosen" : "") + (n.id === tree.best ? " best" : "") + (n.visit === null ? " unvisited" : ""),
          title: n.action || "" },
          "#" + n.id + " " + (n.key || n.action || "").slice(0, 160) + "  ×" + n.count + "  value " + (n.value === null ? "–" : fmt(n.value, 2)) +
          (n.visit === null ? "  (not visited)" : "  visit " + n.visit) + (n.terminal ? "  [terminal]" : "") + (n.error ? "  error: " + n.error : "") +
          (n.id === tree.chosen ? "  ← acted" : "")),
        kids.has(n.id) ? build(n.id) : null)));
      panel.appendChild(el("details", { open: s === 0 ? true : null, class: "tree" },
        el("summary", null, "step " + (tree.step !== undefined ? tree.step : s) + ": " + nodes.length + " nodes, best value " + fmt(tree.best_value, 2) + ", " + (tree.value_calls || 0) + " value calls"),
        build(-1)));
    });
    return panel;
  }

  function graphView(graph, submitted) {
    const nodes = graph.nodes || [];
    const byDepth = new Map();
    nodes.forEach((n) => { const d = n.depth || 0; if (!byDepth.has(d)) byDepth.set(d, []); byDepth.get(d).push(n); });
    const depths = [...byDepth.keys()].sort((a, b) => a - b);
    const widest = Math.max(1, ...[...byDepth.values()].map((v) => v.length));
    const W = Math.max(420, widest * 90), H = 60 + depths.length * 80;
    const pos = new Map();
    depths.forEach((d, row) => {
      const list = byDepth.get(d);
      list.forEach((n, j) => pos.set(n.id, [W * (j + 1) / (list.length + 1), 36 + row * 80]));
    });
    const root = svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, "data-testid": "thought-graph" });
    nodes.forEach((n) => (n.parents || []).forEach((p) => {
      const a = pos.get(p), b = pos.get(n.id);
      if (a && b) root.appendChild(svg("line", { x1: a[0], y1: a[1], x2: b[0], y2: b[1], stroke: "#9aa5bd", "stroke-width": 1.2 }));
    }));
    nodes.forEach((n) => {
      const [x, y] = pos.get(n.id);
      const color = n.pruned ? "#c9c9cf" : n.solved ? "#1b7f3b" : n.valid === false ? "#b3261e" : "#2f5fd0";
      const g = svg("g", { class: "gnode" },
        svg("title", { text: "#" + n.id + " " + n.op + (n.pruned ? " (pruned)" : "") + (n.solved ? " (solved)" : "") + "\nerrors: " + n.errors +
          "\nsolution: " + JSON.stringify(n.solution).slice(0, 300) }),
        n.id === submitted ? svg("circle", { cx: x, cy: y, r: 21, fill: "none", stroke: "#d0a12f", "stroke-width": 3 }) : null,
        svg("circle", { cx: x, cy: y, r: 16, fill: color, "fill-opacity": n.pruned ? 0.5 : 0.9 }),
        svg("text", { x: x, y: y + 4, "text-anchor": "middle", style: "fill:#fff;font-weight:600", text: String(n.id) }),
        svg("text", { x: x, y: y + 30, "text-anchor": "middle", text: n.op }));
      root.appendChild(g);
    });
    return el("div", { class: "panel" }, el("h3", null, "Thought graph (" + nodes.length + " nodes; green solved, grey pruned, red invalid, ringed submitted)"),
      el("div", { style: "overflow-x:auto" }, root));
  }

  function episodeView(i, compact) {
    const r = ROWS[i];
    const ep = episode(i);
    const box = el("div", { class: "episode", "data-episode": i });
    if (!ep) return el("div", { class: "empty" }, "This episode's transcript could not be read.");
    const badge = !r[C.finished] ? el("span", { class: "badge warn" }, "error") : el("span", { class: "badge " + (ep.success ? "ok" : "bad") }, ep.success ? "success" : "failure");
    box.appendChild(el("div", { class: "panel ep-head" },
      el("span", { class: "title" }, ep.task), badge,
      el("span", { class: "kv" }, "run ", el("b", null, runName(r[C.run]))),
      el("span", { class: "kv" }, "env ", el("b", null, ep.env)),
      el("span", { class: "kv" }, "episode ", el("b", null, ep.id)),
      el("span", { class: "kv" }, "agent ", el("b", null, ep.agent)),
      ep.step !== null ? el("span", { class: "kv" }, "step ", el("b", null, String(ep.step))) : null,
      el("span", { class: "kv" }, "reward ", el("b", null, fmt(ep.reward, 3))),
      el("span", { class: "kv" }, "turns ", el("b", null, String(r[C.turns]))),
      el("span", { class: "kv" }, "tool calls ", el("b", null, String(r[C.tool_calls]))),
      el("span", { class: "kv" }, "tokens ", el("b", null, String(r[C.tokens]))),
      el("span", { class: "kv" }, "time ", el("b", null, secs(ep.seconds || 0)))));
    box.appendChild(outcomeView(ep));
    if (Array.isArray(ep.search_tree) && ep.search_tree.length) box.appendChild(treeView(ep.search_tree));
    if (ep.graph && Array.isArray(ep.graph.nodes)) box.appendChild(graphView(ep.graph, ep.info ? ep.info.submitted_node : null));
    const conv = el("div", { class: "panel" }, el("h3", null, "Conversation"));
    (ep.messages || []).forEach((m) => conv.appendChild(messageView(m)));
    (ep.turns || []).forEach((t, k) => conv.appendChild(turnView(t, k)));
    box.appendChild(conv);
    if (!compact && ep.info && Object.keys(ep.info).length) {
      const json = JSON.stringify(ep.info, null, 2);
      box.appendChild(el("details", { class: "panel" }, el("summary", null, "info (" + Object.keys(ep.info).join(", ") + ")"),
        el("pre", null, json.length > 20000 ? json.slice(0, 20000) + "\n..." : json)));
    }
    return box;
  }

  function showEpisode(i) {
    const view = clear(document.getElementById("view-episode"));
    if (!(i >= 0 && i < N)) { view.appendChild(el("div", { class: "empty" }, "No such episode.")); return; }
    const pos = state.filtered.indexOf(i);
    const nav = el("div", { class: "panel", style: "display:flex;gap:8px;align-items:center" },
      el("a", { class: "btn", href: "#/list" }, "← episodes"),
      el("button", { type: "button", disabled: pos <= 0 ? true : null, onclick: () => { location.hash = "#/episode/" + state.filtered[pos - 1]; } }, "previous"),
      el("button", { type: "button", disabled: pos < 0 || pos >= state.filtered.length - 1 ? true : null, onclick: () => { location.hash = "#/episode/" + state.filtered[pos + 1]; } }, "next"),
      el("span", { class: "muted" }, pos >= 0 ? (pos + 1) + " of " + state.filtered.length + " filtered episodes" : ""));
    view.appendChild(nav);
    view.appendChild(episodeView(i, false));
    window.scrollTo(0, 0);
  }

  // ------------------------------------------------------------------ tasks (pass@k, pass^k)
  function taskTable(run) {
    const by = new Map();
    for (let i = 0; i < N; i++) {
      const r = ROWS[i];
      if (r[C.run] !== run || !r[C.finished] || r[C.step] !== null) continue;
      const key = META.envs[r[C.env]] + "\u0000" + r[C.task];
      let t = by.get(key);
      if (!t) by.set(key, t = { env: META.envs[r[C.env]], task: r[C.task], n: 0, c: 0, reward: 0, first: i });
      t.n++; t.c += r[C.success]; t.reward += r[C.reward];
    }
    return [...by.values()];
  }

  function showTasks() {
    const view = clear(document.getElementById("view-tasks"));
    RUNS.forEach((run, ri) => {
      const tasks = taskTable(ri);
      const panel = el("div", { class: "panel" }, el("h2", null, (multiRun ? runName(ri) + ": " : "") + tasks.length + " tasks"));
      if (!tasks.length) { panel.appendChild(el("div", { class: "muted" }, "No evaluation episodes (training samples are under Training).")); view.appendChild(panel); return; }
      const kmax = Math.max(...tasks.map((t) => t.n));
      const ks = [];
      for (let k = 1; k <= kmax; k++) ks.push(k);
      const summary = el("table", { class: "simple", "data-testid": "pass-at-k" }, el("tr", null, el("th", null, "k"), el("th", null, "pass@k"), el("th", null, "pass^k"), el("th", null, "tasks with ≥ k trials")));
      ks.forEach((k) => {
        const elig = tasks.filter((t) => t.n >= k);
        const at = elig.reduce((s, t) => s + passAtK(t.n, t.c, k), 0) / elig.length;
        const hat = elig.reduce((s, t) => s + passHatK(t.n, t.c, k), 0) / elig.length;
        summary.appendChild(el("tr", null, el("td", null, String(k)), el("td", null, fmt(at, 3)), el("td", null, fmt(hat, 3)), el("td", null, String(elig.length))));
      });
      panel.appendChild(summary);
      const kk = Math.min(...tasks.map((t) => t.n));
      const shown = tasks.slice(0, 1000);
      const table = el("table", { class: "simple", style: "margin-top:10px" }, el("tr", null, el("th", null, "env"), el("th", null, "task"),
        el("th", null, "trials"), el("th", null, "successes"), el("th", null, "mean reward"), el("th", null, "pass@" + kk), el("th", null, "pass^" + kk)));
      shown.forEach((t) => table.appendChild(el("tr", { class: "click", onclick: () => {
        document.getElementById("f-task").value = t.task; document.getElementById("f-run").value = String(ri);
        location.hash = "#/list"; applyFilters();
      } }, el("td", null, t.env), el("td", null, t.task), el("td", null, String(t.n)), el("td", null, String(t.c)),
      el("td", null, fmt(t.reward / t.n, 3)), el("td", null, fmt(passAtK(t.n, t.c, kk), 3)), el("td", null, fmt(passHatK(t.n, t.c, kk), 3)))));
      panel.appendChild(table);
      if (tasks.length > shown.length) panel.appendChild(el("div", { class: "muted" }, "first " + shown.length + " of " + tasks.length + " tasks shown"));
      view.appendChild(panel);
    });
  }

  // ------------------------------------------------------------------ side by side
  function showCompare(taskKey) {
    const view = clear(document.getElementById("view-compare"));
    if (RUNS.length < 2) { view.appendChild(el("div", { class: "empty" }, "Give two runs to compare: agentgym view RUN_A RUN_B")); return; }
    const pick = (id, value, on) => {
      const s = el("select", { id: id, onchange: (e) => { on(Number(e.target.value)); location.hash = "#/compare"; showCompare(); } },
        RUNS.map((r, i) => el("option", { value: i, selected: i === value ? true : null }, String.fromCharCode(65 + (i % 26)) + ": " + r.name)));
      return s;
    };
    view.appendChild(el("div", { class: "panel" }, "before ", pick("cmp-a", state.cmpA, (v) => { state.cmpA = v; }), "  after ", pick("cmp-b", state.cmpB, (v) => { state.cmpB = v; })));
    const A = new Map(taskTable(state.cmpA).map((t) => [t.env + "\u0000" + t.task, t]));
    const B = new Map(taskTable(state.cmpB).map((t) => [t.env + "\u0000" + t.task, t]));
    const common = [...A.keys()].filter((k) => B.has(k));
    const solved = (t) => t.c / t.n >= 0.5;
    const fixed = common.filter((k) => !solved(A.get(k)) && solved(B.get(k)));
    const broke = common.filter((k) => solved(A.get(k)) && !solved(B.get(k)));
    const rate = (t) => t.c + "/" + t.n;
    const sa = common.reduce((s, k) => s + A.get(k).c / A.get(k).n, 0) / (common.length || 1);
    const sb = common.reduce((s, k) => s + B.get(k).c / B.get(k).n, 0) / (common.length || 1);
    view.appendChild(el("div", { class: "stats", "data-testid": "compare-summary" },
      el("span", null, el("b", null, String(common.length)), " tasks in both runs"),
      el("span", null, "success ", el("b", null, pct(sa)), " → ", el("b", null, pct(sb))),
      el("span", null, "fixed ", el("b", null, String(fixed.length))),
      el("span", null, "broke ", el("b", null, String(broke.length))),
      el("span", null, "unchanged ", el("b", null, String(common.length - fixed.length - broke.length)))));
    const table = (title, keys, testid) => {
      const t = el("table", { class: "simple", "data-testid": testid }, el("tr", null, el("th", null, "env"), el("th", null, "task"),
        el("th", null, "before"), el("th", null, "after"), el("th", null, "reward before → after")));
      keys.slice(0, 2000).forEach((k) => {
        const a = A.get(k), b = B.get(k);
        t.appendChild(el("tr", { class: "click flipped", "data-task": a.task, onclick: () => { location.hash = "#/compare/" + encodeURIComponent(k); } },
          el("td", null, a.env), el("td", null, a.task), el("td", null, rate(a)), el("td", null, rate(b)),
          el("td", null, fmt(a.reward / a.n, 3) + " → " + fmt(b.reward / b.n, 3))));
      });
      return el("div", { class: "panel" }, el("h3", null, title + " (" + keys.length + ")"), keys.length ? t : el("div", { class: "muted" }, "none"));
    };
    if (taskKey && A.has(taskKey) && B.has(taskKey)) {
      const a = A.get(taskKey), b = B.get(taskKey);
      view.appendChild(el("div", { class: "panel" }, el("a", { class: "btn", href: "#/compare" }, "← flipped tasks"), "  ", a.task, ": first trial of each run"));
      view.appendChild(el("div", { class: "cols2", "data-testid": "side-by-side" },
        el("div", null, el("h3", null, "before: " + runName(state.cmpA)), episodeView(a.first, true)),
        el("div", null, el("h3", null, "after: " + runName(state.cmpB)), episodeView(b.first, true))));
      return;
    }
    view.appendChild(table("Fixed: failed before, solved after", fixed, "fixed-tasks"));
    view.appendChild(table("Broke: solved before, failed after", broke, "broke-tasks"));
  }

  // ------------------------------------------------------------------ training dashboard
  const CHARTS = [
    ["Reward", [["reward", "train"], ["eval_reward", "held-out eval"]]],
    ["Success", [["success", "train"], ["eval_success", "held-out eval"]]],
    ["Entropy", [["entropy", "entropy"]]],
    ["KL", [["kl", "KL to reference"], ["approx_kl", "KL to old policy"]]],
    ["Clip fraction", [["clipfrac", "clip fraction"]]],
    ["Grad norm", [["grad_norm", "grad norm"]]],
    ["Tool calls per episode", [["tool_calls", "tool calls"]]],
    ["Turns per episode", [["turns", "turns"]]],
    ["Tokens per episode", [["response_length", "completion tokens"]]],
    ["Step time (s)", [["rollout_seconds", "generation"], ["train_seconds", "optimization"], ["sync_seconds", "weight sync"]]],
  ];
  const COLORS = ["#2f5fd0", "#d0612f", "#1b7f3b", "#8a3fc2"];

  function chart(title, steps, series, marker) {
    const W = 380, H = 170, L = 46, R = 10, TP = 10, B = 24;
    const all = series.flatMap((s) => s.values.filter((v) => v !== null));
    let lo = Math.min(...all), hi = Math.max(...all);
    if (lo === hi) { lo -= Math.abs(lo) * 0.1 || 0.5; hi += Math.abs(hi) * 0.1 || 0.5; }
    const s0 = steps[0], s1 = steps[steps.length - 1];
    const x = (s) => L + (s1 === s0 ? (W - L - R) / 2 : (s - s0) / (s1 - s0) * (W - L - R));
    const y = (v) => TP + (1 - (v - lo) / (hi - lo)) * (H - TP - B);
    const root = svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H });
    root.appendChild(svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#ccc" }));
    root.appendChild(svg("line", { x1: L, y1: TP, x2: L, y2: H - B, stroke: "#ccc" }));
    root.appendChild(svg("text", { x: L - 4, y: TP + 8, "text-anchor": "end", text: axis(hi) }));
    root.appendChild(svg("text", { x: L - 4, y: H - B, "text-anchor": "end", text: axis(lo) }));
    root.appendChild(svg("text", { x: L, y: H - 8, text: "step " + s0 }));
    root.appendChild(svg("text", { x: W - R, y: H - 8, "text-anchor": "end", text: String(s1) }));
    if (marker !== null && marker !== undefined) root.appendChild(svg("line", { class: "marker", x1: x(marker), y1: TP, x2: x(marker), y2: H - B, stroke: "#d0a12f", "stroke-dasharray": "3 3" }));
    series.forEach((s, j) => {
      const color = COLORS[j % COLORS.length];
      const pts = [];
      steps.forEach((st, k) => { if (s.values[k] !== null) pts.push([st, s.values[k]]); });
      if (pts.length > 1) root.appendChild(svg("polyline", { points: pts.map((p) => x(p[0]).toFixed(1) + "," + y(p[1]).toFixed(1)).join(" "), fill: "none", stroke: color, "stroke-width": 1.5 }));
      const g = svg("g", { class: "points", "data-key": s.key });
      pts.forEach((p) => g.appendChild(svg("circle", { class: "pt", cx: x(p[0]).toFixed(1), cy: y(p[1]).toFixed(1), r: s.key.startsWith("eval_") ? 3.5 : 2.2, fill: color },
        svg("title", { text: s.label + " @ step " + p[0] + ": " + fmt(p[1]) }))));
      root.appendChild(g);
    });
    return el("div", { class: "chart", "data-metric": series[0].key },
      el("h4", null, title),
      el("div", { class: "legend" }, series.map((s, j) => el("span", null, el("i", { style: "background:" + COLORS[j % COLORS.length] }), s.label))),
      root);
  }

  function showTrain() {
    const view = clear(document.getElementById("view-train"));
    const trainRuns = RUNS.map((r, i) => i).filter((i) => RUNS[i].steps.length || ROWS.some((r) => r[C.run] === i && r[C.step] !== null));
    if (!trainRuns.length) { view.appendChild(el("div", { class: "empty" }, "No training run here (no metrics.jsonl or sampled episodes).")); return; }
    if (state.dashRun === null || !trainRuns.includes(state.dashRun)) state.dashRun = trainRuns[0];
    const run = RUNS[state.dashRun];
    if (trainRuns.length > 1) {
      view.appendChild(el("div", { class: "panel" }, "run ", el("select", { onchange: (e) => { state.dashRun = Number(e.target.value); state.dashStep = null; showTrain(); } },
        trainRuns.map((i) => el("option", { value: i, selected: i === state.dashRun ? true : null }, runName(i))))));
    }
    const epSteps = new Map();
    for (let i = 0; i < N; i++) {
      const r = ROWS[i];
      if (r[C.run] === state.dashRun && r[C.step] !== null) {
        if (!epSteps.has(r[C.step])) epSteps.set(r[C.step], []);
        epSteps.get(r[C.step]).push(i);
      }
    }
    const sampledSteps = [...epSteps.keys()].sort((a, b) => a - b);
    const sliderSteps = sampledSteps.length ? sampledSteps : run.steps;
    if (state.dashStep === null || !sliderSteps.includes(state.dashStep)) state.dashStep = sliderSteps.length ? sliderSteps[sliderSteps.length - 1] : null;
    view.appendChild(el("div", { class: "stats" }, el("span", null, el("b", { "data-testid": "logged-steps" }, String(run.steps.length)), " logged steps"),
      el("span", null, el("b", null, String(sampledSteps.length)), " steps with sampled episodes")));
    const charts = el("div", { class: "charts", id: "charts" });
    const drawCharts = () => {
      clear(charts);
      if (!run.steps.length) return;
      const used = new Set();
      const addChart = (title, defs) => {
        const series = defs.filter(([k]) => run.series[k] && run.series[k].some((v) => v !== null))
          .map(([k, label]) => ({ key: k, label: label, values: run.series[k] }));
        series.forEach((s) => used.add(s.key));
        if (series.length) charts.appendChild(chart(title, run.steps, series, state.dashStep));
      };
      CHARTS.forEach(([title, defs]) => addChart(title, defs));
      Object.keys(run.series).filter((k) => !used.has(k) && k !== "step_seconds").forEach((k) => addChart(k, [[k, k]]));
    };
    if (sliderSteps.length) {
      const label = el("span", { "data-testid": "slider-label" });
      const list = el("div");
      const slider = el("input", { type: "range", id: "step-slider", min: 0, max: sliderSteps.length - 1, step: 1, value: sliderSteps.indexOf(state.dashStep) });
      const update = () => {
        state.dashStep = sliderSteps[Number(slider.value)];
        const eps = epSteps.get(state.dashStep) || [];
        const succ = eps.reduce((s, i) => s + ROWS[i][C.success], 0);
        label.textContent = "step " + state.dashStep + ": " + eps.length + " sampled episodes" + (eps.length ? ", success " + pct(succ / eps.length) : "");
        drawCharts();
        clear(list);
        const t = el("table", { class: "simple", "data-testid": "step-episodes" }, el("tr", null, el("th", null, "task"), el("th", null, "#"), el("th", null, "success"), el("th", null, "reward"), el("th", null, "turns"), el("th", null, "tools")));
        eps.slice(0, 500).forEach((i) => {
          const r = ROWS[i];
          t.appendChild(el("tr", { class: "click", "data-index": i, onclick: () => { location.hash = "#/episode/" + i; } },
            el("td", null, r[C.task]), el("td", null, String(r[C.sample])), el("td", null, el("span", { class: "badge " + (r[C.success] ? "ok" : "bad") }, r[C.success] ? "success" : "failure")),
            el("td", null, fmt(r[C.reward], 3)), el("td", null, String(r[C.turns])), el("td", null, String(r[C.tool_calls]))));
        });
        list.appendChild(eps.length ? t : el("div", { class: "muted" }, "no episodes were saved at this step"));
      };
      slider.addEventListener("input", update);
      view.appendChild(el("div", { class: "panel" }, el("div", { class: "slider" }, el("b", null, "Sampled episodes"), slider, label),
        el("details", { class: "step-list", open: true }, el("summary", null, "episodes of this step"), list)));
      view.appendChild(charts);
      update();
    } else {
      view.appendChild(charts);
      drawCharts();
    }
  }

  // ------------------------------------------------------------------ routing
  function route() {
    const h = location.hash || "#/list";
    const parts = h.replace(/^#\/?/, "").split("/");
    let name = parts[0] || "list";
    if (!["list", "episode", "tasks", "compare", "train"].includes(name)) name = "list";
    document.querySelectorAll("section.view").forEach((s) => s.classList.toggle("active", s.id === "view-" + name));
    document.querySelectorAll("#nav a").forEach((a) => a.classList.toggle("active", a.dataset.view === name || (name === "episode" && a.dataset.view === "list")));
    if (name === "list") drawRows();
    else if (name === "episode") whenParsed(() => showEpisode(Number(parts[1])));
    else if (name === "tasks") showTasks();
    else if (name === "compare") whenParsed(() => showCompare(parts[1] ? decodeURIComponent(parts.slice(1).join("/")) : null));
    else if (name === "train") showTrain();
  }

  renderHeader();
  setupList();
  window.addEventListener("hashchange", route);
  const hasTrainOnly = RUNS.every((r) => r.kind === "train") && !location.hash;
  if (hasTrainOnly) history.replaceState(null, "", "#/train");
  applyFilters();
  route();
  // timings from navigation start (bench/viewer_load.py reads them): boot, list in the DOM, first frame after it
  window.__agViewer = { scriptStart: T0, listRendered: performance.now(), episodes: N };
  requestAnimationFrame(() => setTimeout(() => { window.__agViewer.painted = performance.now(); }, 0));
  document.documentElement.setAttribute("data-ready", "1");
})();
