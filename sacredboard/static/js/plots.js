/* Line plots with uPlot (vendored). The server has already downsampled every series. */
"use strict";
const SBPlot = (function () {
  function positive(v) { return v !== null && isFinite(v) && v > 0; }

  /* opts: {series: [{label, x, y, color, width, dash}], bands: [{label, x, lo, hi, color}],
            xTime, logX, logY, yMode ("linear", "log" or "robust"), height, xLabel, yLabel}
     With yMode "robust" the y axis spans robustLimits of the values, and the points beyond
     it are marked on its edge (one marker series per run, "beyond the axis"). */
  function lines(container, opts) {
    if (container._plot) { container._plot.destroy(); container._plot = null; }
    SB.clear(container);
    const yMode = opts.yMode || (opts.logY ? "log" : "linear");
    const logY = yMode === "log";
    const topts = Object.assign({}, opts, { logY });
    const tables = [];
    const series = [{ label: opts.xLabel || (opts.xTime ? "time" : "step") }];
    const bands = [];
    for (const s of opts.series || []) {
      tables.push(table(s.x, s.y, topts));
      series.push({ label: s.label, stroke: s.color, width: s.width || 1.5, dash: s.dash, spanGaps: true, points: { show: false } });
    }
    for (const b of opts.bands || []) {
      tables.push(table(b.x, b.hi, topts));
      tables.push(table(b.x, b.lo, topts));
      const hi = series.length, lo = hi + 1;
      series.push({ label: b.label + " max", stroke: b.color, width: 0.5, spanGaps: true, points: { show: false } });
      series.push({ label: b.label + " min", stroke: b.color, width: 0.5, spanGaps: true, points: { show: false } });
      bands.push({ series: [hi, lo], fill: b.color + "33" });
    }
    if (!tables.length) {
      container.append(SB.el("p", { class: "muted", text: "Nothing to plot." }));
      return null;
    }
    let yScale = { distr: logY ? 3 : 1 };
    let clipped = 0;
    if (yMode === "robust") {
      const limits = robustLimits(tables.flatMap(t => t[1]));
      if (limits) {
        const pad = (limits.hi - limits.lo) * 0.04 || Math.abs(limits.hi) * 0.04 || 1;
        yScale = { distr: 1, range: [limits.lo - pad, limits.hi + pad] };
        // one marker series per drawn series with points beyond the limits, on the edge
        (opts.series || []).forEach((s, i) => {
          const [xs, ys] = tables[i];
          const edge = ys.map(v => (v === null || !isFinite(v) ? null : v > limits.hi ? limits.hi + pad : v < limits.lo ? limits.lo - pad : null));
          const n = edge.filter(v => v !== null).length;
          if (!n || /\(raw\)$/.test(s.label)) return;
          clipped += n;
          tables.push([xs, edge]);
          series.push({ label: s.label + " beyond the axis", stroke: s.color, fill: s.color, width: 0, paths: () => null,
            points: { show: true, size: 9, width: 1, stroke: "#000", fill: s.color, space: 0 } });
        });
      }
    }
    const data = tables.length === 1 ? tables[0] : uPlot.join(tables);
    const width = Math.max(300, (container.clientWidth || 800) - 10);
    const plot = new uPlot({
      width: width,
      height: opts.height || 320,
      series: series,
      bands: bands,
      scales: {
        x: { time: !!opts.xTime, distr: opts.logX ? 3 : 1 },
        y: yScale,
      },
      axes: [{ label: opts.xLabel || (opts.xTime ? "time" : "step") },
        Object.assign({ label: opts.yLabel || "value", values: (u, splits) => splits.map(v => (v === null ? "" : SB.fmtShort(v))), size: 70 },
          logY ? { splits: logSplits, incrs: LOG_INCRS, filter: (u, splits) => splits } : {})],
      legend: { show: true },
    }, data, container);
    plot.clippedPoints = clipped;
    container._plot = plot;
    return plot;
  }

  // uPlot looks for a tick increment before asking for ticks; its own stop at 1e16
  const LOG_INCRS = Array.from({ length: 601 }, (_, i) => Math.pow(10, i - 300));

  /* Ticks of a log axis: powers of ten, every k-th decade so that there are at most 8
     (uPlot's own give none over dozens of decades). */
  function logSplits(u, axisIdx, min, max) {
    if (!(min > 0 && max > 0)) return [];
    const a = Math.floor(Math.log10(min)), b = Math.ceil(Math.log10(max));
    const step = Math.max(1, Math.ceil((b - a) / 8));
    const mults = b - a <= 3 ? [1, 2, 5] : [1];  // few decades: 1, 2 and 5 of each
    const out = [];
    for (let e = Math.ceil(a / step) * step; e <= b; e += step) {
      for (const m of mults) {
        const v = m * Math.pow(10, e);
        if (v >= min * (1 - 1e-9) && v <= max * (1 + 1e-9)) out.push(v);
      }
    }
    return out.length ? out : [min, max];
  }

  function finiteSorted(values) {
    const v = [];
    for (const x of values) if (x !== null && x !== undefined && isFinite(x)) v.push(x);
    return v.sort((a, b) => a - b);
  }

  function quantile(sorted, q) {
    const pos = (sorted.length - 1) * q, lo = Math.floor(pos), hi = Math.ceil(pos);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
  }

  /* Robust y limits: the smallest and largest values whose magnitude is not far above
     the others'. Magnitudes are compared in decades (log10 |v|): a value more than 3
     interquartile ranges, and more than one decade, above the upper quartile is left out.
     So a diverged run (1e73) is left out, not the first steps of a falling loss. Null with
     fewer than 4 values; ``outside`` counts the values left out. */
  function robustLimits(values) {
    const v = finiteSorted(values);
    const mags = finiteSorted(v.filter(x => x !== 0).map(x => Math.log10(Math.abs(x))));
    if (v.length < 4 || mags.length < 4) return null;
    const q1 = quantile(mags, 0.25), q3 = quantile(mags, 0.75);
    const cut = q3 + Math.max(3 * (q3 - q1), 1);
    let lo = Infinity, hi = -Infinity, outside = 0;
    for (const x of v) {
      if (x !== 0 && Math.log10(Math.abs(x)) > cut) { outside++; continue; }
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
    return { lo, hi, outside };
  }

  /* The y axis "auto" chooses: log when all values are positive and span 2 to 12
     decades, robust limits when some values lie far outside the rest, else linear. */
  function chooseY(values) {
    const v = finiteSorted(values);
    if (!v.length) return { mode: "linear", why: "" };
    const min = v[0], max = v[v.length - 1];
    const decades = min > 0 ? Math.log10(max / min) : 0;
    if (min > 0 && decades >= 2 && decades <= 12) return { mode: "log", why: "the values span " + Math.round(decades) + " decades" };
    const limits = robustLimits(v);
    if (limits && limits.outside) return { mode: "robust", why: limits.outside + " values lie far outside the others" };
    return { mode: "linear", why: "" };
  }

  function table(x, y, opts) {
    const xs = [], ys = [];
    const pairs = [];
    for (let i = 0; i < x.length; i++) {
      if (x[i] === null || x[i] === undefined) continue;
      if (opts.logX && !positive(x[i])) continue;
      let v = y[i];
      if (opts.logY && !positive(v)) v = null;
      pairs.push([x[i], v]);
    }
    pairs.sort((a, b) => a[0] - b[0]);
    for (const [a, b] of pairs) {
      if (xs.length && xs[xs.length - 1] === a) { ys[ys.length - 1] = b; continue; }
      xs.push(a); ys.push(b);
    }
    return [xs, ys];
  }

  /* A small scatter plot on a canvas; points: [{x, y, label, color}] (numbers or strings). */
  function scatter(canvas, points, xName, yName) {
    const ctx = canvas.getContext("2d");
    const W = canvas.width, H = canvas.height, pad = 70;
    ctx.clearRect(0, 0, W, H);
    const xs = axis(points.map(p => p.x)), ys = axis(points.map(p => p.y));
    ctx.strokeStyle = "#999"; ctx.fillStyle = "#333"; ctx.font = "11px sans-serif";
    ctx.strokeRect(pad, 10, W - pad - 10, H - pad - 10);
    ctx.fillText(xName, W / 2, H - 8);
    ctx.save(); ctx.translate(12, H / 2); ctx.rotate(-Math.PI / 2); ctx.textAlign = "center"; ctx.fillText(yName, 0, 0); ctx.restore();
    for (const t of xs.ticks) ctx.fillText(t.label, pad + t.pos * (W - pad - 10) - 10, H - pad + 14);
    for (const t of ys.ticks) ctx.fillText(t.label, 24, H - pad - t.pos * (H - pad - 10) + 4);
    canvas._points = [];
    for (const p of points) {
      const fx = xs.pos(p.x), fy = ys.pos(p.y);
      if (fx === null || fy === null) continue;
      const px = pad + fx * (W - pad - 10), py = H - pad - fy * (H - pad - 10);
      ctx.fillStyle = p.color || "#1f77b4";
      ctx.beginPath(); ctx.arc(px, py, 4, 0, 2 * Math.PI); ctx.fill();
      canvas._points.push({ px, py, p });
    }
    return canvas._points.length;
  }

  /* A scale for mixed values: numbers linearly when more than half of the values are
     numbers (the others left out), else every value as a category. */
  function axis(values) {
    const nums = values.filter(v => typeof v === "number" && isFinite(v));
    if (nums.length && nums.length * 2 > values.filter(v => v !== null && v !== undefined).length) {
      let lo = Math.min(...nums), hi = Math.max(...nums);
      if (lo === hi) { lo -= 0.5; hi += 0.5; }
      const ticks = [0, 0.25, 0.5, 0.75, 1].map(f => ({ pos: f, label: SB.fmtValue(+(lo + f * (hi - lo)).toPrecision(3)) }));
      return { kind: "num", pos: v => (typeof v === "number" && isFinite(v) ? (v - lo) / (hi - lo) : null), ticks };
    }
    const cats = [...new Set(values.filter(v => v !== null && v !== undefined).map(v => SB.fmtValue(v)))].sort();
    const n = Math.max(cats.length - 1, 1);
    return {
      kind: "cat",
      pos: v => { const i = cats.indexOf(SB.fmtValue(v)); return v === null || v === undefined || i < 0 ? null : (cats.length === 1 ? 0.5 : i / n); },
      ticks: cats.slice(0, 12).map((c, i) => ({ pos: cats.length === 1 ? 0.5 : i / n, label: c.slice(0, 12) })),
    };
  }

  /* Parallel coordinates: one vertical axis per field, one line per run. */
  function parallel(canvas, fields, columns, colors) {
    const ctx = canvas.getContext("2d");
    const W = canvas.width, H = canvas.height, top = 30, bottom = 30;
    ctx.clearRect(0, 0, W, H);
    if (!fields.length) return 0;
    const scales = fields.map(f => axis(columns[f]));
    const xOf = i => 40 + (fields.length === 1 ? 0 : i * (W - 160) / (fields.length - 1));
    const yOf = f => H - bottom - f * (H - top - bottom);
    const n = columns[fields[0]].length;
    let drawn = 0;
    ctx.lineWidth = 1.2;
    for (let r = 0; r < n; r++) {
      ctx.strokeStyle = (colors && colors[r]) || "#1f77b4";
      ctx.globalAlpha = 0.6;
      ctx.beginPath();
      let started = false;
      fields.forEach((f, i) => {
        const p = scales[i].pos(columns[f][r]);
        if (p === null) { started = false; return; }
        if (!started) { ctx.moveTo(xOf(i), yOf(p)); started = true; } else ctx.lineTo(xOf(i), yOf(p));
      });
      ctx.stroke();
      drawn++;
    }
    ctx.globalAlpha = 1; ctx.strokeStyle = "#333"; ctx.fillStyle = "#333"; ctx.font = "11px sans-serif";
    fields.forEach((f, i) => {
      ctx.beginPath(); ctx.moveTo(xOf(i), top); ctx.lineTo(xOf(i), H - bottom); ctx.stroke();
      ctx.fillText(f, Math.max(0, Math.min(xOf(i) - 30, W - ctx.measureText(f).width - 4)), 14);
      for (const t of scales[i].ticks) ctx.fillText(t.label, xOf(i) + 3, yOf(t.pos) + 4);
    });
    return drawn;
  }

  return { lines, scatter, parallel, axis, robustLimits, chooseY };
})();
