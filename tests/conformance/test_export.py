"""Export (``sacred export`` / ``copy_runs``) from every store into every other, and back:
the records, metrics, artifacts, sources and resources read from the copy equal those read
from the original."""

import datetime as dt
import os

import pytest

from sacred import Experiment
from sacred.store.cli import copy_runs
from sacred.store.export import describe
from tests.conformance.backends import BASE, KINDS, Backend, ids

DESTINATIONS = sorted(set(BASE.values()))
PAIRS = [(src, dst) for src in KINDS for dst in DESTINATIONS if dst != BASE[src]]


def _pairs():
    """Every (source kind, destination kind) pair."""
    return [pytest.param(src, dst, id=f"{src}-to-{dst}") for src, dst in PAIRS]


def _fill(backend, folder):
    """Two runs: a completed one with metrics, an artifact and a resource; a failed one."""
    (folder / "data.csv").write_text("x,y\n1,2\n")
    (folder / "model.bin").write_bytes(bytes(range(256)))
    ex = Experiment("exported")
    ex.add_config(lr=0.1, layers=[64, 32], optimizer={"name": "adam", "beta": 0.9}, fail=False)

    @ex.main
    def main(_run, lr, fail):
        for i in range(5):
            _run.log_scalar("loss", 1 / (i + 1), i)
            _run.log_scalar("acc", 0.5 + i / 10, 10 * i)
        print("trained ü")
        _run.info["best"] = {"epoch": 4, "loss": 0.2}
        if fail:
            raise ValueError("diverged")
        _run.open_resource("data.csv")
        _run.add_artifact("model.bin", "model.bin", content_type="application/octet-stream")
        return lr * 2

    cwd = os.getcwd()
    os.chdir(folder)  # resources are recorded relative to here
    try:
        for fail in (False, True):
            ex.observers[:] = [backend.observer()]
            try:
                ex.run(config_updates={"fail": fail}, options={"--capture": "sys"})
            except ValueError:
                assert fail
    finally:
        os.chdir(cwd)


_SOURCES = {}


@pytest.fixture
def source(src, tmp_path_factory):
    """A store of kind ``src`` holding the two runs, filled once per module (read only)."""
    if src not in _SOURCES:
        folder = tmp_path_factory.mktemp(f"export_{src}")
        backend = Backend(src, folder / src)
        backend.keep = True
        _fill(backend, folder)
        _SOURCES[src] = backend
    return _SOURCES[src]


def _ms(value):
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    return value


def _files(store, run_id, names, opener):
    contents = {}
    for name in names:
        with opener(run_id, name) as f:
            contents[name] = f.read()
    return contents


def snapshot(store):
    """Everything a reader sees of each run, by id."""
    runs = {}
    for run_id in store.find_ids():
        r = store.get(run_id)
        metrics = store.metrics(run_id)
        runs[str(run_id)] = {
            "experiment": r["experiment"]["name"],
            "command": r.get("command"),
            "status": r["status"],
            "times": {k: _ms(r.get(k)) for k in ("start_time", "stop_time", "heartbeat")},
            "config": r["config"],
            "info": r.get("info"),
            "result": r.get("result"),
            "captured_out": r.get("captured_out"),
            "fail_trace": r.get("fail_trace"),
            "host": (r.get("host") or {}).get("hostname"),
            "meta": r.get("meta"),
            "metrics": {
                name: {
                    "steps": m["steps"],
                    "values": m["values"],
                    "timestamps": [_ms(t) for t in m["timestamps"]],
                }
                for name, m in metrics.items()
            },
            "artifacts": _files(store, run_id, store.artifacts(run_id), store.open_artifact),
            "sources": _files(store, run_id, store.sources(run_id), store.open_source),
            "resources": _files(store, run_id, store.resources(run_id), store.open_resource),
        }
    return runs


def differences(got, want, copied, origin, carried=False):
    """What differs, field by field, between the runs ``want`` and their copies ``got``
    (``copied``: the (old id, new id) pairs of copy_runs from the store ``origin``).

    A copy under another id says where it came from (``meta.exported_from``); with
    ``carried``, a copy may also hold the ``exported_from`` of an earlier export."""
    found = []
    assert ids(old for old, _ in copied) == ids(want)
    for old, new in copied:
        theirs, ours = got.get(str(new)), want[str(old)]
        if theirs is None:
            found.append(f"run {old}: no copy {new}")
            continue
        meta = dict(theirs["meta"] or {}) if isinstance(theirs["meta"], dict) else None
        source = meta.pop("exported_from", None) if meta is not None else None
        if str(new) != str(old):
            if source != {"store": describe(origin), "id": old}:
                found.append(f"run {old} copied as {new}: exported_from is {source!r}")
            theirs = {**theirs, "meta": meta}
        elif carried:
            theirs = {**theirs, "meta": meta}
        for field in ours:
            if theirs[field] != ours[field]:
                found.append(f"run {old} {field}: {theirs[field]!r} != {ours[field]!r}")
    return found


def _copy(src_store, backend):
    with backend.store() as dst:
        return copy_runs(src_store, dst)


@pytest.mark.parametrize("src, dst", _pairs())
def test_export_and_back(src, dst, source, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    there = Backend(dst, tmp_path / f"to_{dst}").create()
    back = Backend(BASE[src], tmp_path / f"back_{src}").create()
    with source.store() as original:
        want = snapshot(original)
        copied = _copy(original, there)
    assert len(want) == 2
    with there.store() as copy:
        assert differences(snapshot(copy), want, copied, original) == []
        returned = _copy(copy, back)
        want_back = {str(new): want[str(old)] for old, new in copied}
    with back.store() as store:
        assert differences(snapshot(store), want_back, returned, copy, carried=True) == []
