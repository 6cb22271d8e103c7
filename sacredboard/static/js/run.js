/* One run's own page (/run/<id>?tab=...): its detail, with the tab kept in the URL so that
   a link opens the same view and a reload keeps it. */
"use strict";
(function () {
  const { el, clear, fmtTime, fmtDuration, stateGlyph } = SB;
  const $ = id => document.getElementById(id);
  const runId = document.body.dataset.runId;
  const asked = new URLSearchParams(location.search).get("tab");

  function onTab(tab) {
    const p = new URLSearchParams(location.search);
    p.set("tab", tab);
    history.replaceState(null, "", location.pathname + "?" + p);
  }

  function onLoaded(row) {
    const name = row.experiment_name || "";
    document.title = "Run " + row.id + (name ? " · " + name : "") + " · Sacredboard";
    $("run-title").append(name ? " · " + name : "");
    clear($("run-state")).append(stateGlyph(row.live_state), row.live_state === "PROBABLY_DEAD" ? "Probably dead" : (row.live_state || ""));
    const times = ["started " + fmtTime(row.start_time_iso)];
    if (row.stop_time) times.push("stopped " + fmtTime(row.stop_time));
    if (row.duration !== null && row.duration !== undefined) times.push("duration " + fmtDuration(row.duration));
    $("run-times").textContent = times.join(" · ");
    if (typeof SBLineage !== "undefined") SBLineage.show($("run-lineage"), runId);
  }

  SBDetail.open($("run-detail"), runId, {
    tab: asked, onTab, onLoaded, page: true,
    onDeleted: () => { location.href = SB.url("/runs"); },
  });
})();
