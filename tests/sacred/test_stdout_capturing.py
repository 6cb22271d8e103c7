"""Output capturing: the modes, real file descriptors, C output, child processes.

pytest's own capturing sits on fds 1 and 2, so everything that redirects file
descriptors runs in a fresh Python process whose stdout/stderr are pipes.
"""

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from sacred.settings import SETTINGS
from sacred.stdout_capturing import (
    CapturedStdout,
    flush,
    get_stdcapturer,
    no_tee,
    tee_output_fd,
    tee_output_python,
)


def run_script(code, timeout=60, env=None):
    """Run ``code`` in a fresh interpreter; returns the CompletedProcess (bytes)."""
    full_env = dict(os.environ)
    full_env.pop("PYTHONUNBUFFERED", None)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=timeout,
        env=full_env,
    )


def result_of(proc):
    """The JSON the script wrote to the file named by RESULT (see scripts below)."""
    assert proc.returncode == 0, proc.stderr.decode()
    return proc


# ---------------------------------------------------------------- choosing a mode
def test_get_stdcapturer_default_is_the_setting():
    mode, factory = get_stdcapturer()
    assert mode == SETTINGS.CAPTURE_MODE
    assert factory is {"fd": tee_output_fd, "sys": tee_output_python}[mode]


@pytest.mark.parametrize(
    "mode, factory", [("no", no_tee), ("sys", tee_output_python), ("fd", tee_output_fd)]
)
def test_get_stdcapturer_modes(mode, factory):
    assert get_stdcapturer(mode) == (mode, factory)


def test_get_stdcapturer_unknown_mode():
    with pytest.raises(KeyError) as info:
        get_stdcapturer("foo")
    assert info.value.args[0] == (
        "Unknown capture mode 'foo'. Available options are ['fd', 'no', 'sys']"
    )


# ---------------------------------------------------------------- no and sys modes
def test_no_tee_captures_nothing(capsys):
    with no_tee() as out:
        print("hello")
        assert out.get() == ""
    assert out.get() == ""
    assert capsys.readouterr().out == "hello\n"


def test_sys_mode_tees_and_returns_only_new_text(capsys):
    original_stdout, original_stderr = sys.stdout, sys.stderr
    with tee_output_python() as out:
        print("foo")
        print("bar", file=sys.stderr)
        assert out.get() == "foo\nbar\n"
        assert out.get() == ""
        sys.stdout.write("bäz ✓")
        assert out.get() == "bäz ✓"
        assert not out.closed
    assert out.closed
    assert sys.stdout is original_stdout and sys.stderr is original_stderr
    print("after")
    assert out.get() == ""
    captured = capsys.readouterr()
    assert captured.out == "foo\nbäz ✓after\n"
    assert captured.err == "bar\n"


def test_sys_mode_stream_looks_like_the_original(capsys):
    original = sys.stdout
    with tee_output_python() as out:
        assert sys.stdout.encoding == original.encoding
        assert sys.stdout.isatty() == original.isatty()
        sys.stdout.buffer.write("raw ☃\n".encode(original.encoding))
        print("x", end="")
        sys.stdout.writelines(["a\n", "b\n"])
        assert out.get() == "raw ☃\nxa\nb\n"
    assert capsys.readouterr().out == "raw ☃\nxa\nb\n"


def test_sys_mode_text_left_at_exit_is_still_returned(capsys):
    with tee_output_python() as out:
        print("last words")
    assert out.get() == "last words\n"
    assert out.get() == ""


def test_sys_mode_get_from_another_thread_loses_nothing(capsys):
    lines = [f"line {i}\n" for i in range(20000)]
    collected = []
    with tee_output_python() as out:
        stop = threading.Event()

        def heartbeat():
            while not stop.is_set():
                collected.append(out.get())
                time.sleep(0.0005)

        beat = threading.Thread(target=heartbeat)
        beat.start()
        for i, line in enumerate(lines):
            sys.stdout.write(line)
            if i % 5000 == 4999:
                time.sleep(0.02)  # let the heartbeat thread in, even on a busy machine
        stop.set()
        beat.join()
        collected.append(out.get())
    assert "".join(collected) == "".join(lines)
    assert len([c for c in collected if c]) > 1  # really read while printing


