/* The expandable detail view of one run. */
"use strict";
const SBDetail = (function () {
  const { el, api, url, clear, tree, toast } = SB;

  /* callbacks: {tab: the tab to open first, onTab(tab): a tab was chosen, onLoaded(row, obj),
     onDeleted(runId), page: true on the run's own page (no link to it)} */
  function open(container, runId, callbacks) {
    callbacks = callbacks || {};
    const state = { runId, timer: null, closed: false, offset: 0, tab: null, obj: null, row: null };
    clear(container);
    container.append(el("p", { class: "muted", text: "Loading run " + runId + "…" }));
    api("/api/run/" + encodeURIComponent(runId)).then(data => {
      if (state.closed) return;
      state.obj = data.data[0].object;
      state.row = data.data[0];
      state.tab = firstTab(state.obj, state.row, callbacks.tab);
      render(container, state, callbacks);
      if (callbacks.onLoaded) callbacks.onLoaded(state.row, state.obj);
      if (state.row.live_state === "RUNNING") state.timer = setInterval(() => poll(state), 5000);
    }).catch(e => { clear(container); container.append(el("p", { class: "error", text: e.message })); });
    return { close() { state.closed = true; clearInterval(state.timer); stopTail(state); } };
  }

  const TABS = [
    ["config", "Config"], ["info", "Run info"], ["output", "Captured output"], ["fail", "Fail trace"],
    ["result", "Result"], ["experiment", "Experiment"], ["meta", "Meta info"], ["host", "Host info"],
    ["tensorflow", "Tensorflow logs"], ["metrics", "Metrics plots"], ["artifacts", "Artifacts"],
    ["sources", "Sources"], ["notes", "Tags & notes"],
  ];

  function hasTensorflowLogs(obj) {
    const dirs = ((obj.info || {}).tensorflow || {}).logdirs;
    return Array.isArray(dirs) && dirs.length > 0;
  }

  /* The tabs this run has: Fail trace only with a fail trace, Tensorflow logs only with
     log directories. */
  function tabsOf(obj) {
    return TABS.filter(([key]) => (key !== "fail" || !!obj.fail_trace) && (key !== "tensorflow" || hasTensorflowLogs(obj)));
  }

  /* The asked tab if the run has it; else a failed run opens on its fail trace. */
  function firstTab(obj, row, asked) {
    const keys = tabsOf(obj).map(([key]) => key);
    if (asked && keys.includes(asked)) return asked;
    if (row.status === "FAILED" && keys.includes("fail")) return "fail";
    return "config";
  }

  function render(container, state, callbacks) {
    clear(container);
    const obj = state.obj;
    const tabs = el("div", { class: "tabs" });
    const pane = el("div", { class: "pane" });
    for (const [key, label] of tabsOf(obj)) {
      const b = el("button", { "data-tab": key, text: label, onclick: () => { state.tab = key; show(); } });
      tabs.append(b);
    }
    const pageLink = callbacks.page ? null : el("a", { class: "run-link", title: "This run's own page (a link to share)", text: "run page ↗" });
    if (pageLink) tabs.append(pageLink);
    tabs.append(el("button", {
      class: "danger", text: "DELETE", title: SB.settings.allowWrite ? "Delete this run" : "Deleting is disabled on this server",
      onclick: () => del(state, callbacks),
    }));
    function show() {
      for (const b of tabs.querySelectorAll("button[data-tab]")) b.classList.toggle("active", b.dataset.tab === state.tab);
      if (pageLink) pageLink.href = SB.runUrl(state.runId, state.tab);
      clear(pane);
      stopTail(state);
      renderTab(pane, state);
      if (callbacks.onTab) callbacks.onTab(state.tab);
    }
    container.append(tabs, pane);
    show();
  }

  function renderTab(pane, state) {
    const obj = state.obj;
    const id = state.runId;
    switch (state.tab) {
      case "config": pane.append(tree(obj.config || {}, 1)); break;
      case "info": pane.append(tree(obj.info || {}, 1)); break;
      case "result": pane.append(tree({ result: obj.result === undefined ? null : obj.result }, 3)); break;
      case "experiment": pane.append(tree(obj.experiment || {}, 1)); break;
      case "meta": pane.append(tree(obj.meta || {}, 1)); break;
      case "host": pane.append(tree(obj.host || {}, 1)); break;
      case "fail": pane.append(el("pre", { class: "output", text: Array.isArray(obj.fail_trace) ? obj.fail_trace.join("") : String(obj.fail_trace || "") })); break;
      case "output": renderOutput(pane, state); break;
      case "tensorflow": renderTensorflow(pane, state); break;
      case "metrics": renderMetrics(pane, id); break;
      case "artifacts": renderFiles(pane, id, state.row.artifacts, "/api/artifacts/"); break;
      case "sources": renderFiles(pane, id, state.row.sources, "/api/sources/"); break;
      case "notes": renderNotes(pane, state); break;
    }
  }

  function renderOutput(pane, state) {
    const alive = state.row.live_state === "RUNNING";
    const keep = el("input", { type: "checkbox", checked: alive });
    const pre = el("pre", { class: "output", text: state.obj.captured_out || "" });
    const outputUrl = "/api/run/" + encodeURIComponent(state.runId) + "/output";
    let start = state.obj.captured_out_offset || 0;  // the detail carries the output's end only
    state.offset = start + (state.obj.captured_out || "").length;
    const earlier = el("button", { type: "button", class: "link", text: "Show earlier output" });
    earlier.addEventListener("click", async () => {
      const from = Math.max(0, start - 1048576);
      const d = await api(outputUrl, { offset: from, limit: start - from });
      pre.prepend(d.text);
      start = from;
      if (start === 0) earlier.remove();
    });
    pane.append(el("label", {}, keep, " Keep scrolling down"), alive ? el("span", { class: "muted", text: " (live)" }) : "",
      start > 0 ? el("p", {}, el("span", { class: "muted", text: `The first ${start.toLocaleString()} characters are not shown. ` }), earlier) : "", pre);
    if (keep.checked) pre.scrollTop = pre.scrollHeight;
    if (alive) {
      state.tail = setInterval(async () => {
        try {
          const d = await api(outputUrl, { offset: state.offset });
          if (d.offset === 0 && state.offset > 0) { pre.textContent = ""; start = 0; earlier.remove(); }
          pre.append(d.text);
          state.offset = d.next;
          if (keep.checked) pre.scrollTop = pre.scrollHeight;
          if (d.live_state !== "RUNNING") stopTail(state);
        } catch (e) { stopTail(state); }
      }, 2000);
    }
  }

  function stopTail(state) { if (state.tail) { clearInterval(state.tail); state.tail = null; } }

  function renderTensorflow(pane, state) {
    const dirs = ((state.obj.info || {}).tensorflow || {}).logdirs || [];
    if (!dirs.length) { pane.append(el("p", { class: "muted", text: "This run recorded no TensorFlow log directories." })); return; }
    const ul = el("ul", { class: "files" });
    dirs.forEach((d, i) => ul.append(el("li", {}, el("span", { class: "mono", text: d }),
      postButton("/tensorboard/start/" + encodeURIComponent(state.runId) + "/" + i, "Run Tensorboard"))));
    pane.append(ul, el("p", {}, postButton("/tensorboard/stop", "Stop all TensorBoards")));
  }

  /* Starting and stopping TensorBoard change something, so they are POST (never a link):
     a form that opens the answer (TensorBoard itself, or a message) in a new tab. */
  function postButton(path, label) {
    const title = SB.settings.allowWrite ? undefined : "TensorBoard cannot be started or stopped on this server";
    return el("form", { class: "inline", method: "post", action: url(path), target: "_blank" },
      el("button", { type: "submit", class: "link", text: label, title }));
  }

  function renderFiles(pane, runId, files, zipRoute) {
    if (!files || !files.length) { pane.append(el("p", { class: "muted", text: "None." })); return; }
    const ul = el("ul", { class: "files" });
    for (const f of files) {
      ul.append(el("li", {}, el("span", { class: "mono", text: f.filename }),
        el("a", { href: url("/api/fileview/" + f.file_id.split("/").map(encodeURIComponent).join("/")), target: "_blank", text: "VIEW" }),
        el("a", { href: url("/api/file/" + f.file_id.split("/").map(encodeURIComponent).join("/")), text: "DOWNLOAD" })));
    }
    pane.append(ul, el("a", { href: url(zipRoute + encodeURIComponent(runId)), text: "DOWNLOAD ALL (zip)" }));
  }

  async function renderMetrics(pane, runId) {
    const list = await api("/api/run/" + encodeURIComponent(runId) + "/metrics");
    if (!list.length) { pane.append(el("p", { class: "muted", text: "This run logged no metrics." })); return; }
    const checks = el("div", { class: "metric-list" });
    const xSel = el("select", {}, el("option", { value: "steps", text: "steps" }), el("option", { value: "logsteps", text: "log steps" }), el("option", { value: "time", text: "time" }));
    const ySel = el("select", {}, el("option", { value: "linear", text: "linear" }), el("option", { value: "log", text: "log" }));
    const all = el("input", { type: "checkbox" });
    const plotDiv = el("div", { class: "plot metric-plot" });
    list.forEach((m, i) => {
      checks.append(el("label", {}, el("input", { type: "checkbox", value: m.name, checked: i === 0 }), " " + m.name,
        el("span", { class: "muted", text: " (" + m.count + ")" })));
    });
    all.addEventListener("change", () => { for (const c of checks.querySelectorAll("input")) c.checked = all.checked; draw(); });
    pane.append(el("div", { class: "plot-controls" }, el("label", {}, all, " Display all"), checks,
      el("label", {}, "x ", xSel), el("label", {}, "y ", ySel)), plotDiv);
    const cache = {};
    async function draw() {
      const names = [...checks.querySelectorAll("input:checked")].map(c => c.value);
      const width = Math.max(300, plotDiv.clientWidth || 800);
      const series = [];
      for (const [i, name] of names.entries()) {
        const key = name + "@" + width;
        if (!cache[key]) cache[key] = await api("/api/run/" + encodeURIComponent(runId) + "/metric/" + encodeURIComponent(name), { width });
        const d = cache[key];
        series.push({ label: name, x: xSel.value === "time" ? d.timestamps : d.steps, y: d.values, color: SB.COLORS[i % SB.COLORS.length] });
      }
      SBPlot.lines(plotDiv, { series, xTime: xSel.value === "time", logX: xSel.value === "logsteps", logY: ySel.value === "log" });
    }
    checks.addEventListener("change", draw); xSel.addEventListener("change", draw); ySel.addEventListener("change", draw);
    await draw();
  }

  function renderNotes(pane, state) {
    const row = state.row;
    const tags = el("input", { size: 50, value: (row.tags || []).join(", "), placeholder: "comma separated tags" });
    const notes = el("textarea", { value: row.notes || "" });
    const save = el("button", { text: "Save", disabled: !SB.settings.allowWrite });
    const msg = el("span", { class: "muted" });
    if (!SB.settings.allowWrite) msg.textContent = " Editing is disabled on this server (start it with --allow-write).";
    save.addEventListener("click", async () => {
      try {
        const body = { tags: tags.value.split(",").map(t => t.trim()).filter(Boolean), notes: notes.value };
        const d = await api("/api/run/" + encodeURIComponent(state.runId) + "/annotations", {}, {
          method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
        row.tags = d.tags; row.notes = d.notes;
        msg.textContent = " Saved.";
      } catch (e) { msg.textContent = " " + e.message; }
    });
    pane.append(el("div", { class: "notes" }, el("label", {}, "Tags ", tags), el("p", {}, "Notes"), notes, save, msg));
  }

  async function del(state, callbacks) {
    if (!confirm("Delete run " + state.runId + " with its metrics and files?")) return;
    try {
      const resp = await fetch(url("/api/run/" + encodeURIComponent(state.runId)), { method: "DELETE" });
      const text = await resp.text();
      let msg = text;
      try { msg = JSON.parse(text).errorMessage || text; } catch (e) { /* plain text */ }
      if (!resp.ok) { toast(msg); return; }
      toast(msg);
      if (callbacks.onDeleted) callbacks.onDeleted(state.runId);
    } catch (e) { toast(e.message); }
  }

  async function poll(state) {
    try {
      const data = await api("/api/run/" + encodeURIComponent(state.runId));
      if (state.closed) return;
      state.row = data.data[0];
      state.obj = data.data[0].object;
      if (state.row.live_state !== "RUNNING") clearInterval(state.timer);
    } catch (e) { clearInterval(state.timer); }
  }

  return { open, tabsOf, firstTab };
})();
