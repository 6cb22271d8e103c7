"""Benchmarks of output capturing: a print loop with and without capturing.

Run: ``python bench/bench_capture.py [--quick] [--root CHECKOUT]`` (prints numbers; asserts
nothing). ``--root`` measures the ``sacred`` of another checkout (e.g. an older commit
from ``git archive``) with the same script.

Each number is a ratio to the bare print loop measured in the same process just before
(the bare loop alone varies by a third between processes), the median over several
processes; printed output goes to /dev/null (not a terminal). CPU time
(``time.process_time``, all threads, steadier on a busy machine) and wall-clock time are
shown. The headline ratios compare with a bare loop in a process that has no other
thread yet, as a user's own script: a run's heartbeat thread alone costs about 8% of such
a loop (see ``_first_and_later``).

Target (issue 12): 524,288 ``print()`` calls of 100 characters inside a run with
``--capture=sys`` and a FileStorageObserver take <= 1.2x the bare loop, with
PYTHONUNBUFFERED=1 (each print reaches the stream at once). The reference models the
original's sys mode (a ``wrapt.ObjectProxy`` around the stream that also writes into a
``StringIO``) in the same run setting; the original itself measured 1.3 s against a bare
loop of 0.77 s here (1.7x).
"""

import os
import statistics
import subprocess
import sys
import tempfile
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LINES = 524_288  # 50 MB of 100-byte lines
TARGET = 1.2

RUN_SCRIPT = textwrap.dedent(
    """
    import io, os, shutil, sys, tempfile, time
    sys.path.insert(0, {root!r})
    from sacred import Experiment

    LINE = "x" * 99
    N = {n}
    MODE = sys.argv[1]


    def loop():
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(N):
            print(LINE)
        sys.stdout.flush()
        return time.perf_counter() - wall, time.process_time() - cpu


    def reference_loop():
        # the original's sys mode: a wrapt proxy whose write also goes into a StringIO
        try:
            from wrapt import ObjectProxy
        except ImportError:
            ObjectProxy = None
        if ObjectProxy is not None:

            class Tee(ObjectProxy):
                def __init__(self, wrapped, buffer):
                    super().__init__(wrapped)
                    self._self_buffer = buffer

                def write(self, data):
                    self.__wrapped__.write(data)
                    self._self_buffer.write(data)

        else:

            class Tee:
                def __init__(self, wrapped, buffer):
                    self.__wrapped__, self._self_buffer = wrapped, buffer

                def __getattr__(self, name):
                    return getattr(self.__wrapped__, name)

                def write(self, data):
                    self.__wrapped__.write(data)
                    self._self_buffer.write(data)

        original = sys.stdout
        sys.stdout = Tee(original, io.StringIO())
        try:
            return loop()
        finally:
            sys.stdout = original


    ex = Experiment("printer")


    @ex.main
    def main():
        return reference_loop() if MODE == "reference" else loop()


    for _ in range({rounds}):
        folder = tempfile.mkdtemp()
        bare = loop()
        capture = "no" if MODE == "reference" else MODE
        run = ex.run_commandline(
            ["bench", "--capture=" + capture, "-F", folder, "-l", "WARNING"]
        )
        wall, cpu = run.result
        with open(os.path.join(folder, "1", "cout.txt")) as f:
            kept = len(f.read())
        shutil.rmtree(folder)
        print(wall / bare[0], cpu / bare[1], bare[1], kept, file=sys.stderr)
    """
)

LOOP_SCRIPT = textwrap.dedent(
    """
    import sys, threading, time
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

    def loop():
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            print(line)
        sys.stdout.flush()
        return time.perf_counter() - wall, time.process_time() - cpu

    bare = loop()
    captured = 0
    before = rss("VmRSS:")
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
        wall, cpu = loop()
        if getter == "beat":
            stop.set()
            t.join()
        captured += len(out.get())
    captured += len(out.get())
    peak = rss("VmHWM:") - before
    print(wall / bare[0], cpu / bare[1], bare[1], peak, captured, file=sys.stderr)
    """
)


def _env(unbuffered):
    env = dict(os.environ)
    env.pop("PYTHONUNBUFFERED", None)
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    return env