def test_sys_mode_with_unusual_streams(monkeypatch):
    class Sink:
        """A bare object with write/flush, like some IDE consoles."""

        def __init__(self):
            self.parts = []

        def write(self, text):
            self.parts.append(text)
            return len(text)

        def flush(self):
            pass

    sink = Sink()
    monkeypatch.setattr(sys, "stdout", sink)
    monkeypatch.setattr(sys, "stderr", None)  # as under pythonw
    with tee_output_python() as out:
        print("to the sink")
        assert sys.stderr is None
        assert out.get() == "to the sink\n"
    assert sys.stdout is sink
    assert "".join(sink.parts) == "to the sink\n"


def test_captured_stdout_keeps_small_and_large_writes_in_order():
    out = CapturedStdout()
    for i in range(5000):
        out.write(str(i % 10))
    out.write("x" * 10000)
    out.write("end")
    assert out.get() == "0123456789" * 500 + "x" * 10000 + "end"
    assert out.get() == ""
    out.write("again")
    out.finalize()
    out.write("after the end")
    assert out.get() == "again"


def test_sys_mode_keeps_encoding_errors_and_fileno_of_a_file(tmp_path, monkeypatch):
    path = tmp_path / "out.txt"
    with open(path, "w", encoding="latin-1", errors="replace") as original:
        monkeypatch.setattr(sys, "stdout", original)
        with tee_output_python() as out:
            assert sys.stdout.encoding == "latin-1"
            assert sys.stdout.errors == "replace"
            assert sys.stdout.fileno() == original.fileno()
            assert not sys.stdout.isatty()
            print("café ☃", flush=True)  # the snowman is not latin-1
            sys.stdout.buffer.write(b"\xe9\n")
            assert out.get() == "café ?\né\n"
        assert sys.stdout is original
    assert path.read_bytes() == b"caf\xe9 ?\n\xe9\n"


def test_sys_mode_flush_true_reaches_the_original_at_once(monkeypatch):
    raw = io.BytesIO()
    original = io.TextIOWrapper(raw, encoding="utf-8")
    monkeypatch.setattr(sys, "stdout", original)
    with tee_output_python() as out:
        print("buffered", end=" ")
        print("flushed", flush=True)
        assert raw.getvalue() == b"buffered flushed\n"
        print("tail")
        assert out.get() == "buffered flushed\ntail\n"
        assert raw.getvalue() == b"buffered flushed\ntail\n"  # get() flushes too


def test_sys_mode_line_buffered_original_gets_each_line(monkeypatch):
    # like a terminal: a line goes out as soon as it is complete
    raw = io.BytesIO()
    original = io.TextIOWrapper(raw, encoding="utf-8", line_buffering=True)
    monkeypatch.setattr(sys, "stdout", original)
    with tee_output_python() as out:
        assert sys.stdout.line_buffering
        print("one")
        assert raw.getvalue() == b"one\n"
        sys.stdout.write("no newline yet")
        assert raw.getvalue() == b"one\n"
        print()
        assert raw.getvalue() == b"one\nno newline yet\n"
        assert out.get() == "one\nno newline yet\n"


def test_sys_mode_bytes_written_to_buffer_in_pieces(monkeypatch):
    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="utf-8"))
    with tee_output_python() as out:
        data = "é☃ ok\n".encode()
        for i in range(len(data)):
            sys.stdout.buffer.write(data[i : i + 1])
        sys.stdout.buffer.write(b"bad \xff\n")
        assert out.get() == "é☃ ok\nbad \ufffd\n"
    assert raw.getvalue() == data + b"bad \xff\n"


