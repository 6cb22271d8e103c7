"""Benchmarks of the run-time helpers: metrics, host info, source discovery.

Output capturing has its own: ``bench/bench_capture.py``.

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


if __name__ == "__main__":
    bench_metrics()
    bench_host_info()
    bench_sources()
    print("capturing: see bench/bench_capture.py")
