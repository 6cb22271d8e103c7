"""Benchmarks of the run-time helpers: metrics, host info, source discovery, capturing.

Run: ``python bench/bench_runtime.py`` (prints numbers; it asserts nothing).
"""

import os
import subprocess
import sys
import tempfile
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)


def bench_metrics(n=2_000_000):
    from sacred.metrics_logger import MetricsLogger

    logger = MetricsLogger()
    log = logger.log_scalar_metric
    start = time.perf_counter()
    for _ in range(n):
        log("loss", 0.5)
    elapsed = time.perf_counter() - start
    print(f"log_scalar_metric (float, auto step): {n / elapsed:,.0f} calls/s")

    start = time.perf_counter()
    for i in range(n):
        log("acc", i, i)
    elapsed = time.perf_counter() - start
    print(f"log_scalar_metric (int, explicit step): {n / elapsed:,.0f} calls/s")

    start = time.perf_counter()
    by_name = logger.drain_linearized()
    elapsed = time.perf_counter() - start
    points = sum(len(s["steps"]) for s in by_name.values())
    print(f"drain_linearized of {points:,} points: {elapsed:.3f} s")


def bench_host_info():
    code = textwrap.dedent(
        """
        import time
        t = time.perf_counter()
        from sacred.host_info import get_host_info
        get_host_info()
        first = time.perf_counter() - t
        t = time.perf_counter()
        get_host_info()
        second = time.perf_counter() - t
        print(f"get_host_info(): first {first * 1000:.1f} ms (incl. import), "
              f"cached {second * 1000:.3f} ms")
        """
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def bench_sources():
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "helper.py"), "w") as f:
            f.write("VALUE = 1\n")
        script = os.path.join(tmp, "script.py")
        with open(script, "w") as f:
            f.write(
                textwrap.dedent(
                    f"""
                    import sys, time
                    sys.path.insert(0, {ROOT!r})
                    import helper, json, yaml
                    from sacred.dependencies import gather_sources_and_dependencies
                    for label in ("first", "second"):
                        t = time.perf_counter()
                        main, sources, deps = gather_sources_and_dependencies(globals(), True)
                        elapsed = time.perf_counter() - t
                        print(f"gather_sources_and_dependencies ({{label}}): "
                              f"{{elapsed * 1000:.1f}} ms, {{len(sources)}} sources, "
                              f"deps {{sorted(d.to_json() for d in deps)}}")
                    print("git imported:", "git" in sys.modules)
                    """
                )
            )
        subprocess.run([sys.executable, script], cwd=tmp, check=True)


CAPTURE_SCRIPT = """
import os, sys, threading, time
sys.path.insert(0, {root!r})
from sacred.stdout_capturing import get_stdcapturer

def rss(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024

mode, getter = sys.argv[1], sys.argv[2]
line = "x" * 99
n = {n}
captured = 0
before = rss("VmRSS:")
start = time.perf_counter()
if mode == "bare":
    for _ in range(n):
        print(line)
    sys.stdout.flush()
else:
    _, factory = get_stdcapturer(mode)
    with factory() as out:
        stop = threading.Event()
        def beat():
            global captured
            while not stop.wait(0.1):
                captured += len(out.get())
        if getter == "beat":
            t = threading.Thread(target=beat)
            t.start()
        for _ in range(n):
            print(line)
        if getter == "beat":
            stop.set()
            t.join()
        captured += len(out.get())
    captured += len(out.get())
elapsed = time.perf_counter() - start
peak = rss("VmHWM:") - before
print(elapsed, peak, captured, file=sys.stderr)
"""


def _run_capture_script(code, mode, getter, env):
    """(seconds, peak RSS growth, captured bytes) of one run of CAPTURE_SCRIPT.

    The printed output goes to /dev/null, for the bare loop and the capture modes
    alike; "bare-pipe" sends it through a pipe to ``cat`` instead, which shows what
    a pipe alone costs (fd mode prints into one).
    """
    command = [sys.executable, "-c", code, "bare" if mode == "bare-pipe" else mode, getter]
    with open(os.devnull, "w") as devnull:
        if mode == "bare-pipe":
            cat = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=devnull)
            proc = subprocess.run(
                command, stdout=cat.stdin, stderr=subprocess.PIPE, env=env, text=True, check=True
            )
            cat.stdin.close()
            cat.wait()
        else:
            proc = subprocess.run(
                command, stdout=devnull, stderr=subprocess.PIPE, env=env, text=True, check=True
            )
    elapsed, peak, captured = proc.stderr.split()
    return float(elapsed), int(peak), int(captured)


def bench_capture(megabytes=50, unbuffered=False):
    n = megabytes * 1_000_000 // 100
    code = CAPTURE_SCRIPT.format(root=ROOT, n=n)
    output = n * 100
    env = dict(os.environ)
    env.pop("PYTHONUNBUFFERED", None)
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    print(f"printing {megabytes} MB as 100-byte lines, PYTHONUNBUFFERED={int(unbuffered)}:")
    cases = [
        ("bare", "-"),
        ("bare-pipe", "-"),
        ("sys", "end"),
        ("sys", "beat"),
        ("fd", "end"),
        ("fd", "beat"),
    ]
    runs = {case: [] for case in cases}
    for _ in range(11):  # interleaved, so that a busy moment does not hit one case only
        for mode, getter in cases:
            runs[mode, getter].append(_run_capture_script(code, mode, getter, env))
    base = min(r[0] for r in runs["bare", "-"])
    for (mode, getter), results in runs.items():
        elapsed = min(r[0] for r in results)
        peak = min(r[1] for r in results)
        captured = results[0][2]
        label = f"{mode} mode, get() {'every 0.1 s' if getter == 'beat' else 'at the end'}"
        if mode == "bare":
            label = "bare print loop"
        elif mode == "bare-pipe":
            label = "bare print loop into a pipe"
        print(
            f"  {label:<29} {elapsed:.3f} s "
            f"({elapsed / base:.2f}x bare), peak RSS growth {peak / 1e6:.1f} MB "
            f"({peak / output:.2f}x output), captured {captured / 1e6:.1f} MB"
        )


if __name__ == "__main__":
    bench_metrics()
    bench_host_info()
    bench_sources()
    bench_capture()
    bench_capture(unbuffered=True)
