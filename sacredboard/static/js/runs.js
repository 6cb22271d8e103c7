/* The run table: filters, columns, sort, paging, auto-refresh; all of it kept in the URL. */
"use strict";
(function () {
  const { el, api, url, clear, fmtTime, fmtDuration, fmtValue, numCell, meanStd, stateGlyph, toast } = SB;
  const $ = id => document.getElementById(id);
  const STATES = ["RUNNING", "COMPLETED", "FAILED", "INTERRUPTED", "TIMEOUT", "PROBABLY_DEAD", "QUEUED"];

  const BASE = [
    { key: "id", label: "Id", sort: "_id", num: true,
      cell: r => el("a", { class: "run-link", href: SB.runUrl(r.id), text: r.id, title: "open run " + r.id + "'s page", onclick: e => e.stopPropagation() }) },
    { key: "experiment_name", label: "Experiment name", sort: "experiment.name", cell: r => r.experiment_name, glyph: true },
    { key: "command", label: "Command", sort: "command", cell: r => r.command },
    { key: "start_time", label: "Start time", sort: "start_time", cell: r => fmtTime(r.start_time_iso), cls: "time" },
    { key: "heartbeat", label: "Last activity", sort: "heartbeat", cell: r => fmtTime(r.heartbeat_iso), cls: "time" },
    { key: "duration", label: "Duration", sort: null, cell: r => fmtDuration(r.duration) },
    { key: "hostname", label: "Hostname", sort: "host.hostname", cell: r => r.hostname },
    { key: "result", label: "Result", sort: "result", value: r => r.result, num: true },
    { key: "tags", label: "Tags", sort: null, cell: r => (r.tags || []).join(", ") },
  ];

  /* ---------------------------------------------------------------- state <-> URL */
  const state = readUrl();
  const selected = new Set();
  const openDetails = new Map();  // run id -> {tr, handle}
  const auto = { key: null, cols: [] };  // the default columns, and the filters they are for
  let timer = null;

  function readUrl() {
    const p = new URLSearchParams(location.search);
    let filters = [];
    try { filters = JSON.parse(p.get("filters") || "[]"); } catch (e) { filters = []; }
    if (!Array.isArray(filters)) filters = [];
    const status = p.has("status") ? p.get("status").split(",").filter(Boolean) : STATES.slice();
    return {
      filters, status,
      q: p.get("q") || "",
      // null: the default columns (config values that differ between the listed runs)
      cols: p.has("cols") ? p.get("cols").split(",").filter(Boolean) : null,
      sort: p.get("sort") || "-heartbeat",
      page: Math.max(0, parseInt(p.get("page") || "0", 10) || 0),
      len: parseInt(p.get("len") || "25", 10) || 25,
      group: p.get("group") === "1",
      refresh: parseInt(p.get("refresh") || "0", 10) || 0,
      deadAfter: parseFloat(p.get("dead_after") || "") || SB.settings.deadAfter,
    };
  }

  function writeUrl() {
    const p = new URLSearchParams();
    if (state.filters.length) p.set("filters", JSON.stringify(state.filters));
    if (state.status.length !== STATES.length) p.set("status", state.status.join(",") || ",");
    if (state.q) p.set("q", state.q);
    if (state.cols !== null) p.set("cols", state.cols.join(","));
    if (state.sort !== "-heartbeat") p.set("sort", state.sort);
    if (state.page) p.set("page", state.page);
    if (state.len !== 25) p.set("len", state.len);
    if (state.group) p.set("group", "1");
    if (state.refresh) p.set("refresh", state.refresh);
    if (state.deadAfter !== SB.settings.deadAfter) p.set("dead_after", state.deadAfter);
    const s = p.toString();
    history.replaceState(null, "", location.pathname + (s ? "?" + s : ""));
  }

  /* The query parameters of the API that select the runs (shared by table, export, plots). */
  function queryParams() {
    return {
      queryFilter: JSON.stringify({ type: "and", filters: state.filters }),
      status: state.status.length === STATES.length ? "" : (state.status.join(",") || ","),
      q: state.q,
      dead_after: state.deadAfter,
    };
  }

  /* ---------------------------------------------------------------- controls */
  function initControls() {
    for (const box of $("status-filter").querySelectorAll("input[type=checkbox]")) {
      box.checked = state.status.includes(box.value);
      box.addEventListener("change", () => {
        state.status = [...$("status-filter").querySelectorAll("input:checked")].map(b => b.value);
        state.page = 0; reload();
      });
    }
    $("dead-after").value = state.deadAfter;
    $("dead-after").addEventListener("change", () => {
      const v = parseFloat($("dead-after").value);
      if (v > 0) { state.deadAfter = v; reload(); }
    });
    const field = $("filter-field"), op = $("filter-op"), value = $("filter-value"), add = $("filter-add");
    function validate() {
      $("field-prefix").textContent = field.value.startsWith(".") ? "" : "config.";
      let msg = "", parsed;
      if (!field.value.trim()) msg = "";
      try { parsed = JSON.parse(value.value); } catch (e) { msg = value.value ? 'The value must be a number or a "quoted string".' : ""; }
      if (parsed !== undefined && typeof parsed !== "string" && typeof parsed !== "number") msg = 'The value must be a number or a "quoted string".';
      if (op.value === "regex" && parsed !== undefined && typeof parsed !== "string") msg = "A regex must be a quoted string.";
      $("filter-error").textContent = msg;
      add.disabled = !!msg || !field.value.trim() || parsed === undefined;
      return parsed;
    }
    for (const x of [field, op, value]) { x.addEventListener("input", validate); x.addEventListener("change", validate); }
    value.addEventListener("keydown", e => { if (e.key === "Enter" && !add.disabled) add.click(); });
    add.addEventListener("click", () => {
      const parsed = validate();
      const name = field.value.trim();
      state.filters.push({ field: name.startsWith(".") ? name : "config." + name, operator: op.value, value: parsed });
      field.value = ""; value.value = ""; validate();
      state.page = 0; reload();
    });
    $("query").value = state.q;
    $("query-apply").addEventListener("click", () => { state.q = $("query").value.trim(); state.page = 0; reload(); });
    $("query").addEventListener("keydown", e => { if (e.key === "Enter") $("query-apply").click(); });
    $("column-add").addEventListener("click", () => {
      const path = $("column-path").value.trim();
      state.cols = shownCols();
      if (path && !state.cols.includes(path)) state.cols.push(path);
      $("column-path").value = "";
      reload();
    });
    $("column-path").addEventListener("keydown", e => { if (e.key === "Enter") $("column-add").click(); });
    $("column-config").addEventListener("click", async () => {
      try {
        const d = await api("/api/points", Object.assign({ limit: 1000 }, queryParams()));
        state.cols = shownCols();
        for (const f of d.fields) if (!state.cols.includes(f)) state.cols.push(f);
        reload();
      } catch (e) { $("query-error").textContent = e.message; }
    });
    $("refresh").addEventListener("click", reload);
    $("auto-refresh").checked = state.refresh > 0;
    if (state.refresh) $("refresh-every").value = state.refresh;
    $("auto-refresh").addEventListener("change", setTimer);
    $("refresh-every").addEventListener("change", setTimer);
    $("group-seeds").checked = state.group;
    $("group-seeds").addEventListener("change", () => { state.group = $("group-seeds").checked; reload(); });
    $("page-size").value = String(state.len);
    $("page-size").addEventListener("change", () => { state.len = parseInt($("page-size").value, 10); state.page = 0; reload(); });
    $("prev").addEventListener("click", () => { if (state.page > 0) { state.page--; reload(); } });
    $("next").addEventListener("click", () => { state.page++; reload(); });
    $("compare-selected").addEventListener("click", () => {
      location.href = url("/compare", { ids: [...selected].join(",") });
    });
    setTimer();
  }

  function setTimer() {
    clearInterval(timer);
    state.refresh = $("auto-refresh").checked ? Math.max(2, parseInt($("refresh-every").value, 10) || 10) : 0;
    if (state.refresh) timer = setInterval(reload, state.refresh * 1000);
    writeUrl();
  }

  function renderChips() {
    const chips = clear($("filter-chips"));
    state.filters.forEach((f, i) => {
      chips.append(el("span", { class: "chip" }, `${f.field} ${f.operator} ${JSON.stringify(f.value)}`,
        el("a", { title: "remove", text: "[X]", onclick: () => { state.filters.splice(i, 1); state.page = 0; reload(); } })));
    });
    const cchips = clear($("column-chips"));
    shownCols().forEach((c, i) => {
      cchips.append(el("span", { class: "chip" + (state.cols === null ? " auto" : ""), title: state.cols === null ? "shown by default: its value differs between the listed runs" : null }, c,
        el("a", { title: "remove column", text: "[X]", onclick: () => { state.cols = shownCols(); state.cols.splice(i, 1); reload(); } })));
    });
    const params = queryParams();
    const cols = shownCols().join(",");
    $("export-csv").href = url("/api/export", Object.assign({ format: "csv", sort: state.sort, cols }, params));
    $("export-json").href = url("/api/export", Object.assign({ format: "json", sort: state.sort, cols }, params));
    $("analysis-link").href = url("/analysis", params);
  }

  /* ---------------------------------------------------------------- table */
  function columns() {
    return BASE.concat(shownCols().map(c => ({ key: c, label: c, sort: c, value: r => (r.columns || {})[c], num: true })));
  }

  /* The extra columns shown: the chosen ones, else the default ones of the current filters. */
  function shownCols() {
    if (state.cols !== null) return state.cols.slice();
    return auto.key === JSON.stringify(queryParams()) ? auto.cols.slice() : [];
  }

  function renderHead() {
    const head = clear($("runs-head"));
    head.append(el("th", { text: "" }));
    const sortField = state.sort.replace(/^-/, "");
    for (const c of columns()) {
      const cls = c.sort && c.sort === sortField ? (state.sort.startsWith("-") ? "sorted-desc" : "sorted-asc") : "";
      head.append(el("th", { class: cls, "data-col": c.key, text: c.label, onclick: c.sort ? () => {
        state.sort = (sortField === c.sort && !state.sort.startsWith("-") ? "-" : "") + c.sort;
        reload();
      } : null }));
    }
  }

  async function reload() {
    writeUrl();
    renderChips();
    $("query-error").textContent = "";
    try {
      if (state.group) await loadGroups(); else await loadRuns();
      $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    } catch (e) {
      $("query-error").textContent = e.message;
    }
  }

  async function loadRuns() {
    // without chosen columns, the server picks the default ones once per set of filters
    const key = JSON.stringify(queryParams());
    const needAuto = state.cols === null && auto.key !== key;
    const params = Object.assign({
      draw: 1, start: state.page * state.len, length: state.len, sort: state.sort,
      cols: needAuto ? "" : shownCols().join(","), auto_cols: needAuto ? 1 : "",
    }, queryParams());
    const data = await api("/api/run", params);
    if (needAuto) { auto.key = key; auto.cols = data.auto_cols || []; renderChips(); }
    renderHead();
    const body = clear($("runs-body"));
    const cols = columns();
    for (const r of data.data) {
      const tr = el("tr", { class: "run-row", "data-id": r.id });
      const box = el("input", { type: "checkbox", checked: selected.has(r.id), onclick: e => e.stopPropagation(),
        onchange: e => { if (e.target.checked) selected.add(r.id); else selected.delete(r.id); updateCompare(); } });
      tr.append(el("td", {}, box));
      for (const c of cols) {
        if (c.value) {  // a value: its short form, the whole of it on hover
          tr.append(numCell({ class: "num" }, c.value(r)));
          continue;
        }
        const td = el("td", { class: c.num ? "num" : (c.cls || "") });
        if (c.glyph) td.append(stateGlyph(r.live_state));
        td.append(c.cell(r) || "");
        tr.append(td);
      }
      tr.addEventListener("click", () => toggleDetail(r.id, tr, cols.length + 1));
      body.append(tr);
      const open = openDetails.get(r.id);
      if (open) body.append(open.tr);
    }
    const pages = Math.max(1, Math.ceil(data.recordsFiltered / state.len));
    $("page-info").textContent = `page ${state.page + 1} of ${pages} · ${data.recordsFiltered} of ${data.runs_total} runs`;
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page + 1 >= pages;
    updateCompare();
  }

  function toggleDetail(id, tr, span) {
    const open = openDetails.get(id);
    if (open) { open.handle.close(); open.tr.remove(); openDetails.delete(id); return; }
    const td = el("td", { colspan: span });
    const dtr = el("tr", { class: "detail-row", "data-detail": id }, td);
    tr.after(dtr);
    const handle = SBDetail.open(td, id, {
      onDeleted: rid => { const o = openDetails.get(rid); if (o) { o.tr.remove(); openDetails.delete(rid); } tr.remove(); selected.delete(rid); },
    });
    openDetails.set(id, { tr: dtr, handle });
  }

  function updateCompare() {
    $("compare-selected").disabled = selected.size < 2;
    $("compare-selected").textContent = `Compare selected (${selected.size})`;
  }

  async function loadGroups() {
    const head = clear($("runs-head"));
    for (const h of ["Experiment", "Config (without seed)", "Runs", "Seeds", "Result mean ± std", "min", "max", ""]) head.append(el("th", { text: h }));
    const groups = await api("/api/groups", Object.assign({ sort: state.sort }, queryParams()));
    const body = clear($("runs-body"));
    const labels = SB.groupLabels(groups);
    for (const [i, g] of groups.entries()) {
      const r = g.result;
      body.append(el("tr", { class: "group-row" },
        el("td", { text: g.experiment_name || "" }),
        el("td", {}, labels[i]),
        el("td", { class: "num", text: g.count }),
        el("td", { text: g.seeds.map(fmtValue).join(", ") }),
        el("td", Object.assign({ class: "num" }, meanStd(r))),
        numCell({ class: "num" }, r.min),
        numCell({ class: "num" }, r.max),
        el("td", {}, el("a", { href: url("/compare", { ids: g.run_ids.join(","), bands: 1 }), text: "plots" }))));
    }
    $("page-info").textContent = `${groups.length} groups`;
  }

  initControls();
  reload();
})();
