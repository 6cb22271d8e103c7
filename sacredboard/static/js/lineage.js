/* A run's lineage on its page: the `sacred rerun` line (with a copy button), its parent,
   what it reran, its children and reruns, and the segments of a resumed run. */
"use strict";
const SBLineage = (function () {
  const { el, api, url, clear, fmtTime, fmtDuration, stateGlyph, runUrl } = SB;

  /* A run named by meta.parent or meta.rerun_of: a link when it is in this store. */
  function ref(r) {
    if (r.same_store && r.found) {
      return el("span", {}, el("a", { class: "run-link", href: runUrl(r.id), text: "run " + r.id }), " ",
        stateGlyph(r.status), el("span", { class: "muted", text: [r.experiment_name, r.status].filter(Boolean).join(", ") }));
    }
    if (r.same_store) return el("span", {}, "run " + r.id + " ", el("span", { class: "muted", text: "(no longer in this store)" }));
    return el("span", {}, "run " + r.id + " in ", el("code", { class: "location", text: r.store || "another store" }));
  }

  function runList(runs, more, query) {
    const ul = el("ul", { class: "related" });
    for (const r of runs) {
      ul.append(el("li", {}, el("a", { class: "run-link", href: runUrl(r.id), text: "run " + r.id }), " ",
        stateGlyph(r.status), el("span", { class: "muted", text: [r.experiment_name, r.status].filter(Boolean).join(", ") })));
    }
    if (more) ul.append(el("li", {}, el("a", { href: url("/runs", { q: query }), text: "all of them in the table…" })));
    return ul;
  }

  function lastLine(text) {
    const lines = String(text || "").trim().split("\n");
    return lines[lines.length - 1];
  }

  function segments(list) {
    const errors = list.some(s => s.error);
    const tb = el("tbody");
    list.forEach((s, i) => {
      const start = s.start ? new Date(s.start.endsWith("Z") || /[+-]\d\d:\d\d$/.test(s.start) ? s.start : s.start + "Z") : null;
      const stop = s.stop ? new Date(s.stop.endsWith("Z") || /[+-]\d\d:\d\d$/.test(s.stop) ? s.stop : s.stop + "Z") : null;
      const took = start && stop && !isNaN(start) && !isNaN(stop) ? fmtDuration((stop - start) / 1000) : "";
      tb.append(el("tr", {}, el("td", { class: "num", text: i + 1 }), el("td", { class: "time", text: start ? fmtTime(start) : "" }),
        el("td", { class: "time", text: stop ? fmtTime(stop) : (s.status === "RUNNING" ? "running" : "") }),
        el("td", { text: took }), el("td", {}, stateGlyph(s.status), s.status || ""),
        errors ? el("td", { class: "muted", text: lastLine(s.error), title: s.error || null }) : null));
    });
    const heads = ["Segment", "Start", "Stop", "Duration", "Status"].concat(errors ? ["Error"] : []);
    return el("table", { class: "runs segments" }, el("thead", {}, el("tr", {}, ...heads.map(h => el("th", { text: h })))), tb);
  }

  async function copy(text, note) {
    try {
      if (navigator.clipboard && window.isSecureContext) await navigator.clipboard.writeText(text);
      else {
        const area = el("textarea", { value: text, readOnly: true, style: "position:fixed;left:-9999px" });
        document.body.append(area);
        area.select();
        const ok = document.execCommand("copy");
        area.remove();
        if (!ok) throw new Error("copy refused");
      }
      note.textContent = "Copied.";
    } catch (e) {
      note.textContent = "Select the line and copy it (" + e.message + ").";
    }
  }

  function row(label, ...content) {
    return el("div", { class: "lineage-row" }, el("span", { class: "lineage-label", text: label }), ...content);
  }

  async function show(box, runId) {
    let d;
    try { d = await api("/api/run/" + encodeURIComponent(runId) + "/lineage"); }
    catch (e) { clear(box).append(el("p", { class: "error", text: e.message })); return; }
    clear(box);
    if (d.rerun_command) {
      const note = el("span", { class: "muted", id: "rerun-note" });
      box.append(row("Run it again", el("code", { id: "rerun-command", class: "command", text: d.rerun_command }),
        el("button", { id: "rerun-copy", type: "button", text: "Copy", title: "Copy the command", onclick: () => copy(d.rerun_command, note) }), note));
    }
    if (d.parent) box.append(row("Parent", el("span", { id: "lineage-parent" }, ref(d.parent))));
    if (d.rerun_of) box.append(row("Rerun of", el("span", { id: "lineage-rerun-of" }, ref(d.rerun_of))));
    const idText = JSON.stringify(/^\d+$/.test(d.id) ? Number(d.id) : d.id);
    if (d.children.length) box.append(row("Children", el("div", { id: "lineage-children" }, runList(d.children, d.children_more, "meta.parent.id == " + idText))));
    if (d.reruns.length) box.append(row("Reruns", el("div", { id: "lineage-reruns" }, runList(d.reruns, d.reruns_more, "meta.rerun_of.id == " + idText))));
    if (d.segments.length) box.append(row("Resumed", el("div", { id: "lineage-segments" }, segments(d.segments))));
  }

  return { show };
})();
