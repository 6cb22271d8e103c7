"""``rerun``: run a recorded run again, with its command, config and seed, and compare.

By default the code is the run's **recorded sources**, read from the store and laid out in
a temporary folder in their original layout (digests checked); with ``here=True`` it is the
working copy, and the sources whose digest differs from the record are listed. Packages and
scripts outside the recorded sources are used as installed. The new run records
``meta.rerun_of = {"store": <location>, "id": <id>}``.

The rerun runs in the calling process, not in a child process: the store may be an object
that only lives here (a mongomock client, a client with explicit credentials), and the
caller gets the run's result. What makes that safe is ``isolation.fresh_imports``: the
script's own modules are imported afresh from its folder (not the ones of the same names
the process may hold), and ``sys.path``/``sys.modules`` are put back afterwards. The
``sacred rerun`` command is a new process anyway.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import warnings
from typing import Any, Optional

from sacred.lineage import location_text
from sacred.observers.base import RunObserver
from sacred.reproduce import check as _check
from sacred.reproduce import environment, sources
from sacred.reproduce.isolation import fresh_imports

__all__ = ("rerun", "RerunResult", "RerunWarning", "location_text")

# options of the recorded run that change what it prints or checks (not where it is stored)
_KEPT_OPTIONS = ("--capture", "--loglevel", "--name", "--force")
_FINISHED = ("COMPLETED", "FAILED", "INTERRUPTED", "TIMEOUT")


class RerunWarning(UserWarning):
    """The rerun's environment differs from the recorded run's (packages, git)."""


@dataclasses.dataclass
class RerunResult:
    run_id: Any  # the id of the new run
    rerun_of: Any  # the id of the recorded run
    store: str  # where the recorded run is (as recorded in meta.rerun_of)
    status: str  # of the new run: COMPLETED, FAILED, INTERRUPTED
    result: Any = None
    comparison: Optional[_check.Comparison] = None  # with check=True
    warnings: list = dataclasses.field(default_factory=list)
    changed_sources: list = dataclasses.field(default_factory=list)  # with here=True
    error: Optional[BaseException] = None  # what the new run raised

    @property
    def matched(self) -> bool:
        """Everything compared matched (without a comparison: the rerun completed)."""
        if self.comparison is not None:
            return self.comparison.matched
        return self.status == "COMPLETED"


class _LastMetrics(RunObserver):
    """Keeps the last value and the number of points of each metric the rerun logs."""

    priority = -(10**9)

    def __init__(self):
        self.last = {}
        self.count = {}

    def log_metrics(self, metrics_by_name, info):
        for name, metric in metrics_by_name.items():
            values = list(metric.get("values") or [])
            if values:
                self.last[name] = values[-1]
                self.count[name] = self.count.get(name, 0) + len(values)


# ------------------------------------------------------------------------ locations
# location_text (a store location as recorded text) is sacred.lineage's, shared with meta.parent
def _reopen(store) -> tuple:
    """``(location, options)`` for ``open_observer`` writing where ``store`` reads."""
    from sacred.store import StoreError

    scheme = getattr(store, "scheme", "")
    if scheme == "file":
        return store.basedir, {}
    if scheme == "sql":
        return store.engine.url.render_as_string(hide_password=False), {}
    if scheme == "tinydb":
        return store.root, {}
    if scheme == "mongodb":
        name = store.runs.name
        prefix = name[: -len("_runs")] if name.endswith("_runs") else ""
        return store.db, {"prefix": prefix}
    bucket = getattr(store, "_bucket", None)
    if scheme == "gs" and bucket is not None:
        return store.location, {"client": bucket.client}
    if scheme == "s3" and bucket is not None:
        return store.location, {"region": bucket.region, "endpoint_url": bucket.endpoint_url}
    raise StoreError(f"Cannot write into {store!r}: give the rerun a target")


def _source_store(store):
    """``(reader, location text, location for open_observer, its options, own reader)``."""
    from sacred.store import RunStore, open_store

    if isinstance(store, RunStore):
        location, options = _reopen(store)
        return store, location_text(location), location, options, False
    return open_store(store), location_text(store), store, {}, True


def _target_observer(target, default, options):
    from sacred.store.location import open_observer

    if target is None:
        return open_observer(default, **options), location_text(default)
    if hasattr(type(target), "started_event"):  # an observer (a client answers any name)
        return target, type(target).__name__
    return open_observer(target), location_text(target)


def _record_rerun_of(target, run_id, meta, lines):
    """Make sure the new run's record holds ``meta.rerun_of``: observers that keep only
    their own meta keys (the SqlObserver's columns) get it through ``update_meta``."""
    from sacred.store import RunStore, StoreError, open_store

    if run_id is None or hasattr(type(target), "started_event"):
        return  # an observer given as target: nothing to read it back with
    try:
        reader = target if isinstance(target, RunStore) else open_store(target)
        try:
            if "rerun_of" not in (reader.get(run_id).get("meta") or {}):
                reader.update_meta(run_id, meta)
        finally:
            if reader is not target:
                reader.close()
    except StoreError as e:
        _warn(lines, [f"the new run {run_id} does not record meta.rerun_of: {e}"])


# ------------------------------------------------------------------------ the rerun
def _old_run(reader, record) -> dict:
    run_id = record["_id"]
    metrics = {
        name: (summary.get("last"), summary.get("count", 0))
        for name, summary in reader.metric_summaries(run_id).items()
        if summary.get("count")
    }
    return {
        "status": record.get("status"),
        "result": record.get("result"),
        "metrics": metrics,
        "output": record.get("captured_out") or "",
    }


def _options(record) -> dict:
    recorded = (record.get("meta") or {}).get("options") or {}
    return {k: recorded[k] for k in _KEPT_OPTIONS if recorded.get(k) not in (None, False)}


def _warn(lines, messages):
    for message in messages:
        lines.append(message)
        warnings.warn(message, RerunWarning, stacklevel=3)


def _execute(script, record, observer, tap, meta, run_paths, folder):
    """Load ``script`` and run the recorded command; returns ``(run, error)``."""
    from sacred.launch import script as launch

    with fresh_imports(os.path.dirname(script), run_paths, folder):
        _forget(launch, script)  # a script loaded before holds the modules of then
        experiment = launch.load_experiment(script)
        previous = experiment.current_run
        try:
            run = launch.run_in_store(
                experiment,
                observer,
                command=record.get("command"),
                config_updates=dict(record.get("config") or {}),
                meta_info=meta,
                options=_options(record),
                observers=[observer, tap],
            )
            return run, None
        except Exception as e:  # the run failed: its record says so, the caller decides
            run = experiment.current_run
            if run is previous:
                raise
            return run, e
        finally:
            _forget(launch, script)  # its modules are gone from sys.modules


def _forget(launch, script):
    """Drop ``load_experiment``'s cached experiments of ``script``."""
    with launch._LOCK:
        for key in [k for k in launch._LOADED if k[0] == os.path.abspath(script)]:
            del launch._LOADED[key]


def rerun(
    store,
    run_id,
    check: bool = False,
    rtol: float = _check.DEFAULT_RTOL,
    here: bool = False,
    target=None,
    script: Optional[str] = None,
) -> RerunResult:
    """Run the recorded run ``run_id`` of ``store`` again: same command, config and seed.

    ``store`` is a store location (a folder, a URL, a pymongo/mongomock client) or an open
    ``RunStore``. The code is the run's recorded sources (``script`` may name the source
    to run when the record has no main file), or with ``here=True`` the working copy below
    the current folder (``script``: the path of the script). The new run is recorded in
    ``store``, or in ``target`` (a location or an observer). With ``check=True`` the result
    has a ``comparison`` with the recorded run (see ``sacred.reproduce.check``).

    Differences of package versions and git state are warned about (``RerunWarning``) and
    listed in ``warnings``. A new run that fails does not raise: see ``status``/``error``.
    """
    reader, where, location, options, own = _source_store(store)
    try:
        record = reader.get(run_id)
        run_id = record["_id"]
        observer, _ = _target_observer(target, location, options)
        result = RerunResult(run_id=None, rerun_of=run_id, store=where, status="")
        folder = tempfile.mkdtemp(prefix="sacred-rerun-") if not here else None
        try:
            if here:
                base, script_path = sources.working_copy(record, script)
                recorded = sources.recorded_sources(reader, record)
                result.changed_sources = sources.source_changes(recorded, base)
                run_paths = [os.path.join(base, name) for name in recorded]
            else:
                layout = sources.lay_out(reader, record, folder, script)
                base, script_path, run_paths = layout.base, layout.mainfile, layout.files.values()
            if record.get("status") not in _FINISHED:
                _warn(
                    result.warnings,
                    [f"run {run_id} is {record.get('status')}: it has not finished"],
                )
            _warn(result.warnings, environment.package_differences(record))
            _warn(
                result.warnings,
                environment.git_differences(record, base if here else os.getcwd(), here),
            )
            tap = _LastMetrics()
            meta = {"rerun_of": {"store": where, "id": run_id}}
            run, error = _execute(script_path, record, observer, tap, meta, list(run_paths), folder)
        finally:
            if folder:
                shutil.rmtree(folder, ignore_errors=True)
        result.run_id, result.status, result.error = run._id, run.status, error
        result.result = run.result
        _record_rerun_of(reader if target is None else target, run._id, meta, result.warnings)
        if check:
            new = {
                "status": run.status,
                "result": run.result,
                "metrics": {n: (v, tap.count[n]) for n, v in tap.last.items()},
                "output": run.captured_out or "",
            }
            base_dir = (record.get("experiment") or {}).get("base_dir") or ""
            replace = {} if here else {base.rstrip(os.sep): str(base_dir).rstrip("/\\")}
            result.comparison = _check.compare(_old_run(reader, record), new, rtol, replace)
        return result
    finally:
        if own:
            reader.close()
