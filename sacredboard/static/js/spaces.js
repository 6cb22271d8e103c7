/* Search spaces (Labwatch): the list, and one space's summary, curve and top runs. */
"use strict";
(function () {
  const { el, api, url, clear, fmtValue, tree } = SB;
  const $ = id => document.getElementById(id);
  const space = document.body.dataset.space;

  async function list() {
    const ul = clear($("spaces"));
    const spaces = await api("/api/search_spaces");
    if (!spaces.length) ul.append(el("li", { class: "muted", text: "No run was started with a named config." }));
    for (const s of spaces) ul.append(el("li", {}, el("a", { href: url("/search_space/" + encodeURIComponent(s.name)), text: s.name }), ` (${s.runs} runs)`));
  }

  async function show() {
    let d;
    try { d = await api("/api/search_space/" + encodeURIComponent(space)); }
    catch (e) { $("space-summary").append(el("p", { class: "error", text: e.message })); return; }
    const counts = Object.entries(d.counts).map(([s, n]) => s + ": " + n).join(", ");
    $("space-summary").append(
      el("p", {}, "Runs: " + d.total + (counts ? " (" + counts + ")" : "")),
      el("p", {}, "Optimizer: " + (d.optimizer || "not recorded")),
      el("p", {}, "Best cost: " + (d.cost.n ? fmtValue(d.cost.min) + " of " + d.cost.n + " completed runs" : "no completed run yet")));
    const def = $("space-definition");
    if (d.definition) def.append(tree(d.definition, 2));
    else def.append(el("p", { class: "muted", text: "No stored definition; parameters that vary across its runs: " + (d.parameters.join(", ") || "none") }));
    const idx = d.curve.map(p => p.index);
    SBPlot.lines($("space-curve"), {
      series: [{ label: "cost", x: idx, y: d.curve.map(p => p.cost), color: "#999", width: 1 },
        { label: "best so far", x: idx, y: d.curve.map(p => p.best), color: "#d62728", width: 2 }],
      xLabel: "run (in start order)", yLabel: "cost",
    });
    const head = el("tr", {}, el("th", { text: "Run" }), el("th", { text: "Cost" }), ...d.parameters.map(p => el("th", { text: p })));
    const tb = el("tbody");
    for (const r of d.top) tb.append(el("tr", {}, el("td", {}, el("a", { href: url("/runs", { q: "_id == " + r.id }), text: r.id })),
      el("td", { class: "num", text: fmtValue(r.cost) }), ...d.parameters.map(p => el("td", { class: "num", text: fmtValue(r.config[p]) }))));
    $("space-top").append(el("table", { class: "runs" }, el("thead", {}, head), tb));
  }

  if (space) show(); else list();
})();
