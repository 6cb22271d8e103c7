"""A missing optional library gives one line naming the extra to install, wherever it is
needed: the experiment's command line, ``open_store``, the ``sacred`` tool and Sacredboard.

Each case runs in a subprocess in which the library cannot be imported (``sys.modules[name] =
None``, which is how Python marks a module as missing), with the real code path otherwise.
"""

import os
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy.dialects import registry

RUNNER = textwrap.dedent(
    """
    import runpy, sys
    for name in sys.argv[1].split(","):
        sys.modules[name] = None  # import name -> ModuleNotFoundError
    tool, argv = sys.argv[2], sys.argv[3:]
    if tool == "sacred":
        from sacred.store.cli import main
        sys.exit(main(argv))
    if tool == "sacredboard":
        from sacredboard.cli import main
        sys.exit(main(argv))
    if tool == "open_store":
        from sacred.store import StoreError, open_store
        try:
            open_store(argv[0])
        except StoreError as e:
            print(f"StoreError: {e}", file=sys.stderr)
            sys.exit(1)
        sys.exit(0)
    sys.argv = [tool] + argv
    runpy.run_path(tool, run_name="__main__")
    """
)

EXPERIMENT = textwrap.dedent(
    """
    from sacred import Experiment
    from sacred.observers.gcs_observer.options import gcs_option

    ex = Experiment("hint", additional_cli_options=[gcs_option])

    @ex.automain
    def main():
        print("ran")
    """
)

SQL = 'pip install "sacred[sql]"'
PG_DRIVERS = "psycopg,psycopg2"
# the driver module SQLAlchemy imports for postgresql:// (psycopg from 2.1 on, psycopg2 before)
PG_DRIVER = registry.load("postgresql").driver

CASES = {
    # the experiment's own command line
    "exp -s sqlite": (
        "sqlalchemy",
        ["exp.py", "-s", "sqlite:///x.db"],
        f"ImportError: The SqlObserver needs SQLAlchemy. Install it with: {SQL}",
    ),
    "exp -s postgresql": (
        PG_DRIVERS,
        ["exp.py", "-s", "postgresql://user@127.0.0.1:1/db"],
        f"sacred.utils.CommandLineError: 'postgresql' stores need the package '{PG_DRIVER}', "
        f"which is not installed: {SQL}",
    ),
    "exp -m": (
        "pymongo",
        ["exp.py", "-m", "db"],
        'ImportError: The MongoObserver needs pymongo: pip install "sacred[mongo]"',
    ),
    "exp -t": (
        "tinydb",
        ["exp.py", "-t", "tdb"],
        "ImportError: The TinyDB observer needs tinydb, tinydb-serialization and hashfs: "
        'pip install "sacred[tinydb]"',
    ),
    "exp -S": (
        "boto3",
        ["exp.py", "-S", "s3://bucket/runs"],
        'ImportError: S3Observer needs boto3: pip install "sacred[s3]"',
    ),
    "exp -G": (
        "google.cloud.storage",
        ["exp.py", "-G", "gs://bucket/runs"],
        "ImportError: GoogleCloudStorageObserver needs google-cloud-storage: "
        'pip install "sacred[gcs]"',
    ),
    # the read side
    "open_store sqlite": (
        "sqlalchemy",
        ["open_store", "sqlite:///x.db"],
        "StoreError: 'sqlite' stores need the package 'sqlalchemy', which is not installed: " + SQL,
    ),
    "open_store postgresql": (
        PG_DRIVERS,
        ["open_store", "postgresql://user@127.0.0.1:1/db"],
        f"StoreError: 'postgresql' stores need the package '{PG_DRIVER}', which is not "
        f"installed: {SQL}",
    ),
    "open_store s3": (
        "boto3",
        ["open_store", "s3://bucket/runs"],
        "StoreError: 's3' stores need the package 'boto3', which is not installed: "
        'pip install "sacred[s3]"',
    ),
    "open_store gs": (
        "google.cloud.storage",
        ["open_store", "gs://bucket/runs"],
        "StoreError: 'gs' stores need the package 'google.cloud.storage', which is not "
        'installed: pip install "sacred[gcs]"',
    ),
    "sacred runs list sqlite": (
        "sqlalchemy",
        ["sacred", "runs", "list", "sqlite:///x.db"],
        "sacred: error: 'sqlite' stores need the package 'sqlalchemy', which is not installed: "
        + SQL,
    ),
    "sacred runs list postgresql": (
        PG_DRIVERS,
        ["sacred", "runs", "list", "postgresql://user@127.0.0.1:1/db"],
        f"sacred: error: 'postgresql' stores need the package '{PG_DRIVER}', which is not "
        f"installed: {SQL}",
    ),
    "sacred runs list mongodb": (
        "pymongo",
        ["sacred", "runs", "list", "mongodb://127.0.0.1:1/db"],
        'sacred: error: Reading MongoDB needs pymongo: pip install "sacred[mongo]"',
    ),
    "sacred export to s3": (
        "boto3",
        ["sacred", "export", "runs", "s3://bucket/runs"],
        "sacred: error: 's3' stores need the package 'boto3', which is not installed: "
        'pip install "sacred[s3]"',
    ),
    # the dashboard
    "sacredboard -F": (
        "flask",
        ["sacredboard", "-F", "runs"],
        'Sacredboard needs flask, which is not installed: pip install "sacred[board]"',
    ),
    "sacredboard --store sqlite": (
        "sqlalchemy",
        ["sacredboard", "--store", "sqlite:///x.db"],
        "Cannot open sqlite:///x.db: 'sqlite' stores need the package 'sqlalchemy', which is "
        f"not installed: {SQL}",
    ),
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("extras")
    (path / "runner.py").write_text(RUNNER)
    (path / "exp.py").write_text(EXPERIMENT)
    (path / "runs").mkdir()
    return path


@pytest.mark.parametrize("case", list(CASES))
def test_a_missing_library_gives_one_line_with_the_extra(folder, case):
    missing, argv, expected = CASES[case]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    done = subprocess.run(
        [sys.executable, "runner.py", missing] + argv,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "ran" not in done.stdout
    assert done.stderr.strip().splitlines()[-1] == expected
