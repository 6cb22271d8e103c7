"""A mistyped store URL gives one line: the known schemes with the nearest one, or how to
write the URL, for the experiment's ``-s`` as for the ``sacred`` tool."""

import subprocess
import sys
import textwrap

import pytest

EXPERIMENT = textwrap.dedent(
    """
    from sacred import Experiment

    ex = Experiment("urls")

    @ex.automain
    def main():
        print("ran")
    """
)

STORE_SCHEMES = "file, gs, mongodb, mongodb+srv, mysql, postgres, postgresql, s3, sqlite, tinydb"
SQL_SCHEMES = "mysql, postgresql, sqlite"


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "exp.py").write_text(EXPERIMENT)
    return tmp_path


def run(folder, *argv):
    return subprocess.run(
        [sys.executable, *argv], cwd=folder, capture_output=True, text=True, timeout=120
    )


def last_line(done):
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "ran" not in done.stdout
    return done.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    "url, expected",
    [
        (
            "sqllite:///x.db",
            "Unknown SQL scheme 'sqllite' (did you mean sqlite?); "
            f"known schemes: {SQL_SCHEMES} (or any SQLAlchemy URL)",
        ),
        (
            "postgresq://user@localhost/db",
            "Unknown SQL scheme 'postgresq' (did you mean postgresql?); "
            f"known schemes: {SQL_SCHEMES} (or any SQLAlchemy URL)",
        ),
        ("runs.db", "'runs.db' is not a database URL: for an SQLite file, use sqlite:///runs.db"),
        (
            "sqlite:/x.db",
            "'sqlite:/x.db' is not a database URL: for an SQLite file, use sqlite:///x.db",
        ),
    ],
)
def test_the_sql_option_says_what_is_wrong_in_one_line(folder, url, expected):
    done = run(folder, "exp.py", "-s", url)
    assert last_line(done) == f"sacred.utils.CommandLineError: {expected}"
    assert sorted(p.name for p in folder.iterdir()) == ["exp.py"]  # nothing was created


def test_the_sql_option_still_takes_a_good_url(folder):
    done = run(folder, "exp.py", "-s", "sqlite:///ok.db")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ran\n"
    assert (folder / "ok.db").exists()


def test_the_sacred_tool_suggests_the_nearest_scheme(folder):
    done = run(folder, "-m", "sacred.store.cli", "runs", "list", "sqllite:///x.db")
    assert last_line(done) == (
        f"sacred: error: Unknown store scheme 'sqllite' (did you mean sqlite?); "
        f"known schemes: {STORE_SCHEMES}."
    )


def test_an_unknown_scheme_without_a_near_one_lists_the_known_ones(folder):
    done = run(folder, "-m", "sacred.store.cli", "runs", "list", "ftp://host/x")
    assert last_line(done) == (
        f"sacred: error: Unknown store scheme 'ftp'; known schemes: {STORE_SCHEMES}."
    )
