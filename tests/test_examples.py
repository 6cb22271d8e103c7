"""Run the command-line transcripts in the docstrings of ``examples/*.py``.

A transcript is a line ``$ ./<file> <args>`` followed by the expected combined stdout and
stderr, up to the next blank line. Lines starting with ``:$`` are shown in the docs but not
run. Each transcript runs in a fresh copy of the examples folder (so ``-F runs`` always starts
with run 1 and leaves nothing behind), with unbuffered output so stdout and stderr interleave
as in a terminal. The output is compared line by line as a terminal shows it: ``\\r`` returns
to the start of the line, and trailing spaces and trailing blank lines are invisible.
"""

import ast
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
EXAMPLE_FILES = sorted(p for p in EXAMPLES.glob("*.py") if p.name != "__init__.py")


def parse_transcripts(docstring):
    """[(args, expected_lines)] for every ``$ ./file args`` block of a docstring."""
    transcripts = []
    lines = docstring.splitlines()
    i = 0
    while i < len(lines):
        stripped = lines[i].lstrip()
        if stripped.startswith("$ ./"):
            indent = len(lines[i]) - len(stripped)
            command = stripped[len("$ ./") :]
            _, _, args = command.partition(" ")
            expected = []
            i += 1
            while i < len(lines) and lines[i].strip():
                expected.append(lines[i][indent:].rstrip())
                i += 1
            transcripts.append((args, expected))
        i += 1
    return transcripts


def terminal_view(text):
    """The lines a terminal shows for ``text``: ``\\r`` overwrites from the line start."""
    shown = []
    for raw in text.split("\n"):
        line = ""
        for segment in raw.split("\r"):
            line = segment + line[len(segment) :]
        shown.append(line.rstrip())
    while shown and not shown[-1]:
        shown.pop()
    return shown


def docstring_of(path):
    return ast.get_docstring(ast.parse(path.read_text()), clean=False) or ""


def collect_cases():
    cases = []
    for path in EXAMPLE_FILES:
        for n, (args, expected) in enumerate(parse_transcripts(docstring_of(path))):
            cases.append(pytest.param(path.name, args, expected, id=f"{path.stem}-{n}"))
    return cases


@pytest.mark.parametrize("filename, args, expected", collect_cases())
def test_transcript(filename, args, expected, tmp_path):
    workdir = tmp_path / "examples"
    shutil.copytree(EXAMPLES, workdir, ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONHASHSEED="0")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, filename, *shlex.split(args)],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=120,
    )
    output = proc.stdout.decode("utf-8", errors="replace")
    assert terminal_view(output) == expected, f"$ ./{filename} {args}\n{output}"


def test_every_example_has_tested_transcripts():
    for path in EXAMPLE_FILES:
        assert parse_transcripts(docstring_of(path)), f"{path.name} has no transcript"


def test_examples_are_executable_scripts():
    for path in EXAMPLE_FILES:
        assert path.read_text().startswith("#!/usr/bin/env python\n"), path.name
        assert os.access(path, os.X_OK), f"{path.name} is not executable"


def test_transcript_parser():
    doc = """Intro.

    $ ./ex.py with a=1
    line one
      indented line

    :$ ./ex.py not run
    ignored

    $ ./ex.py
    only
    """
    assert parse_transcripts(doc) == [("with a=1", ["line one", "  indented line"]), ("", ["only"])]


def test_terminal_view():
    assert terminal_view("\r[#  ] 10%\r[## ] 50%\r[###] 99%\ndone  \n\n") == ["[###] 99%", "done"]
    assert terminal_view("abc\rd") == ["dbc"]