def _rows(code, args, env):
    """The numbers that one process of ``code`` prints, one list per round."""
    with tempfile.TemporaryDirectory() as tmp, open(os.devnull, "w") as devnull:
        script = os.path.join(tmp, "bench_script.py")  # an experiment needs a source file
        with open(script, "w") as f:
            f.write(code)
        proc = subprocess.run(
            [sys.executable, script, *args],
            stdout=devnull,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            cwd=tmp,
        )
    if proc.returncode:
        raise RuntimeError(proc.stderr)
    return [[float(x) for x in line.split()] for line in proc.stderr.splitlines() if line]


def _summary(rows):
    wall = statistics.median(r[0] for r in rows)
    cpu = statistics.median(r[1] for r in rows)
    bare = statistics.median(r[2] for r in rows)
    return f"{cpu:.2f}x CPU, {wall:.2f}x wall (median of {len(rows)}, bare loop {bare:.2f} s CPU)"


def _first_and_later(per_process):
    """Rows of the first round of each process, and of the later rounds.

    In the first round the bare loop runs in a process without any other thread, as a
    user's own script does: that is the reading a user sees. From the second round on,
    the heartbeat thread of the first run (a daemon) lives during both loops. A live
    thread alone makes a write-per-print loop slower here (the kernel takes a reference
    to the file at each write once the fd table is shared by threads), for the bare loop
    as for the captured one: the later rounds show the cost of capturing alone.
    """
    first = [rows[0] for rows in per_process]
    later = [row for rows in per_process for row in rows[1:]]
    return first, later


def bench_capture_in_run(unbuffered=True, processes=7, rounds=3):
    """The issue's case: the loop inside a run with a FileStorageObserver."""
    code = RUN_SCRIPT.format(root=ROOT, n=LINES, rounds=rounds)
    env = _env(unbuffered)
    print(
        f"print loop of {LINES:,} lines (50 MB) inside a run with a FileStorageObserver, "
        f"PYTHONUNBUFFERED={int(unbuffered)}, to the same loop in a script without threads "
        f"(target for --capture=sys: <= {TARGET}x):"
    )
    cases = [
        ("sys", "--capture=sys"),
        ("no", "--capture=no (the heartbeat thread alone)"),
        ("reference", "original-style sys tee"),
        ("fd", "--capture=fd"),
    ]
    results = {mode: [] for mode, _ in cases}
    for _ in range(processes):  # interleaved: a busy moment does not hit one case only
        for mode, _ in cases:
            results[mode].append(_rows(code, [mode], env))
    later_lines = []
    for mode, label in cases:
        first, later = _first_and_later(results[mode])
        kept = sorted({int(r[3]) for r in first + later})
        print(f"  {label + ':':<44} {_summary(first)}; cout.txt {kept} chars")
        later_lines.append(f"  {label + ':':<44} {_summary(later)}")
    print("  the same with the heartbeat thread of an earlier run alive during the bare loop")
    print("  too (what capturing alone costs; not what a user's script sees):")
    print("\n".join(later_lines))


def bench_capture_modes(unbuffered=False, processes=5):
    """The capture context alone (no run), with get() at the end or every 0.1 s."""
    code = LOOP_SCRIPT.format(root=ROOT, n=LINES)
    env = _env(unbuffered)
    print(f"print loop of 50 MB in a capture context, PYTHONUNBUFFERED={int(unbuffered)}:")
    cases = [("sys", "end"), ("sys", "beat"), ("fd", "end"), ("fd", "beat")]
    results = {case: [] for case in cases}
    for _ in range(processes):
        for case in cases:
            results[case] += _rows(code, list(case), env)
    for (mode, getter), rows in results.items():
        peak = min(r[3] for r in rows)
        captured = rows[0][4]
        label = f"{mode} mode, get() {'every 0.1 s' if getter == 'beat' else 'at the end'}"
        print(
            f"  {label:<29} {_summary(rows)}, peak RSS growth {peak / 1e6:.1f} MB "
            f"({peak / (LINES * 100):.2f}x output), captured {captured / 1e6:.1f} MB"
        )


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    if "--root" in sys.argv:
        ROOT = os.path.abspath(sys.argv[sys.argv.index("--root") + 1])
    print(f"sacred from {ROOT}")
    print("load average at the start: %.1f %.1f %.1f" % os.getloadavg())
    bench_capture_in_run(unbuffered=True, processes=3 if quick else 7)
    bench_capture_in_run(unbuffered=False, processes=2 if quick else 5)
    if not quick:
        bench_capture_modes(unbuffered=True)
        bench_capture_modes(unbuffered=False)
    print("load average at the end: %.1f %.1f %.1f" % os.getloadavg())
