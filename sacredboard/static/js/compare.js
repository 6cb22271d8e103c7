/* Compare N runs: overlaid metrics (smoothing, bands), differing config keys, 2-way diffs. */
"use strict";
(function () {
  const { el, api, url, clear, numCell, stateGlyph } = SB;
  const $ = id => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  let data = null;
  const cache = {};

  $("compare-ids").value = params.get("ids") || "";
  $("compare-bands").checked = params.get("bands") === "1";
  if (["linear", "log", "robust"].includes(params.get("y"))) $("compare-y").value = params.get("y");
  $("compare-load").addEventListener("click", () => {
    writeUrl();
    load();
  });
  $("compare-y").addEventListener("change", writeUrl);

  function writeUrl() {
    const p = new URLSearchParams({ ids: $("compare-ids").value.replace(/\s+/g, "") });
    if ($("compare-bands").checked) p.set("bands", "1");
    if ($("compare-y").value !== "auto") p.set("y", $("compare-y").value);
    history.replaceState(null, "", location.pathname + "?" + p);
  }

  /* The y axis: the one chosen, or for "auto" the one chooseY picks (said beside it). */
  function yMode(values) {
    const asked = $("compare-y").value;
    let mode = asked, why = "";
    if (asked === "auto") ({ mode, why } = SBPlot.chooseY(values));
    $("compare-y-note").textContent = asked === "auto" ? "→ " + mode + (why ? " (" + why + ")" : "") : "";
    return mode;
  }

  function noteClipped(plot) {
    if (plot && plot.clippedPoints) $("compare-y-note").textContent += " · " + plot.clippedPoints + " points beyond the axis, marked on its edge";
  }
  for (const id of ["compare-metric", "compare-x", "compare-y", "compare-bands"]) $(id).addEventListener("change", draw);
  $("compare-smooth").addEventListener("input", () => { $("smooth-value").textContent = $("compare-smooth").value; draw(); });
  $("diff-load").addEventListener("click", loadDiff);

  function color(i) { return SB.COLORS[i % SB.COLORS.length]; }

  async function load() {
    $("compare-error").textContent = "";
    const ids = $("compare-ids").value.replace(/\s+/g, "");
    if (!ids) { $("compare-error").textContent = "Select runs in the table, or type their ids."; return; }
    try { data = await api("/api/compare", { ids }); } catch (e) { $("compare-error").textContent = e.message; return; }
    const runs = clear($("compare-runs"));
    const table = el("table", { class: "runs" }, el("thead", {}, el("tr", {},
      ...["", "Id", "Experiment", "Status", "Result", "Tags"].map(h => el("th", { text: h })))));
    const tb = el("tbody");
    data.runs.forEach((r, i) => tb.append(el("tr", {},
      el("td", {}, el("span", { class: "glyph", style: "background:" + color(i) })),
      el("td", {}, el("a", { class: "run-link", href: SB.runUrl(r.id), text: r.id })), el("td", { text: r.experiment_name || "" }),
      el("td", {}, stateGlyph(r.live_state), r.live_state || ""), numCell({ class: "num" }, r.result),
      el("td", { text: (r.tags || []).join(", ") }))));
    table.append(tb);
    runs.append(table);
    // metrics: every name any run has
    const names = [...new Set(Object.values(data.metrics).flat())].sort();
    const sel = clear($("compare-metric"));
    for (const n of names) sel.append(el("option", { value: n, text: n }));
    renderConfigDiff();
    for (const s of [clear($("diff-a")), clear($("diff-b"))]) {
      data.runs.forEach(r => s.append(el("option", { value: r.id, text: "run " + r.id })));
    }
    if (data.runs.length > 1) $("diff-b").value = data.runs[1].id;
    await refreshSourceChoices();
    $("diff-a").onchange = refreshSourceChoices; $("diff-b").onchange = refreshSourceChoices;
    await draw();
    if (data.runs.length === 2) await loadDiff();
  }

  async function refreshSourceChoices() {
    const what = clear($("diff-what"));
    what.append(el("option", { value: "captured_out", text: "captured output" }));
    const names = new Set();
    for (const r of data.runs) if (r.id === $("diff-a").value || r.id === $("diff-b").value) r.sources.forEach(s => names.add(s.filename));
    for (const n of [...names].sort()) what.append(el("option", { value: "source:" + n, text: "source " + n }));
  }

  function renderConfigDiff() {
    const box = clear($("config-diff"));
    if (!data.config_diff.length) { box.append(el("p", { class: "muted", text: "The configs are the same." })); return; }
    const head = el("tr", {}, el("th", { text: "key" }), ...data.runs.map((r, i) => el("th", {}, el("span", { class: "glyph", style: "background:" + color(i) }), "run " + r.id)));
    const tb = el("tbody");
    for (const row of data.config_diff) {
      tb.append(el("tr", {}, el("td", { class: "mono", text: row.key }),
        ...data.runs.map(r => row.missing.includes(r.id) ? el("td", { class: "diff-cell mono", text: "—" }) : numCell({ class: "diff-cell mono" }, row.values[r.id]))));
    }
    box.append(el("table", { class: "runs", id: "config-diff-table" }, el("thead", {}, head), tb));
  }

  async function metric(id, name, width) {
    const key = id + "/" + name + "@" + width;
    if (!cache[key]) {
      try { cache[key] = await api("/api/run/" + encodeURIComponent(id) + "/metric/" + encodeURIComponent(name), { width }); }
      catch (e) { cache[key] = null; }
    }
    return cache[key];
  }

  async function draw() {
    if (!data) return;
    const name = $("compare-metric").value;
    const box = $("compare-plot");
    if (!name) { clear(box).append(el("p", { class: "muted", text: "These runs logged no metrics." })); return; }
    const xTime = $("compare-x").value === "time";
    const weight = parseFloat($("compare-smooth").value) || 0;
    const width = Math.max(300, box.clientWidth || 800);
    if ($("compare-bands").checked) {
      const agg = await api("/api/groups/metric", { ids: data.runs.map(r => r.id).join(","), name, width });
      noteClipped(SBPlot.lines(box, {
        series: [{ label: name + " mean (" + agg.runs + " runs)", x: agg.steps, y: SB.smooth(agg.mean, weight), color: color(0), width: 2 }],
        bands: [{ label: name, x: agg.steps, lo: agg.min, hi: agg.max, color: color(0) },
          { label: name + " ±std", x: agg.steps, lo: agg.mean.map((m, i) => m - agg.std[i]), hi: agg.mean.map((m, i) => m + agg.std[i]), color: color(1) }],
        yMode: yMode(agg.min.concat(agg.max)),
      }));
      return;
    }
    const series = [];
    for (const [i, r] of data.runs.entries()) {
      const d = await metric(r.id, name, width);
      if (!d) continue;
      const x = xTime ? d.timestamps : d.steps;
      if (weight) series.push({ label: "run " + r.id + " (raw)", x, y: d.values, color: color(i) + "55", width: 1 });
      series.push({ label: "run " + r.id, x, y: SB.smooth(d.values, weight), color: color(i), width: 2 });
    }
    noteClipped(SBPlot.lines(box, { series, xTime, yMode: yMode(series.flatMap(s => s.y)) }));
  }

  async function loadDiff() {
    const box = clear($("diff-view"));
    try {
      const d = await api("/api/diff", { a: $("diff-a").value, b: $("diff-b").value, what: $("diff-what").value });
      const grid = el("div", { class: "diff" });
      grid.append(el("div", { class: "muted", text: "run " + d.a }), el("div", { class: "muted", text: "run " + d.b }));
      for (const row of d.rows) {
        const n = Math.max(row.left.length, row.right.length);
        for (let i = 0; i < n; i++) {
          const l = row.left[i], r = row.right[i];
          const lc = row.op === "replace" ? "replace-l" : row.op, rc = row.op === "replace" ? "replace-r" : row.op;
          grid.append(el("div", { class: l ? lc : "" }, l ? el("span", { class: "ln", text: l[0] }) : "", l ? l[1] : ""),
            el("div", { class: r ? rc : "" }, r ? el("span", { class: "ln", text: r[0] }) : "", r ? r[1] : ""));
        }
      }
      box.append(grid);
    } catch (e) { box.append(el("p", { class: "error", text: e.message })); }
  }

  if ($("compare-ids").value) load();
})();
