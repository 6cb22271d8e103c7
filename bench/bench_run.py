"""Benchmarks of the run machinery: ex.run() overhead, log_scalar, script start, import.

Run: ``python bench/bench_run.py`` (prints numbers and the targets; asserts nothing).

Targets: import <= 70 ms, minimal script <= 130 ms, ex.run() <= 1 ms (<= 3 ms with a
FileStorageObserver), >= 1 M log_scalar/s inside a run, >= 500 k/s end to end.
"""

import logging
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

# the run log lines would dominate (and flood the terminal): send them nowhere
logging.basicConfig(handlers=[logging.NullHandler()], level=logging.WARNING)
logging.getLogger().setLevel(logging.ERROR)


def _median_time(func, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _make_experiment(tmp):
    from sacred import Experiment

    ex = Experiment("bench", base_dir=tmp)

    @ex.config
    def cfg():
        a = 1  # noqa: F841
        b = {"c": 2, "d": [1, 2, 3]}  # noqa: F841

    @ex.main
    def main(a, b):
        return a

    return ex


def bench_ex_run(tmp):
    from sacred.observers import FileStorageObserver

    ex = _make_experiment(tmp)
    for _ in range(20):  # warm up (numpy import, caches)
        ex.run()
    t = _median_time(ex.run, 300)
    print(f"ex.run() without observers:        {t * 1e3:7.3f} ms   (target <= 1 ms)")

    ex.observers.append(FileStorageObserver(os.path.join(tmp, "runs")))
    for _ in range(5):
        ex.run()
    t = _median_time(ex.run, 100)
    print(f"ex.run() with FileStorageObserver: {t * 1e3:7.3f} ms   (target <= 3 ms)")


def bench_log_scalar(tmp, n=2_000_000):
    from sacred import Experiment

    ex = Experiment("bench_metrics", base_dir=tmp)
    timings = {}

    @ex.main
    def main(_run):
        log = _run.log_scalar
        start = time.perf_counter()
        for _ in range(n):
            log("loss", 0.5)
        timings["loop"] = time.perf_counter() - start

    ex.run()
    print(
        f"_run.log_scalar inside a run:      {n / timings['loop']:12,.0f} calls/s "
        "(target >= 1,000,000)"
    )

    from sacred.observers import FileStorageObserver

    ex.observers.append(FileStorageObserver(os.path.join(tmp, "metric_runs")))
    start = time.perf_counter()
    ex.run()
    total = time.perf_counter() - start
    print(
        f"log_scalar + final flush to disk:  {n / total:12,.0f} calls/s "
        "(target >= 500,000; FileStorageObserver, metrics.json written)"
    )


SCRIPT = textwrap.dedent(
    """
    from sacred import Experiment

    ex = Experiment("minimal")


    @ex.automain
    def main():
        pass
    """
)


def _env():
    """The environment of the measured interpreters.

    An installed package comes with its bytecode compiled (pip does that on install), so
    PYTHONDONTWRITEBYTECODE (set on some machines, where every start would compile all
    of sacred: ~50 ms more) is left out, and a first launch writes the caches.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def bench_script(tmp, repeat=9):
    path = os.path.join(tmp, "minimal.py")
    with open(path, "w") as f:
        f.write(SCRIPT)
    env = _env()

    def launch():
        subprocess.run(
            [sys.executable, path],
            cwd=tmp,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def bare_python():
        subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)

    launch()  # writes the bytecode caches
    t = _median_time(launch, repeat)
    base = _median_time(bare_python, repeat)
    print(
        f"python minimal.py (@ex.automain):  {t * 1e3:7.1f} ms   (target <= 130 ms; "
        f"bare interpreter start {base * 1e3:.1f} ms)"
    )


def bench_import(repeat=7):
    code = "import sacred\nfrom sacred import Experiment\n"
    env = _env()
    subprocess.run([sys.executable, "-c", code], env=env, check=True)  # bytecode caches
    totals, sites = [], []
    for _ in range(repeat):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", code],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        total = 0
        for line in result.stderr.splitlines():
            # "import time: self [us] | cumulative | imported package"; top level = no indent
            parts = line.split("|")
            if len(parts) != 3 or not line.startswith("import time:"):
                continue
            name = parts[2]
            if name.strip() and not name.startswith("   ") and parts[1].strip().isdigit():
                if name.strip() == "site":  # interpreter start-up: also there for `pass`
                    sites.append(int(parts[1]) / 1e6)
                else:
                    total += int(parts[1])
        totals.append(total / 1e6)
    t = statistics.median(totals)
    print(
        f"import sacred + Experiment:        {t * 1e3:7.1f} ms   (target <= 70 ms, -X importtime)"
    )
    print(
        f"  (not counted: site, {statistics.median(sites) * 1e3:.1f} ms, imported before any "
        "script; an editable install adds its finder there)"
    )

    probe = (
        "import time; t=time.perf_counter(); import sacred; from sacred import Experiment; "
        "print(time.perf_counter()-t)"
    )
    walls = [
        float(
            subprocess.run(
                [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(repeat)
    ]
    print(f"  (wall clock of the same imports: {statistics.median(walls) * 1e3:.1f} ms)")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        bench_import()
        bench_script(tmp)
        bench_ex_run(tmp)
        bench_log_scalar(tmp)


if __name__ == "__main__":
    main()
