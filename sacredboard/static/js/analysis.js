/* Parallel coordinates, a config-vs-metric scatter plot and seed groups over filtered runs. */
"use strict";
(function () {
  const { el, api, url, clear, fmtValue, fmtShort, numCell, meanStd } = SB;
  const $ = id => document.getElementById(id);
  const STATE_COLORS = { RUNNING: "#1f77b4", COMPLETED: "#2ca02c", FAILED: "#d62728", INTERRUPTED: "#ff7f0e", TIMEOUT: "#9467bd", PROBABLY_DEAD: "#222", QUEUED: "#7f7f7f" };
  const params = new URLSearchParams(location.search);
  const filter = {};
  for (const k of ["queryFilter", "status", "q", "dead_after"]) if (params.get(k)) filter[k] = params.get(k);
  $("analysis-filter").textContent = Object.keys(filter).length ? Object.entries(filter).map(([k, v]) => k + "=" + v).join("  ") : "all runs";
  $("analysis-fields").value = params.get("fields") || "";
  let data = null;

  async function load() {
    $("analysis-error").textContent = "";
    try {
      data = await api("/api/points", Object.assign({ fields: $("analysis-fields").value, list_metrics: 1 }, filter));
    } catch (e) { $("analysis-error").textContent = e.message; return; }
    if (!$("analysis-fields").value && data.metric_names.length) {
      // by default: the varying config keys plus the minimum of the first metric
      $("analysis-fields").value = data.fields.concat(["metrics." + data.metric_names[0] + ".min"]).join(",");
      return load();
    }
    const hint = clear($("metric-fields"));
    if (data.metric_names.length) hint.append("metric summaries: " + data.metric_names.map(n => "metrics." + n + ".min|max|last").join(", "));
    const colors = data.states.map(s => STATE_COLORS[s] || "#1f77b4");
    SBPlot.parallel($("parallel"), data.fields, data.columns, colors);
    for (const id of ["scatter-x", "scatter-y"]) {
      const sel = clear($(id));
      for (const f of data.fields) sel.append(el("option", { value: f, text: f }));
    }
    if (data.fields.length > 1) $("scatter-y").value = data.fields[data.fields.length - 1];
    drawScatter();
    await loadGroups();
  }

  function drawScatter() {
    if (!data) return;
    const x = $("scatter-x").value, y = $("scatter-y").value;
    if (!x || !y) return;
    const pts = data.ids.map((id, i) => ({ x: data.columns[x][i], y: data.columns[y][i], label: id, color: STATE_COLORS[data.states[i]] }));
    SBPlot.scatter($("scatter"), pts, x, y);
  }

  async function loadGroups() {
    const groups = await api("/api/groups", filter);
    const body = clear($("groups-body"));
    for (const g of groups) {
      const r = g.result;
      body.append(el("tr", {},
        el("td", { text: g.experiment_name || "" }), el("td", { class: "mono", text: JSON.stringify(g.config) }),
        el("td", { class: "num", text: g.count }), el("td", { text: g.seeds.map(fmtValue).join(", ") }),
        el("td", Object.assign({ class: "num" }, meanStd(r))),
        numCell({ class: "num" }, r.min), numCell({ class: "num" }, r.max),
        el("td", { text: Object.entries(g.states).map(([s, n]) => s + ": " + n).join(", ") }),
        el("td", {}, el("a", { href: url("/compare", { ids: g.run_ids.join(","), bands: 1 }), text: "mean ± spread" }))));
    }
  }

  function pointAt(e) {
    const c = $("scatter"), r = c.getBoundingClientRect();
    const mx = (e.clientX - r.left) * c.width / r.width, my = (e.clientY - r.top) * c.height / r.height;
    return (c._points || []).find(p => Math.hypot(p.px - mx, p.py - my) < 6);
  }

  $("analysis-load").addEventListener("click", load);
  $("scatter-x").addEventListener("change", drawScatter);
  $("scatter-y").addEventListener("change", drawScatter);
  $("scatter").addEventListener("mousemove", e => {
    const hit = pointAt(e);
    $("scatter").title = hit ? "run " + hit.p.label + ": " + fmtShort(hit.p.x) + ", " + fmtShort(hit.p.y) + " (click: its page)" : "";
    $("scatter").style.cursor = hit ? "pointer" : "";
  });
  $("scatter").addEventListener("click", e => { const hit = pointAt(e); if (hit) location.href = SB.runUrl(hit.p.label); });
  load();
})();