def test_sys_mode_threads_record_what_the_original_got(monkeypatch):
    # many threads, output far larger than one chunk: the recorded text and the text
    # that reached the original stream are the same, byte for byte
    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="utf-8"))

    def work(name):
        for i in range(3000):
            sys.stdout.write(f"{name} {i} ✓ {'x' * (i % 97)}\n")

    with tee_output_python() as out:
        threads = [threading.Thread(target=work, args=(f"t{n}",)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        text = out.get()
    assert text == raw.getvalue().decode()
    lines = text.splitlines()
    assert len(lines) == 12000
    for n in range(4):
        mine = [line.split()[1] for line in lines if line.startswith(f"t{n} ")]
        assert mine == [str(i) for i in range(3000)]


MEMORY_SCRIPT = """
import sys
from sacred.stdout_capturing import get_stdcapturer

def vm(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024

line = "z" * 999
before = vm("VmRSS:")
with get_stdcapturer(sys.argv[1])[1]() as out:
    for _ in range(30000):
        print(line)
text = out.get()
sys.stderr.write(f"{len(text)} {vm('VmHWM:') - before}")
"""


@pytest.mark.parametrize("mode, unbuffered", [("sys", False), ("sys", True), ("fd", False)])
def test_reading_all_output_at_the_end_holds_one_copy(mode, unbuffered):
    # get() hands the kept text over instead of joining a copy of it
    env = dict(os.environ)
    env.pop("PYTHONUNBUFFERED", None)
    if unbuffered:  # each print goes through on its own (see the tests below)
        env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, mode],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    length, growth = map(int, proc.stderr.split())
    assert length == 30_000_000
    assert growth < 45_000_000  # two copies would need 60 MB


# ---------------------------------------------------------------- sys mode, unbuffered streams
# An original stream that hands on each write (PYTHONUNBUFFERED) or each line (a terminal)
# gets a replacement whose write records the text and calls the original's write.


def unbuffered_stream():
    raw = io.BytesIO()
    return raw, io.TextIOWrapper(raw, encoding="utf-8", write_through=True)


def test_sys_mode_unbuffered_original_gets_each_write_at_once(monkeypatch):
    raw_out, original_out = unbuffered_stream()
    raw_err, original_err = unbuffered_stream()
    monkeypatch.setattr(sys, "stdout", original_out)
    monkeypatch.setattr(sys, "stderr", original_err)
    with tee_output_python() as out:
        assert isinstance(sys.stdout, io.TextIOWrapper) and sys.stdout is not original_out
        assert sys.stdout.write_through and sys.stdout.encoding == "utf-8"
        print("one")
        assert raw_out.getvalue() == b"one\n"
        print("two ✓", file=sys.stderr)
        assert raw_err.getvalue() == "two ✓\n".encode()
        assert sys.stdout.write("three") == 5
        assert raw_out.getvalue() == b"one\nthree"
        sys.stdout.buffer.write(b" raw\n")
        sys.stdout.writelines(["a\n", "b\n"])
        print("flushed", flush=True)
        assert out.get() == "one\ntwo ✓\nthree raw\na\nb\nflushed\n"
        assert out.get() == ""
    assert sys.stdout is original_out and sys.stderr is original_err
    assert raw_out.getvalue() == b"one\nthree raw\na\nb\nflushed\n"


def test_sys_mode_unbuffered_write_refused_by_the_original_is_not_recorded(monkeypatch):
    raw, original = unbuffered_stream()
    monkeypatch.setattr(sys, "stdout", original)
    with tee_output_python() as out:
        print("before")
        with pytest.raises(TypeError) as info:
            sys.stdout.write(b"bytes")
        assert str(info.value) == "write() argument must be str, not bytes"
        with pytest.raises(UnicodeEncodeError):
            sys.stdout.write("lone \udc80 surrogate")  # strict errors: not written
        print("after")
        assert out.get() == "before\nafter\n"
    assert raw.getvalue() == b"before\nafter\n"


@pytest.mark.parametrize("write_through", [True, False])
def test_sys_mode_stream_kept_after_the_capture_only_writes_to_the_original(
    monkeypatch, write_through
):
    # e.g. a logging.StreamHandler(sys.stdout) made during the run
    raw = io.BytesIO()
    original = io.TextIOWrapper(raw, encoding="utf-8", write_through=write_through)
    monkeypatch.setattr(sys, "stdout", original)
    with tee_output_python() as out:
        kept = sys.stdout
        print("inside")
    kept.write("after the end\n")
    kept.flush()
    assert out.get() == "inside\n"
    assert out.get() == ""
    assert raw.getvalue() == b"inside\nafter the end\n"


def test_sys_mode_unbuffered_threads_record_every_write_once(monkeypatch):
    raw, original = unbuffered_stream()
    monkeypatch.setattr(sys, "stdout", original)

    def work(name):
        for i in range(3000):
            sys.stdout.write(f"{name} {i} ✓ {'x' * (i % 97)}\n")  # print() makes two writes

    with tee_output_python() as out:
        threads = [threading.Thread(target=work, args=(f"t{n}",)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        text = out.get()
    # writes running at the same time may be recorded in another order than the stream
    # got them, but each is recorded once, whole, and each thread keeps its order
    assert sorted(text.split("\n")) == sorted(raw.getvalue().decode().split("\n"))
    lines = text.splitlines()
    assert len(lines) == 12000
    for n in range(4):
        mine = [line.split()[1] for line in lines if line.startswith(f"t{n} ")]
        assert mine == [str(i) for i in range(3000)]


SMALL_WRITES_SCRIPT = """
import sys
from sacred.stdout_capturing import tee_output_python

def vm(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024

before = vm("VmRSS:")
with tee_output_python() as out:
    for i in range(1_000_000):
        print(i % 10000)  # a new short string each time
text = out.get()
growth = vm("VmHWM:") - before
expected = "".join(f"{i % 10000}\\n" for i in range(1_000_000))
sys.stderr.write(f"{text == expected} {growth}")
"""


def test_sys_mode_unbuffered_many_small_writes_are_kept_compact():
    # each write is first kept as the object written (a list entry and a small string
    # each); a thread joins them into one string as they come
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [sys.executable, "-c", SMALL_WRITES_SCRIPT],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    same, growth = proc.stderr.split()
    assert same == "True"
    # 5.9 MB of text; kept as 2 million list entries and strings it would be over 70 MB
    assert int(growth) < 30_000_000


def test_sys_mode_unbuffered_forked_child_prints_but_is_not_recorded():
    proc = run_script(
        """
        import os, sys
        from sacred.stdout_capturing import tee_output_python
        with tee_output_python() as out:
            print("parent before")
            pid = os.fork()
            if pid == 0:
                for i in range(20000):
                    print("child", i)
                os._exit(0)
            _, status = os.waitpid(pid, 0)
            print("parent after")
            text = out.get()
        sys.stderr.write(repr((status, text)))
        """,
        env={"PYTHONUNBUFFERED": "1"},
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stderr.decode() == repr((0, "parent before\nparent after\n"))
    lines = proc.stdout.decode().splitlines()
    assert [line for line in lines if line.startswith("parent")] == [
        "parent before",
        "parent after",
    ]
    assert [line for line in lines if line.startswith("child")] == [
        f"child {i}" for i in range(20000)
    ]


# ---------------------------------------------------------------- fd mode (subprocesses)
FD_SCRIPT_HEADER = """
import ctypes, json, os, subprocess, sys, threading, time
from sacred.stdout_capturing import get_stdcapturer, flush
mode, factory = get_stdcapturer("fd")
def report(**values):
    with open(os.environ["RESULT"], "w") as f:
        json.dump(values, f)
"""


def run_fd_script(tmp_path, body, timeout=60):
    result_file = tmp_path / "result.json"
    proc = run_script(
        FD_SCRIPT_HEADER + textwrap.dedent(body),
        timeout=timeout,
        env={"RESULT": str(result_file)},
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return proc, json.loads(result_file.read_text())


def test_fd_mode_captures_python_c_and_child_process_output(tmp_path):
    proc, result = run_fd_script(
        tmp_path,
        """
        libc = ctypes.CDLL(None)
        with factory() as out:
            print("from python")
            print("to stderr", file=sys.stderr)
            libc.printf(b"from C %d\\n", 42)
            flush()  # stdout is a pipe, so Python and C buffer it
            subprocess.run(["echo", "from a child"], check=True)
            subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('child err\\\\n')"])
            first = out.get()
            print("second part")
        rest = out.get()
        print("not captured")
        report(first=first, rest=rest, after=out.get())
        """,
    )
    # each stream keeps its order; how stdout and stderr interleave is up to timing
    lines = result["first"].splitlines(keepends=True)
    assert sorted(lines) == sorted(
        ["from python\n", "from C 42\n", "from a child\n", "to stderr\n", "child err\n"]
    )
    stdout_lines = [line for line in lines if "err" not in line]
    assert stdout_lines == ["from python\n", "from C 42\n", "from a child\n"]
    assert result["rest"] == "second part\n"
    assert result["after"] == ""
    # everything still reached the real stdout and stderr
    assert proc.stdout.decode() == (
        "from python\nfrom C 42\nfrom a child\nsecond part\nnot captured\n"
    )
    assert proc.stderr.decode() == "to stderr\nchild err\n"


def test_fd_mode_records_whole_lines_of_interleaved_streams(tmp_path):
    # unbuffered: print() makes two writes, the text and then its newline
    proc, result = run_fd_script(
        tmp_path,
        """
        sys.stdout = open(1, "w", buffering=1, closefd=False)
        sys.stdout.reconfigure(write_through=True, line_buffering=False)
        N = 20000
        with factory() as out:
            for i in range(N):
                sys.stdout.write(f"out {i}")
                sys.stdout.write("\\n")
                os.write(2, f"err {i}\\n".encode())
        report(text=out.get())
        """,
    )
    n = 20000
    lines = result["text"].splitlines()
    assert sorted(lines) == sorted([f"out {i}" for i in range(n)] + [f"err {i}" for i in range(n)])
    assert [line for line in lines if line.startswith("out")] == [f"out {i}" for i in range(n)]


def test_fd_mode_restores_the_file_descriptors(tmp_path):
    proc, result = run_fd_script(
        tmp_path,
        """
        before = [os.fstat(1).st_ino, os.fstat(2).st_ino]
        with factory() as out:
            inside = [os.fstat(1).st_ino, os.fstat(2).st_ino]
        after = [os.fstat(1).st_ino, os.fstat(2).st_ino]
        os.write(1, b"direct\\n")
        report(before=before, inside=inside, after=after)
        """,
    )
    assert result["before"] == result["after"]
    assert result["inside"][0] != result["before"][0]
    assert proc.stdout == b"direct\n"


def test_fd_mode_decodes_utf8_split_across_writes(tmp_path):
    proc, result = run_fd_script(
        tmp_path,
        """
        data = "é☃".encode()
        with factory() as out:
            for i in range(len(data)):
                os.write(1, data[i:i + 1])
                time.sleep(0.01)
            os.write(1, b" bad:\\xff\\n")
            text = out.get()
        report(text=text)
        """,
    )
    assert result["text"] == "é☃ bad:\ufffd\n"
    assert proc.stdout == "é☃ bad:".encode() + b"\xff\n"


def test_fd_mode_does_not_hang_on_a_child_that_keeps_the_pipe_open(tmp_path):
    pid_file = tmp_path / "pid"
    try:
        proc, result = run_fd_script(
            tmp_path,
            f"""
            with factory() as out:
                print("before the child")
                subprocess.run("sleep 100 & echo $! > {pid_file}", shell=True)
                print("after the child")
                start = time.monotonic()
            report(exit_seconds=time.monotonic() - start, text=out.get())
            """,
            timeout=30,
        )
        assert result["exit_seconds"] < 5
        assert result["text"] == "before the child\nafter the child\n"
    finally:
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_fd_mode_get_from_heartbeat_thread_loses_nothing(tmp_path):
    proc, result = run_fd_script(
        tmp_path,
        """
        pieces = []
        with factory() as out:
            stop = threading.Event()
            def heartbeat():
                while not stop.is_set():
                    pieces.append(out.get())
                    time.sleep(0.001)
            beat = threading.Thread(target=heartbeat)
            beat.start()
            for i in range(50000):
                print("line", i)
                if i % 5000 == 4999:
                    time.sleep(0.02)  # let the heartbeat thread in, even on a busy machine
            sys.stdout.flush()
            stop.set()
            beat.join()
            pieces.append(out.get())
        pieces.append(out.get())
        report(text="".join(pieces), reads=len([p for p in pieces if p]))
        """,
    )
    expected = "".join(f"line {i}\n" for i in range(50000))
    assert result["text"] == expected
    assert result["reads"] > 1
    assert proc.stdout.decode() == expected


def test_fd_mode_holds_only_text_not_yet_returned(tmp_path):
    proc, result = run_fd_script(
        tmp_path,
        """
        def vm(field):
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith(field):
                        return int(line.split()[1]) * 1024
        line = "y" * 999
        total = 0
        before = vm("VmRSS:")
        with factory() as out:
            for _ in range(30):
                for _ in range(1000):
                    print(line)
                total += len(out.get())
        report(total=total, growth=vm("VmHWM:") - before)
        """,
    )
    assert result["total"] == 30000 * 1000
    # 30 MB went through; holding a copy of it would need more than that
    assert result["growth"] < 15_000_000
    assert len(proc.stdout) == 30000 * 1000


def test_fd_mode_records_python_c_and_os_writes_in_the_order_written(tmp_path):
    # block-buffered Python streams bypass the pipes; the rest still comes through them
    proc, result = run_fd_script(
        tmp_path,
        """
        libc = ctypes.CDLL(None)
        original = sys.stdout
        with factory() as out:
            inside = dict(
                replaced=sys.stdout is not original,
                fileno=[sys.stdout.fileno(), sys.stderr.fileno()],
                isatty=sys.stdout.isatty(),
            )
            for i in range(300):
                print(f"py {i}" + ("y" * 9000 if i % 3 else ""))  # big writes skip the pipe
                sys.stdout.flush()
                os.write(1, f"os {i}\\n".encode())
                libc.printf(b"c %d\\n", i)
                libc.fflush(None)
                print(f"err {i}", file=sys.stderr)
            subprocess.run([sys.executable, "-c", "print('child via sys.stdout')"],
                           stdout=sys.stdout, check=True)
            print("last, unflushed")
            text = out.get()
        report(text=text, inside=inside, restored=sys.stdout is original)
        """,
    )
    expected_out = "".join(
        f"py {i}" + ("y" * 9000 if i % 3 else "") + f"\nos {i}\nc {i}\n" for i in range(300)
    )
    expected_out += "child via sys.stdout\nlast, unflushed\n"
    assert [line for line in result["text"].splitlines(keepends=True) if "err" not in line] == (
        expected_out.splitlines(keepends=True)
    )
    assert "".join(line for line in result["text"].splitlines(True) if "err" in line) == (
        "".join(f"err {i}\n" for i in range(300))
    )
    assert proc.stdout.decode() == expected_out
    assert proc.stderr.decode() == "".join(f"err {i}\n" for i in range(300))
    assert result["inside"] == {"replaced": True, "fileno": [1, 2], "isatty": False}
    assert result["restored"]


def test_fd_mode_captures_what_forked_children_print(tmp_path):
    # a forked child (multiprocessing, DataLoader workers) prints through the pipes again
    proc, result = run_fd_script(
        tmp_path,
        """
        import multiprocessing
        def child(k):
            for i in range(500):
                print(f"child {k} {i}", file=log if i % 2 else sys.stdout)
            log.flush()
            sys.stdout.flush()
        with factory() as out:
            log = sys.stdout  # e.g. held by a logging handler made during the run
            children = []
            for k in range(4):
                for i in range(3000):
                    print("parent", k, i)
                p = multiprocessing.get_context("fork").Process(target=child, args=(k,))
                p.start()
                children.append(p)
            for p in children:
                p.join(timeout=60)
            text = out.get()
        report(text=text, codes=[p.exitcode for p in children])
        """,
        timeout=120,
    )
    assert result["codes"] == [0, 0, 0, 0]
    lines = result["text"].splitlines()
    for k in range(4):  # two stream objects, two buffers: each keeps its own order
        mine = [line for line in lines if line.startswith(f"child {k} ")]
        assert sorted(mine) == sorted(f"child {k} {i}" for i in range(500))
        assert [x for x in mine if int(x.split()[2]) % 2] == [
            f"child {k} {i}" for i in range(1, 500, 2)
        ]
    assert sum(line.startswith("parent") for line in lines) == 12000
    assert proc.stdout.decode().count("child") == 2000


def test_fd_mode_keeps_line_buffered_and_unbuffered_streams_on_the_pipes(tmp_path):
    # a write per line or per print would pay for the order check each time
    proc, result = run_fd_script(
        tmp_path,
        """
        sys.stdout.reconfigure(line_buffering=True)
        sys.stderr.reconfigure(write_through=True)
        streams = sys.stdout, sys.stderr
        with factory() as out:
            same = [sys.stdout is streams[0], sys.stderr is streams[1]]
            print("line")
            print("err", file=sys.stderr)
            text = out.get()
        report(same=same, text=text)
        """,
    )
    assert result["same"] == [True, True]
    assert sorted(result["text"].splitlines()) == ["err", "line"]


def test_flush_flushes_c_stdio_buffers(tmp_path):
    code = """
    import ctypes, os
    from sacred.stdout_capturing import flush
    libc = ctypes.CDLL(None)
    libc.printf(b"first ")
    flush()
    os.write(1, b"second")
    """
    assert run_script(code).stdout == b"first second"
    # without flush() C's buffer (stdout is a pipe here) comes out last
    no_flush = code.replace("    flush()\n", "")
    assert run_script(no_flush).stdout == b"secondfirst "


def test_flush_survives_closed_streams():
    proc = run_script(
        """
        import sys
        from sacred.stdout_capturing import flush
        sys.stdout.close()
        sys.stderr = None
        flush()
        """
    )
    assert proc.returncode == 0, proc.stderr


# ---------------------------------------------------------------- pytee
def test_pytee_copies_stdin_to_stdout_and_stderr():
    data = "héllo\n".encode() + b"\xff\x00 binary\n" * 1000
    proc = subprocess.run(
        [sys.executable, "-m", "sacred.pytee"],
        input=data,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=30,
    )
    assert proc.returncode == 0
    assert proc.stdout == data
    assert proc.stderr == data


def test_flush_in_process_does_not_raise(capsys):
    print("pending", end="")
    flush()
    assert capsys.readouterr().out == "pending"


ORDER_SCRIPT = """
import sys, subprocess
from sacred.stdout_capturing import tee_output_fd
with tee_output_fd() as out:
    for i in range(300):
        print(f"out {i}", flush=True)
        print(f"err {i}", file=sys.stderr, flush=True)
    subprocess.run(["sh", "-c", "echo child-out; echo child-err >&2"])
    text = out.get()
expected = "".join(f"out {i}\\nerr {i}\\n" for i in range(300)) + "child-out\\nchild-err\\n"
sys.__stdout__.write("ORDER_OK\\n" if text == expected else "ORDER_BAD " + repr(text[:200]))
"""


def test_fd_mode_keeps_the_order_of_stdout_and_stderr_going_to_one_place():
    # like `python exp.py > log 2>&1` or a terminal: both fds point at one file
    proc = subprocess.run(
        [sys.executable, "-c", ORDER_SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
    )
    assert proc.stdout.endswith("ORDER_OK\n"), proc.stdout[-500:]
    # and the terminal side saw the same order
    assert proc.stdout.startswith("out 0\nerr 0\nout 1\nerr 1\n")
