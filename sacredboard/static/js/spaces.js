/* Search spaces (Labwatch): the list, and one space's summary, curve, top runs, cost against
   each parameter, parallel coordinates and parameter importance. */
"use strict";
(function () {
  const { el, api, url, clear, fmtShort, numCell, tree } = SB;
  const $ = id => document.getElementById(id);
  const space = document.body.dataset.space;

  async function list() {
    const ul = clear($("spaces"));
    const spaces = await api("/api/search_spaces");
    if (!spaces.length) ul.append(el("li", { class: "muted", text: "No run was started with a named config." }));
    for (const s of spaces) ul.append(el("li", {}, el("a", { href: url("/search_space/" + encodeURIComponent(s.name)), text: s.name }), ` (${s.runs} runs)`));
  }

  /* Darker for cheaper runs (rank 0 is the best), the best run in red. */
  function colours(points) {
    const order = points.map((p, i) => i).sort((a, b) => points[a].cost - points[b].cost);
    const out = new Array(points.length);
    const n = Math.max(points.length - 1, 1);
    order.forEach((i, rank) => { out[i] = rank === 0 ? "#d62728" : `hsl(215, 70%, ${22 + 58 * rank / n}%)`; });
    return out;
  }

  function shown(cost, log) { return log ? (cost > 0 ? Math.log10(cost) : null) : cost; }

  function drawCurve(d, log) {
    const idx = d.curve.map(p => p.index);
    SBPlot.lines($("space-curve"), {
      series: [{ label: "cost", x: idx, y: d.curve.map(p => p.cost), color: "#999", width: 1 },
        { label: "best so far", x: idx, y: d.curve.map(p => p.best), color: "#d62728", width: 2 }],
      xLabel: "run (in start order)", yLabel: log ? "cost (log scale)" : "cost", logY: log,
    });
  }

  function drawScatters(d, log, colour) {
    const box = clear($("space-scatter"));
    const yName = log ? "log10 cost" : "cost";
    for (const p of d.parameters) {
      const canvas = el("canvas", { class: "canvas-plot", width: 360, height: 260, "data-parameter": p });
      box.append(el("div", {}, el("div", { class: "mono", text: p }), canvas));
      SBPlot.scatter(canvas, d.points.map((pt, i) => ({ x: pt.values[p], y: shown(pt.cost, log), color: colour[i] })), p, yName);
    }
    if (!d.parameters.length || !d.points.length) box.append(el("p", { class: "muted", text: "No completed run with parameters yet." }));
  }

  function drawParallel(d, log, colour) {
    const costName = log ? "log10 cost" : "cost";
    const columns = { [costName]: d.points.map(pt => shown(pt.cost, log)) };
    for (const p of d.parameters) columns[p] = d.points.map(pt => pt.values[p]);
    SBPlot.parallel($("space-parallel"), [...d.parameters, costName], columns, colour);
  }

  function drawImportance(d) {
    const box = clear($("space-importance"));
    if (!d.importance.length) { box.append(el("p", { class: "muted", text: "Not enough completed runs yet." })); return; }
    const tb = el("tbody");
    for (const e of d.importance) {
      const pct = Math.round(100 * e.explained);
      tb.append(el("tr", {}, el("td", { class: "mono", text: e.parameter }), el("td", { class: "num", text: pct + " %" }),
        el("td", {}, el("div", { style: `background:#1f77b4;height:10px;width:${2 * pct}px` })),
        el("td", { class: "muted", text: `${e.runs} runs in ${e.groups} groups` })));
    }
    box.append(el("table", { class: "runs" }, el("thead", {}, el("tr", {}, el("th", { text: "Parameter" }), el("th", { text: "Variance explained" }), el("th"), el("th"))), tb));
  }

  async function show() {
    let d;
    try { d = await api("/api/search_space/" + encodeURIComponent(space)); }
    catch (e) { $("space-summary").append(el("p", { class: "error", text: e.message })); return; }
    const counts = Object.entries(d.counts).map(([s, n]) => s + ": " + n).join(", ");
    $("space-summary").append(
      el("p", {}, "Runs: " + d.total + (counts ? " (" + counts + ")" : "")),
      el("p", {}, "Optimizer: " + (d.optimizer || "not recorded")),
      el("p", {}, "Best cost: " + (d.cost.n ? fmtShort(d.cost.min) + " of " + d.cost.n + " completed runs" : "no completed run yet")));
    const def = $("space-definition");
    if (d.definition) def.append(tree(d.definition, 2));
    else def.append(el("p", { class: "muted", text: "No stored definition; parameters that vary across its runs: " + (d.parameters.join(", ") || "none") }));
    const head = el("tr", {}, el("th", { text: "Run" }), el("th", { text: "Cost" }), ...d.parameters.map(p => el("th", { text: p })));
    const tb = el("tbody");
    for (const r of d.top) tb.append(el("tr", {}, el("td", {}, el("a", { class: "run-link", href: SB.runUrl(r.id), text: r.id })),
      numCell({ class: "num" }, r.cost), ...d.parameters.map(p => numCell({ class: "num" }, r.config[p]))));
    $("space-top").append(el("table", { class: "runs" }, el("thead", {}, head), tb));

    const colour = colours(d.points);
    const box = $("space-log");
    box.checked = !!d.log_scale;
    $("space-log-note").textContent = d.log_scale ? "(chosen because the costs span several decades)" : "";
    const positive = d.cost.n && d.cost.min > 0;
    box.disabled = !positive;
    if (!positive && d.cost.n) $("space-log-note").textContent = "(not available: some costs are not positive)";
    const draw = () => { drawCurve(d, box.checked); drawScatters(d, box.checked, colour); drawParallel(d, box.checked, colour); };
    box.addEventListener("change", draw);
    draw();
    drawImportance(d);
  }

  if (space) show(); else list();
})();
