/* Shared helpers. Data from runs is only ever put into the page as text (textContent). */
"use strict";
const SB = (function () {
  const body = document.body;
  const root = body.dataset.root || "";
  const settings = {
    deadAfter: parseFloat(body.dataset.deadAfter || "120"),
    allowWrite: body.dataset.allowWrite === "true",
  };

  function url(path, params) {
    let u = root + path;
    if (params) {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(params)) {
        if (v !== undefined && v !== null && v !== "") qs.set(k, v);
      }
      const s = qs.toString();
      if (s) u += (u.includes("?") ? "&" : "?") + s;
    }
    return u;
  }

  /* The URL of a run's own page, on a tab (config, output, fail, metrics...). */
  function runUrl(runId, tab) {
    return url("/run/" + encodeURIComponent(runId), tab ? { tab } : null);
  }

  async function api(path, params, options) {
    const resp = await fetch(url(path, params), options);
    const text = await resp.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
    if (!resp.ok) {
      const msg = data && data.errorMessage ? data.errorMessage : (typeof data === "string" ? data : resp.statusText);
      const err = new Error(msg);
      err.status = resp.status;
      throw err;
    }
    return data;
  }

  /* el("div", {class: "x", onclick: f}, child, "text", ...) */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k in node && k !== "list") node[k] = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : String(c));
    }
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  function toast(message) {
    const t = document.getElementById("toast");
    t.textContent = message;
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.hidden = true; }, 5000);
  }

  function fmtTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (isNaN(d)) return String(iso);
    return d.toLocaleString();
  }

  function fmtDuration(s) {
    if (s === null || s === undefined) return "";
    s = Math.round(s);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return (h ? h + "h " : "") + (h || m ? m + "m " : "") + sec + "s";
  }

  function fmtValue(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(+v.toPrecision(6));
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }

  /* A short form of a number for tables and axes (8.63e+73, 0.06009, 12345); anything else
     as fmtValue. fmtFull is the whole value, for the hover title. */
  function fmtShort(v) {
    if (typeof v !== "number") return fmtValue(v);
    if (!isFinite(v)) return String(v);
    const a = Math.abs(v);
    if (Number.isInteger(v) && a < 1e10) return String(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2).replace(/\.?0+e/, "e");
    return String(+v.toPrecision(4));
  }

  function fmtFull(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "number") return String(v);
    return fmtValue(v);
  }

  /* A table cell's content: the short number, the whole value on hover when they differ. */
  function numCell(attrs, v) {
    const short = fmtShort(v), full = fmtFull(v);
    return el("td", Object.assign({ text: short, title: full !== short ? full : null }, attrs || {}));
  }

  /* "mean ± std" of a group's result stats, short, and the whole numbers for the title. */
  function meanStd(stats) {
    if (!stats || !stats.n) return { text: "", title: "" };
    return { text: fmtShort(stats.mean) + " ± " + fmtShort(stats.std), title: fmtFull(stats.mean) + " ± " + fmtFull(stats.std) };
  }

  /* {"a": {"b": 1}, "c": [1]} -> {"a.b": 1, "c": [1]} (dicts flattened, keys sorted). */
  function flatten(value, prefix, out) {
    out = out || {};
    for (const k of Object.keys(value || {}).sort()) {
      const v = value[k];
      if (v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length && !extendedLeaf(v)) flatten(v, prefix + k + ".", out);
      else out[prefix + k] = v;
    }
    return out;
  }

  /* The config of seed groups as key=value pairs: for each group a span, the keys whose
     values differ between the groups (of one experiment) first and in bold, the others
     after them, muted; never a docstring (__doc__); the whole config as JSON on hover. */
  function groupLabels(groups) {
    const flat = groups.map(g => flatten(g.config, ""));
    const byExperiment = {};
    groups.forEach((g, i) => (byExperiment[g.experiment_name] = byExperiment[g.experiment_name] || []).push(i));
    const varying = new Array(groups.length);
    for (const members of Object.values(byExperiment)) {
      const keys = new Set(members.flatMap(i => Object.keys(flat[i])));
      const differ = new Set([...keys].filter(k => new Set(members.map(i => k in flat[i] ? JSON.stringify(flat[i][k]) : "\u0000")).size > 1));
      for (const i of members) varying[i] = differ;
    }
    return groups.map((g, i) => {
      const span = el("span", { class: "group-config", title: JSON.stringify(g.config) });
      const keys = Object.keys(flat[i]).filter(k => k !== "__doc__" && !k.endsWith(".__doc__"));
      const first = keys.filter(k => varying[i].has(k)), rest = keys.filter(k => !varying[i].has(k));
      for (const k of first.concat(rest)) {
        const v = flat[i][k];
        const shown = typeof v === "string" ? v : fmtShort(v);
        span.append(el("span", { class: varying[i].has(k) ? "kv differs" : "kv" }, el("span", { class: "k", text: k + "=" }), shown), " ");
      }
      if (!keys.length) span.append(el("span", { class: "muted", text: "(no config)" }));
      return span;
    });
  }

  function stateGlyph(state) {
    const label = state === "PROBABLY_DEAD" ? "Probably dead" : (state || "");
    return el("span", { class: "glyph st-" + state, title: label });
  }

  /* A collapsible key/value tree of a JSON value (keys sorted). */
  function tree(value, openDepth) {
    openDepth = openDepth === undefined ? 1 : openDepth;
    const wrap = el("div", { class: "tree" });
    wrap.append(treeList(value, 0, openDepth));
    return wrap;
  }

  function leaf(v) {
    if (v === null) return el("span", { class: "lit", text: "null" });
    if (typeof v === "string") return el("span", { class: "str", text: JSON.stringify(v) });
    if (typeof v === "number") return el("span", { class: "num", text: String(v) });
    return el("span", { class: "lit", text: String(v) });
  }

  /* A date {"$date": ms} or an id {"$oid": hex} of a run document (the original's encoding). */
  function extendedLeaf(v) {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return null;
    const keys = Object.keys(v);
    if (keys.length !== 1) return null;
    if (keys[0] === "$date" && typeof v.$date === "number") {
      return el("span", { class: "str", text: new Date(v.$date).toISOString(), title: "UTC" });
    }
    if (keys[0] === "$oid" && typeof v.$oid === "string") return el("span", { class: "str", text: v.$oid });
    return null;
  }

  function treeList(value, depth, openDepth) {
    const ul = el("ul");
    const keys = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value).sort();
    for (const k of keys) {
      const v = value[k];
      const li = el("li");
      const ext = extendedLeaf(v);
      if (ext) {
        li.append(el("span", { class: "key", text: String(k) }), ": ", ext);
      } else if (v !== null && typeof v === "object" && Object.keys(v).length) {
        const size = Array.isArray(v) ? "[" + v.length + "]" : "{" + Object.keys(v).length + "}";
        const open = depth < openDepth;
        const toggle = el("span", { class: "toggle", text: open ? "▾ " : "▸ " });
        const child = treeList(v, depth + 1, openDepth);
        child.hidden = !open;
        toggle.addEventListener("click", () => {
          child.hidden = !child.hidden;
          toggle.textContent = child.hidden ? "▸ " : "▾ ";
        });
        li.append(toggle, el("span", { class: "key", text: String(k) }), ": ", el("span", { class: "muted", text: size }), child);
      } else {
        const shown = v !== null && typeof v === "object" ? (Array.isArray(v) ? "[]" : "{}") : null;
        li.append(el("span", { class: "key", text: String(k) }), ": ", shown ? el("span", { class: "lit", text: shown }) : leaf(v));
      }
      ul.append(li);
    }
    return ul;
  }

  /* Exponential moving average with TensorBoard's debiasing. */
  function smooth(values, weight) {
    if (!weight) return values.slice();
    const out = [];
    let last = 0, n = 0;
    for (const v of values) {
      if (v === null || !isFinite(v)) { out.push(null); continue; }
      last = last * weight + (1 - weight) * v;
      n += 1;
      out.push(last / (1 - Math.pow(weight, n)));
    }
    return out;
  }

  const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

  return { root, settings, url, runUrl, api, el, clear, toast, fmtTime, fmtDuration, fmtValue, fmtShort, fmtFull, numCell, meanStd, groupLabels, stateGlyph, tree, smooth, COLORS };
})();
