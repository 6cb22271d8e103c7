"""A small project (a script and a package of its own) and a store location of each kind.

``location`` is what a user would pass to ``sacred.rerun`` and ``open_store``: a folder,
``sqlite:///...``, a PostgreSQL URL, a mongomock client, a TinyDB folder, ``s3://...`` or
``gs://...`` (with the environment pointing boto3 and google-cloud-storage at the test
services). The kinds are those of ``tests/sacred/store/conftest.py``'s ``STORE_KINDS``.
"""

import os
import textwrap

import pytest

from tests.sacred.store.conftest import (
    STORE_KINDS,
    _bucket_name,
    _mongomock_client,
    _postgres_url,
    _sqlite_url,
)

KINDS = sorted(STORE_KINDS)

SCRIPT = """\
import time

from sacred import Experiment

from lib.model import score

ex = Experiment("train")


@ex.config
def cfg():
    epochs = 3
    scale = 1.5


@ex.automain
def main(_run, _rnd, epochs, scale):
    value = 0.0
    for step in range(epochs):
        value = score(_rnd.random(), scale)
        _run.log_scalar("loss", value, step)
        _run.log_scalar("acc", 1 - value / 10, step)
    print(f"started at {time.strftime('%H:%M:%S')}, model at {hex(id(object()))}")
    print(f"epoch done in {time.perf_counter() % 1:.3f}s")
    print("final", round(value, 6))
    return value
"""

MODEL = """\
def score(x, scale):
    return round(x * scale, 9)
"""


def write_project(folder):
    """The project: ``exp.py`` and ``lib/model.py``; returns the script's path."""
    (folder / "lib").mkdir(parents=True, exist_ok=True)
    (folder / "lib" / "__init__.py").write_text("")
    (folder / "lib" / "model.py").write_text(MODEL)
    (folder / "exp.py").write_text(SCRIPT)
    return folder / "exp.py"


def edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.fixture(autouse=True)
def sys_capture():
    """pytest holds the process's stdout file descriptor: runs capture at the sys level
    (tests/conftest.py puts SETTINGS back after each test)."""
    from sacred import SETTINGS

    SETTINGS.CAPTURE_MODE = "sys"


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "project"
    write_project(folder)
    return folder


def make_location(kind, tmp_path, monkeypatch):
    if kind == "file":
        return str(tmp_path / "runs")
    if kind == "sqlite":
        return _sqlite_url(tmp_path)
    if kind == "postgresql":
        return _postgres_url(tmp_path)
    if kind == "tinydb":
        return f"tinydb://{tmp_path / 'tinydb'}"
    if kind == "mongomock":
        return _mongomock_client(tmp_path)
    from tests.services import service_url

    if kind == "s3":
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", service_url("SACRED_TEST_S3_URL"))
        for var in ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_PROFILE"):
            monkeypatch.delenv(var, raising=False)
        return f"s3://{_bucket_name('s3', tmp_path)}/runs"
    assert kind == "gcs"
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", service_url("SACRED_TEST_GCS_URL"))
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    return f"gs://{_bucket_name('gcs', tmp_path)}/runs"


@pytest.fixture(params=KINDS)
def location(request, tmp_path, monkeypatch):
    """A store location of each kind (empty)."""
    return make_location(request.param, tmp_path, monkeypatch)


@pytest.fixture
def folder_store(tmp_path):
    return str(tmp_path / "runs")


def run_script(script, location, config_updates=None, **kwargs):
    """Run the project's script into ``location`` in this process; returns the Run."""
    from sacred.launch.script import load_experiment, run_in_store
    from sacred.reproduce.isolation import fresh_imports
    from sacred.store.location import open_observer

    script = str(script)
    folder = os.path.dirname(script)
    paths = [os.path.join(d, f) for d, _, files in os.walk(folder) for f in files]
    with fresh_imports(folder, paths):  # each test's project is imported as its own
        ex = load_experiment(script)
        return run_in_store(ex, open_observer(location), config_updates=config_updates, **kwargs)


def dedent(text):
    return textwrap.dedent(text).lstrip("\n")
