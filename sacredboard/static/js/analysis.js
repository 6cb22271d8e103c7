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
    const chosen = $("analysis-fields").value.trim();
    try {
      // without chosen fields the server picks fields most runs have, and the two to scatter
      data = await api("/api/points", Object.assign({ fields: chosen, defaults: chosen ? "" : 1, list_metrics: 1 }, filter));
    } catch (e) { $("analysis-error").textContent = e.message; return; }
    if (!chosen) $("analysis-fields").value = data.fields.join(",");
    const hint = clear($("metric-fields"));
    if (data.metric_names.length) hint.append("metric summaries: " + data.metric_names.map(n => "metrics." + n + ".min|max|last").join(", "));
    const colors = data.states.map(s => STATE_COLORS[s] || "#1f77b4");
    const canvas = $("parallel");
    canvas.width = Math.max(600, Math.min(1360, canvas.parentElement.clientWidth - 4));
    SBPlot.parallel(canvas, data.fields, data.columns, colors);
    for (const id of ["scatter-x", "scatter-y"]) {
      const sel = clear($(id));
      for (const f of data.fields) sel.append(el("option", { value: f, text: f }));
    }
    if (data.scatter) { $("scatter-x").value = data.scatter[0]; $("scatter-y").value = data.scatter[1]; }
    else if (data.fields.length > 1) $("scatter-y").value = data.fields[data.fields.length - 1];
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
    const labels = SB.groupLabels(groups);
    for (const [i, g] of groups.entries()) {
      const r = g.result;
      body.append(el("tr", {},
        el("td", { text: g.experiment_name || "" }), el("td", {}, labels[i]),
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
