"""Running Python in a child process whose stderr is a terminal (a pty) or a pipe, as a user's
shell or a CI job runs it: for the progress bars, drawn only on a terminal."""

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios

NO_TQDM = "import sys; sys.modules['tqdm'] = None\n"  # as if tqdm were not installed


def in_a_pipe(code, cwd=None, without_tqdm=False, timeout=60):
    """Run Python ``code`` with stdout and stderr pipes: (exit code, stdout, stderr)."""
    code = (NO_TQDM if without_tqdm else "") + code
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )
    return done.returncode, done.stdout, done.stderr


def on_a_terminal(code, cwd=None, timeout=60):
    """Run Python ``code`` with stderr a 100-column terminal and stdout a pipe:
    (exit code, stdout, what the terminal showed)."""
    return command_on_a_terminal([sys.executable, "-c", code], cwd, timeout)


def command_on_a_terminal(argv, cwd=None, timeout=60):
    """``on_a_terminal`` for a command line: (exit code, stdout, what the terminal showed)."""
    return _on_a_pty(argv, cwd, timeout, stdout_too=False)


def in_a_shell(code, cwd=None, timeout=120):
    """Run Python ``code`` with stdout and stderr one 100-column terminal, as in a shell:
    (exit code, what the terminal showed)."""
    code, _, shown = _on_a_pty([sys.executable, "-c", code], cwd, timeout, stdout_too=True)
    return code, shown


def _on_a_pty(argv, cwd, timeout, stdout_too):
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen(
        argv,
        stdout=child if stdout_too else subprocess.PIPE,
        stderr=child,
        stdin=subprocess.DEVNULL if stdout_too else None,
        cwd=cwd,
        text=True,
    )
    os.close(child)
    shown = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    out = "" if stdout_too else proc.stdout.read()
    proc.wait(timeout=timeout)
    os.close(main)
    return proc.returncode, out, shown.decode()
