"""Benchmark of ``sacred rerun``'s set-up from the store, for a run with 50 source files.

    python bench/bench_rerun.py [--modules 50] [--repeat 10] [--kinds file,sqlite,tinydb]

A project of a script and 49 modules of its own (about 2 KB each, all imported: 50
recorded sources) is run once into each store. Then, the median of ``--repeat`` times:

* lay out: the stored copies read from the store, md5-checked and written to a temporary
  folder (``sources.lay_out``);
* load: the laid-out script imported with its own modules afresh (``load_experiment``
  inside ``fresh_imports``, which also gathers the 50 sources and the dependencies);
* rerun: the whole ``sacred.rerun(store, id, check=True)``;
* baseline: the same command run from the working copy (``load_experiment`` +
  ``run_in_store`` into the same store), so that rerun - baseline is the set-up's overhead
  (reading the record, laying out, the comparison).

``mongomock`` can be added; its numbers grow with every round: it scans every GridFS file
for each lookup, and the MongoObserver keeps source copies by absolute path, so each rerun
(from a new temporary folder) adds 50 copies.

The four take turns in each round (every rerun and baseline adds a run to the store).
Wall and CPU time of this process are both printed: on a shared machine the CPU time is
the steadier one.

The experiment's own work is nothing (a loop of 3 metric points): every number is overhead.
Prints a table; asserts only that each rerun matched.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = """\
from sacred import Experiment

{imports}

ex = Experiment("bench")


@ex.config
def cfg():
    steps = 3


@ex.automain
def main(_run, steps):
    total = 0
    for i in range(steps):
        total += {calls}
        _run.log_scalar("total", total, i)
    print("total", total)
    return total
"""

MODULE = '''\
"""Module {i} of the benchmark project."""

TABLE = {table!r}


def value(x={i}):
    return sum(TABLE[:x % 7 + 1]) + x
'''


def write_project(folder, modules):
    os.makedirs(os.path.join(folder, "pkg"))
    with open(os.path.join(folder, "pkg", "__init__.py"), "w") as f:
        f.write("")
    table = list(range(250))  # ~2 KB per module
    for i in range(modules - 1):  # pkg/__init__.py is a source too
        with open(os.path.join(folder, "pkg", f"mod_{i:02d}.py"), "w") as f:
            f.write(MODULE.format(i=i, table=table))
    imports = "\n".join(f"from pkg import mod_{i:02d}" for i in range(modules - 1))
    calls = " + ".join(f"mod_{i:02d}.value()" for i in range(modules - 1))
    with open(os.path.join(folder, "exp.py"), "w") as f:
        f.write(SCRIPT.format(imports=imports, calls=calls))
    return os.path.join(folder, "exp.py")


def location_of(kind, tmp):
    if kind == "file":
        return os.path.join(tmp, "runs")
    if kind == "sqlite":
        return f"sqlite:///{os.path.join(tmp, 'runs.db')}"
    if kind == "tinydb":
        return f"tinydb://{os.path.join(tmp, 'tinydb')}"
    if kind == "mongomock":
        import mongomock
        import mongomock.gridfs

        mongomock.gridfs.enable_gridfs_integration()
        return mongomock.MongoClient()
    raise SystemExit(f"unknown kind {kind!r}")


def _quiet():
    import logging

    logging.getLogger().setLevel(logging.WARNING)


def _run_working_copy(script, location):
    from sacred.launch.script import _LOADED, load_experiment, run_in_store
    from sacred.reproduce.isolation import fresh_imports
    from sacred.store.location import open_observer

    folder = os.path.dirname(script)
    paths = [os.path.join(d, f) for d, _, files in os.walk(folder) for f in files]
    with fresh_imports(folder, paths):
        _LOADED.clear()
        ex = load_experiment(script)
        ex.logger = _logger()
        return run_in_store(ex, open_observer(location), options={"--capture": "sys"})


def _logger():
    import logging

    logger = logging.getLogger("bench_rerun")
    logger.setLevel(logging.WARNING)
    return logger


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def _medians(fns, repeat):
    """``{name: (wall ms, cpu ms)}``: medians, the functions taking turns (the store grows
    by a run with every rerun and baseline, so neither gets all the late, larger turns)."""
    times = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            times[name].append(_timed(fn))
    return {
        name: (statistics.median(t[0] for t in ts), statistics.median(t[1] for t in ts))
        for name, ts in times.items()
    }


def bench(kind, script, repeat):
    from sacred.launch.script import _LOADED, load_experiment
    from sacred.reproduce import rerun
    from sacred.reproduce.isolation import fresh_imports
    from sacred.reproduce.sources import lay_out
    from sacred.store import open_store

    tmp = tempfile.mkdtemp(prefix=f"bench-rerun-{kind}-")
    location = location_of(kind, tmp)
    original = _run_working_copy(script, location)
    store = open_store(location)
    record = store.get(original._id)
    assert len(record["experiment"]["sources"]) >= 50, len(record["experiment"]["sources"])

    def layout():
        folder = tempfile.mkdtemp(prefix="sacred-rerun-")
        try:
            lay_out(store, record, folder)
        finally:
            shutil.rmtree(folder)

    def load():
        folder = tempfile.mkdtemp(prefix="sacred-rerun-")
        try:
            laid = lay_out(store, record, folder)
            with fresh_imports(os.path.dirname(laid.mainfile), laid.files.values(), folder):
                _LOADED.clear()
                load_experiment(laid.mainfile).get_experiment_info()
        finally:
            shutil.rmtree(folder)

    def whole():
        result = rerun(store, original._id, check=True)
        assert result.matched, result.comparison

    numbers = _medians(
        {
            "lay out": layout,
            "lay out + load": load,
            "rerun --check": whole,
            "baseline run": lambda: _run_working_copy(script, location),
        },
        repeat,
    )
    store.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return numbers


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", type=int, default=50, help="source files of the run")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--kinds", default="file,sqlite,tinydb", help="also: mongomock")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    _quiet()
    from sacred import SETTINGS

    SETTINGS.CAPTURE_MODE = "sys"
    project = tempfile.mkdtemp(prefix="bench-rerun-project-")
    script = write_project(project, args.modules)
    rows = []
    for kind in args.kinds.split(","):
        numbers = bench(kind, script, args.repeat)
        rows.append((kind, numbers))
    shutil.rmtree(project, ignore_errors=True)
    cols = ["lay out", "lay out + load", "rerun --check", "baseline run"]
    print(
        f"rerun set-up for a run with {args.modules} source files: median of {args.repeat}, "
        "ms of wall / CPU time"
    )
    print(f"{'store':<10}" + "".join(f"{c:>18}" for c in cols) + f"{'overhead':>16}")
    for kind, n in rows:
        over = [n["rerun --check"][i] - n["baseline run"][i] for i in (0, 1)]
        cells = "".join(f"{f'{n[c][0]:.0f} / {n[c][1]:.0f}':>18}" for c in cols)
        print(f"{kind:<10}{cells}{f'{over[0]:.0f} / {over[1]:.0f}':>16}")


if __name__ == "__main__":
    main()
