"""Benchmark of FileStorageObserver: costs that must not grow with a folder's or a run's history.

Run: ``python bench/bench_file_storage.py``. Prints the median of several repetitions.
Targets (from the performance issue):
  * new run id in a folder of 10,000 runs <= 1.2x the cost in an empty folder
  * heartbeat with 1 MB in ``info`` <= 30 ms
  * heartbeat (log_metrics) flushing 100,000 metric points <= 40 ms
  * heartbeat cost independent of the output already written (1 MB vs 50 MB)
"""

import datetime
import os
import random
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sacred.observers.file_storage.observer import FileStorageObserver, _scan_max_id  # noqa: E402

NOW = datetime.datetime(2026, 11, 27, 22, 10, 0)
EX_INFO = {
    "name": "bench",
    "base_dir": "/nonexistent",
    "sources": [],
    "dependencies": ["numpy==2.4.6", "sacred==0.8.7"],
    "repositories": [],
    "mainfile": "bench.py",
}


def start(obs, _id=None):
    return obs.started_event(
        ex_info=EX_INFO,
        command="main",
        host_info={"hostname": "bench", "os": ["Linux", "x"], "python_version": "3"},
        start_time=NOW,
        config={"a": 1, "b": {"c": [1, 2, 3]}},
        meta_info={"command": "main", "options": {"--file_storage": "runs"}},
        _id=_id,
    )


def ms(seconds):
    return f"{seconds * 1000:8.3f} ms"


