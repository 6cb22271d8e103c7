"""Many processes starting runs in one folder at once: unique ids, always-whole JSON files."""

import json
import os
import subprocess
import sys
import textwrap
import threading
import time

WORKER = textwrap.dedent(
    """
    import datetime, os, sys, time
    from sacred.observers import FileStorageObserver

    basedir, go_file, worker, n_runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    while not os.path.exists(go_file):
        time.sleep(0.001)
    ex_info = {"name": "demo", "base_dir": basedir, "sources": [], "dependencies": [],
               "repositories": [], "mainfile": None}
    ids = []
    for i in range(n_runs):
        obs = FileStorageObserver(basedir)
        now = datetime.datetime.now()
        _id = obs.started_event(ex_info=ex_info, command="main", host_info={}, start_time=now,
                                config={"worker": worker, "i": i}, meta_info={"worker": worker},
                                _id=None)
        for beat in range(3):
            obs.log_metrics(metrics_by_name={"m": {"name": "m", "steps": [beat],
                            "values": [beat], "timestamps": [now]}}, info={})
            obs.heartbeat_event(info={"beat": beat, "pad": "x" * 20000},
                                captured_out="".join("out %d\\n" % b for b in range(beat + 1)),
                                beat_time=now, result=None)
        obs.completed_event(stop_time=datetime.datetime.now(), result=i)
        ids.append(_id)
    print(" ".join(ids))
    """
)

N_PROCESSES = 10
RUNS_EACH = 6


def test_many_processes_start_runs_in_one_folder(tmp_path):
    basedir = str(tmp_path / "runs")
    go_file = str(tmp_path / "go")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, basedir, go_file, f"w{k}", str(RUNS_EACH)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "user_cache")),  # id hints
        )
        for k in range(N_PROCESSES)
    ]
    bad_reads = []
    reads = [0]
    stop = threading.Event()

    def reader():
        # a dashboard polling the folder must never see half a file
        while not stop.is_set():
            if not os.path.isdir(basedir):
                continue
            for d in os.listdir(basedir):
                for name in ("run.json", "config.json", "info.json", "metrics.json"):
                    path = os.path.join(basedir, d, name)
                    try:
                        with open(path) as f:
                            text = f.read()
                    except (FileNotFoundError, NotADirectoryError):
                        continue
                    reads[0] += 1
                    try:
                        json.loads(text)
                    except ValueError:
                        bad_reads.append((path, text[:80]))

    thread = threading.Thread(target=reader)
    thread.start()
    time.sleep(1.0)  # let every worker import sacred and wait at the start line
    open(go_file, "w").close()
    outputs = [p.communicate(timeout=120) for p in procs]
    stop.set()
    thread.join()

    for p, (_out, err) in zip(procs, outputs):
        assert p.returncode == 0, err
    ids = [run_id for out, _ in outputs for run_id in out.split()]
    total = N_PROCESSES * RUNS_EACH
    assert sorted(ids, key=int) == [str(i) for i in range(1, total + 1)]
    assert bad_reads == []
    assert reads[0] > 0

    by_worker = {}
    for run_id in ids:
        run_dir = os.path.join(basedir, run_id)
        with open(os.path.join(run_dir, "run.json")) as f:
            entry = json.load(f)
        assert entry["status"] == "COMPLETED"
        with open(os.path.join(run_dir, "config.json")) as f:
            config = json.load(f)
        assert config["worker"] == entry["meta"]["worker"]
        by_worker.setdefault(config["worker"], []).append(config["i"])
        with open(os.path.join(run_dir, "cout.txt")) as f:
            assert f.read() == "out 0\nout 1\nout 2\n"
        with open(os.path.join(run_dir, "metrics.json")) as f:
            assert json.load(f)["m"]["values"] == [0, 1, 2]
    assert {w: sorted(i) for w, i in by_worker.items()} == {
        f"w{k}": list(range(RUNS_EACH)) for k in range(N_PROCESSES)
    }
    leftovers = [f for d, _, fs in os.walk(basedir) for f in fs if f.endswith(".tmp")]
    assert leftovers == []
