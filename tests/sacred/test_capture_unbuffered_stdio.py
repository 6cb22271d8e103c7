"""sys capture of Python's own stdout/stderr when they are unbuffered (PYTHONUNBUFFERED, not
a terminal): what reaches the file descriptors and what is recorded are those of the
stream without capture, byte for byte and error for error.

Each case runs in a fresh interpreter whose stdout and stderr are pipes (pytest replaces
``sys.stdout`` in its own process).
"""

import os
import subprocess
import sys
import textwrap

import pytest


def run(code, ioencoding=None, timeout=60):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("PYTHONIOENCODING", None)
    if ioencoding:
        env["PYTHONIOENCODING"] = ioencoding
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        timeout=timeout,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc


def test_what_reaches_the_fds_and_the_record_in_the_order_written():
    proc = run(
        """
        import os, sys
        from sacred.stdout_capturing import tee_output_python
        assert sys.stdout.write_through and not sys.stdout.isatty()
        with tee_output_python() as out:
            print("one")
            n = sys.stdout.write("zwei ✓ 三\\n")  # characters, not bytes
            os.write(1, b"[fd]")
            print("err ✓", file=sys.stderr)
            sys.stdout.writelines(["a", "b\\n"])
            sys.stdout.buffer.write(b"raw\\n")
            sys.__stdout__.write("original\\n")
            print("x" * 100_000, end="|\\n")
            print("flushed", flush=True)
            text = out.get()
        print("after")
        sys.stderr.write(repr((n, text)))
        """
    )
    big = "x" * 100_000 + "|\n"
    expected_out = "one\nzwei ✓ 三\n[fd]ab\nraw\noriginal\n" + big + "flushed\nafter\n"
    assert proc.stdout.decode() == expected_out
    n, text = eval(proc.stderr.decode().split("\n", 1)[1])
    assert n == 9
    # os.write and writes to sys.__stdout__ are not Python-level writes to sys.stdout
    assert text == "one\nzwei ✓ 三\nerr ✓\nab\nraw\n" + big + "flushed\n"


def test_refused_writes_raise_the_streams_own_error_and_are_not_recorded():
    proc = run(
        """
        import sys
        from sacred.stdout_capturing import tee_output_python

        def error(write, value):
            try:
                write(value)
            except Exception as e:
                return f"{type(e).__name__}: {e}"

        plain = error(sys.stdout.write, b"bytes")
        with tee_output_python() as out:
            print("before")
            captured = error(sys.stdout.write, b"bytes")
            print("after")
            text = out.get()
        sys.stderr.write(repr((plain, captured, text)))
        """
    )
    plain, captured, text = eval(proc.stderr.decode())
    assert plain == captured == "TypeError: write() argument must be str, not bytes"
    assert text == "before\nafter\n"
    assert proc.stdout == b"before\nafter\n"


def test_a_closed_stdout_raises_as_without_capture():
    proc = run(
        """
        import sys
        from sacred.stdout_capturing import tee_output_python

        stdout = sys.stdout
        with tee_output_python() as out:
            print("before")
            stdout.close()
            try:
                print("lost")
            except ValueError as e:
                error = str(e)
            text = out.get()
        sys.stderr.write(repr((error, text)))
        """
    )
    error, text = eval(proc.stderr.decode())
    assert error == "I/O operation on closed file."
    assert text == "before\n"
    assert proc.stdout == b"before\n"


@pytest.mark.parametrize("errors", ["strict", "surrogateescape"])
def test_lone_surrogates_as_the_streams_error_handler_says(errors):
    # e.g. a file name read with os.fsdecode from bytes that are not UTF-8
    proc = run(
        """
        import sys
        from sacred.stdout_capturing import tee_output_python

        def attempt(text):
            try:
                return sys.stdout.write(text)
            except UnicodeEncodeError as e:
                return str(e)

        plain = attempt("a\\udc80b\\n")
        with tee_output_python() as out:
            captured = attempt("a\\udc80b\\n")
            print("end")
            text = out.get()
        sys.stderr.write(ascii((plain, captured, text)))
        """,
        ioencoding="utf-8:" + errors,
    )
    plain, captured, text = eval(proc.stderr.decode())
    assert captured == plain
    if errors == "strict":
        assert "surrogates not allowed" in captured
        assert text == "end\n"
        assert proc.stdout == b"end\n"
    else:
        assert captured == 4
        # recorded with U+FFFD, as --capture fd records such bytes: every store takes it
        assert text == "a\ufffdb\nend\n"
        assert proc.stdout == b"a\x80b\na\x80b\nend\n"


def test_in_a_run_the_heartbeat_stores_the_output_so_far(tmp_path):
    folder = tmp_path / "runs"
    proc = run(
        f"""
        import os, sys, time
        from sacred import Experiment
        from sacred.observers import FileStorageObserver

        ex = Experiment("printer", interactive=True)
        ex.observers.append(FileStorageObserver({str(folder)!r}))
        printed = "".join(f"line {{i}}\\n" for i in range(20000))

        @ex.main
        def main(_run):
            for i in range(20000):
                print("line", i)
            path = os.path.join({str(folder)!r}, str(_run._id), "cout.txt")
            deadline = time.time() + 30
            stored = ""
            while stored != printed and time.time() < deadline:
                time.sleep(0.05)
                with open(path) as f:
                    stored = f.read()
            with open({str(tmp_path / "seen")!r}, "w") as f:
                f.write(stored)
            print("last")

        ex.run(options={{"--capture": "sys", "--beat-interval": "0.1"}})
        """
    )
    expected = "".join(f"line {i}\n" for i in range(20000))
    assert proc.stdout.decode() == expected + "last\n"
    # the output printed before a beat is stored by it, while the run goes on
    assert (tmp_path / "seen").read_text() == expected
    assert (folder / "1" / "cout.txt").read_text() == expected + "last\n"