def median_time(func, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        func()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_new_id(root, n=400):
    full = os.path.join(root, "full")
    filler = FileStorageObserver(full)
    for _ in range(10_000):
        filler._make_run_dir(None)
    obs = FileStorageObserver(full)

    # Interleaved, so that both cases see the same machine noise. "Empty" is a fresh
    # (existing, empty) folder for every measured id.
    times = {"id empty": [], "id full": [], "start empty": [], "start full": []}
    for i in range(n):
        for kind in ("id", "start"):
            empty = os.path.join(root, f"empty_{kind}{i}")
            os.makedirs(empty)
            for case, observer in (("empty", FileStorageObserver(empty)), ("full", obs)):
                t = time.perf_counter()
                if kind == "id":
                    observer._make_run_dir(None)
                else:
                    start(observer)
                times[f"{kind} {case}"].append(time.perf_counter() - t)
    assert obs.dir.endswith(str(10_000 + 2 * n)), obs.dir
    med = {k: statistics.median(v) for k, v in times.items()}
    t_scan = median_time(lambda: _scan_max_id(full), 20)

    print("new run id (mkdir from the hint in the user's cache), median of", n)
    print(f"  empty folder          {ms(med['id empty'])}")
    print(
        f"  10,000 runs           {ms(med['id full'])}   ratio "
        f"{med['id full'] / med['id empty']:.2f}"
    )
    print(f"  (a folder scan, as the original does for every id: {ms(t_scan)})")
    print("whole started_event (new id, run.json, config.json, cout.txt)")
    print(f"  empty folder          {ms(med['start empty'])}")
    print(
        f"  10,000 runs           {ms(med['start full'])}   ratio "
        f"{med['start full'] / med['start empty']:.2f}"
    )


def one_mb_info():
    rng = random.Random(0)
    info = {
        "losses": [rng.random() for _ in range(30_000)],
        "epochs": [
            {"epoch": i, "lr": rng.random(), "tags": ["a", "b"], "stats": {"min": i, "max": i * 2}}
            for i in range(2_000)
        ],
        "notes": "x" * 100_000,
    }
    return info


def bench_info_heartbeat(root):
    import json

    info = one_mb_info()
    size = len(json.dumps(info, sort_keys=True, indent=2))
    beat = {"captured_out": "", "beat_time": NOW, "result": None}

    def first_beat():  # a new observer: every key of info is encoded
        obs = FileStorageObserver(os.path.join(root, "info_first"))
        start(obs)
        t = time.perf_counter()
        obs.heartbeat_event(info=info, **beat)
        t = time.perf_counter() - t
        shutil.rmtree(os.path.join(root, "info_first"))  # see RECYCLE
        return t

    t_first = statistics.median(first_beat() for _ in range(11))
    obs = FileStorageObserver(os.path.join(root, "info"))
    start(obs)
    obs.heartbeat_event(info=info, **beat)

    def one_epoch_more():  # a training loop appends to one key between beats
        info["epochs"].append({"epoch": -1, "lr": 0.1, "tags": [], "stats": {}})
        obs.heartbeat_event(info=info, **beat)

    t_unchanged = median_time(lambda: obs.heartbeat_event(info=info, **beat), 21)
    t_small = median_time(
        lambda: (info.update(best=random.random()), obs.heartbeat_event(info=info, **beat)), 21
    )
    t_epoch = median_time(one_epoch_more, 21)
    print(f"heartbeat with {size / 1e6:.2f} MB info.json")
    print(f"  first beat (all of info encoded)        {ms(t_first)}")
    print(f"  a small key changed since the last beat {ms(t_small)}")
    print(f"  a 0.5 MB list grew since the last beat  {ms(t_epoch)}")
    print(f"  nothing changed since the last beat     {ms(t_unchanged)}")

    from sacred.serializer import flatten

    def original_style():
        with open(os.path.join(root, "orig_info.json"), "w") as f:
            json.dump(flatten(info), f, sort_keys=True, indent=2)

    print(f"  (original-style info.json write, every beat: {ms(median_time(original_style, 5))})")


def points(n_metrics, n_points, offset=0):
    rng = random.Random(1)
    per = n_points // n_metrics
    metrics = {}
    for m in range(n_metrics):
        steps = list(range(offset, offset + per))
        metrics[f"metric{m}"] = {
            "name": f"metric{m}",
            "steps": steps,
            "values": [rng.random() for _ in steps],
            "timestamps": [NOW + datetime.timedelta(microseconds=37 * s) for s in steps],
        }
    return metrics


def _first_beat(root, name, batch):
    obs = FileStorageObserver(os.path.join(root, name))
    start(obs)
    t = time.perf_counter()
    obs.log_metrics(metrics_by_name=batch, info={})
    t = time.perf_counter() - t
    shutil.rmtree(os.path.join(root, name))  # see RECYCLE
    return t


# RECYCLE: each repetition's run folder is removed after it was measured. On a virtual
# machine, page-cache pages that no file held before can cost several times more to write
# (the host backs guest memory on first touch): 7.7 MB written into files that are all
# kept cost 15-22 ms a file here, into files removed after each write 1.8 ms. A running
# experiment replaces its metrics.json on every beat, which frees the older file's pages,
# so removing the folders is the closer model. Folders that are kept give ~10-30 ms more.


def original_style_log_metrics(path, metrics_by_name):
    """What the original does on every beat: re-read, merge, flatten, pure-Python indent."""
    import json

    from sacred.serializer import flatten

    try:
        with open(path) as f:
            saved = json.load(f)
    except OSError:
        saved = {}
    for name, m in metrics_by_name.items():
        entry = saved.setdefault(name, {"values": [], "steps": [], "timestamps": []})
        entry["values"] += m["values"]
        entry["steps"] += m["steps"]
        entry["timestamps"] += [t.isoformat() for t in m["timestamps"]]
    with open(path, "w") as f:
        json.dump(flatten(saved), f, sort_keys=True, indent=2)


def sidecar_append(folder, steps, fixed, values):
    from sacred.observers.file_storage import _metric_sidecar

    writer = _metric_sidecar.SidecarWriter(folder)
    writer.start({})
    writer.append("m", steps, fixed, values)
    assert writer.ok and writer.entries["m"]["count"] == len(steps)


def parts(metric):
    """What one beat of 100,000 points costs, part by part (see log_metrics)."""
    from sacred.observers import _jsonio
    from sacred.observers.file_storage.observer import _encode_values

    steps, stamps, values = metric["steps"], metric["timestamps"], metric["values"]
    n = len(steps)
    stamps_text, fixed = _jsonio.isoformat_items_fixed(stamps, 3)
    text = [_encode_values(steps), stamps_text, _encode_values(values)]
    folder = tempfile.mkdtemp(prefix="bench_parts_")
    try:
        costs = {
            "steps to JSON": lambda: _encode_values(steps),
            "values to JSON": lambda: _encode_values(values),
            "  (of which float.__repr__ alone)": lambda: list(map(float.__repr__, values)),
            "timestamps to JSON + sidecar text": lambda: _jsonio.isoformat_items_fixed(stamps, 3),
            "  (datetime.isoformat alone)": lambda: [t.isoformat() for t in stamps],
            "sidecar append (3 files)": lambda: sidecar_append(folder, steps, fixed, values),
            "write metrics.json": lambda: _jsonio.write_atomic(
                os.path.join(folder, "metrics.json"), text
            ),
        }
        print(f"  parts of one beat of {n:,} points (median of 9):")
        for label, func in costs.items():
            print(f"    {label:36s} {ms(median_time(func, 9))}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def bench_metrics(root):
    for n_metrics in (1, 10):
        batch = points(n_metrics, 100_000)
        t = statistics.median(_first_beat(root, f"m{n_metrics}_{i}", batch) for i in range(15))
        print(f"log_metrics, 100,000 new points in {n_metrics:2d} metric(s)   {ms(t)}")
    # later beats: a few new points on top of 100,000 already written
    obs = FileStorageObserver(os.path.join(root, "metrics_hist"))
    start(obs)
    obs.log_metrics(metrics_by_name=points(1, 100_000), info={})
    small = points(1, 100, offset=100_000)
    t = median_time(lambda: obs.log_metrics(metrics_by_name=small, info={}), 21)
    print(f"log_metrics, 100 new points after 100,000            {ms(t)}")
    t = median_time(lambda: obs.log_metrics(metrics_by_name={}, info={}), 21)
    print(f"log_metrics, no new points after 100,000             {ms(t)}")
    times = []
    for i in range(9):  # the second big beat: metrics.json rewritten with 200,000 points
        obs = FileStorageObserver(os.path.join(root, f"second_{i}"))
        start(obs)
        obs.log_metrics(metrics_by_name=points(1, 100_000), info={})
        more = points(1, 100_000, offset=100_000)
        t = time.perf_counter()
        obs.log_metrics(metrics_by_name=more, info={})
        times.append(time.perf_counter() - t)
        shutil.rmtree(os.path.join(root, f"second_{i}"))  # see RECYCLE
    print(f"log_metrics, 100,000 new points after 100,000        {ms(statistics.median(times))}")
    parts(points(1, 100_000)["metric0"])
    path = os.path.join(root, "original_style_metrics.json")
    t = median_time(
        lambda: (
            os.path.exists(path)
            and os.remove(path)
            or original_style_log_metrics(path, points(1, 100_000))
        ),
        3,
    )
    print(f"  (original-style, 100,000 new points, incl. building them: {ms(t)})")


def _cout_case(root, mb):
    obs = FileStorageObserver(os.path.join(root, f"cout{mb}"))
    start(obs)
    line = "y" * 99 + "\n"
    captured = line * (mb * 10_000)
    obs.heartbeat_event(info={}, captured_out=captured, beat_time=NOW, result=None)
    times = []
    for _ in range(21):
        # 1 KB of new output per beat, as a Run sends it (the whole output so far). The
        # previous string stays referenced, as in a Run, so freeing it is not timed here.
        previous, captured = captured, captured + line * 10
        t = time.perf_counter()
        obs.heartbeat_event(info={}, captured_out=captured, beat_time=NOW, result=None)
        times.append(time.perf_counter() - t)
        del previous
    size = os.path.getsize(os.path.join(obs.dir, "cout.txt")) / 1e6
    print(
        f"heartbeat after {mb:2d} MB of output (cout.txt {size:5.1f} MB)   {ms(statistics.median(times))}"
    )


def bench_cout(root):
    for mb in (1, 50):
        _cout_case(root, mb)


def main():
    root = tempfile.mkdtemp(prefix="bench_fs_")
    try:
        print(f"python {sys.version.split()[0]}, temp dir {root}")
        bench_new_id(root)
        bench_info_heartbeat(root)
        bench_metrics(root)
        bench_cout(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
