"""A FileStorageObserver folder filled by real runs, and a live server for browser tests.

Runs (ids in this order):

==  ======  =====  ====  =========  ==================================================
id  ex      lr     seed  status     notes
==  ======  =====  ====  =========  ==================================================
1   train   0.1    1     COMPLETED  loss 1/(i+1) over 4 steps, artifact model.txt,
                                    output with a <script>, tensorflow logdir "logs"
2   train   0.1    2     COMPLETED  loss 1.2/(i+1) (same config as 1 but the seed)
3   train   0.01   1     COMPLETED  loss 2/(i+1); x = 300
4   train   0.01   2     COMPLETED  loss 2.4/(i+1); x = 300 (seed group with 3)
5   train   0.5    1     FAILED     raises after 2 steps
6   other   -      -     COMPLETED  result "ok", no metrics, named config "space"
7   train   0.2    3     RUNNING    imported: heartbeat just now
8   train   0.3    4     RUNNING    imported: heartbeat one hour ago (probably dead)
==  ======  =====  ====  =========  ==================================================
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import threading

import pytest

from labwatch.assistant import LabAssistant
from labwatch.hyperparameters import Categorical, UniformFloat
from sacred import Experiment
from sacred.observers import FileStorageObserver
from sacred.store import open_store

SCRIPT_OUTPUT = "<script>window.__pwned = 1</script><b>bold?</b>"
ARTIFACTS_DIR = os.path.join(os.path.dirname(__file__), "artifacts")


def _train():
    ex = Experiment("train")

    @ex.config
    def cfg():
        lr = 0.1  # noqa: F841
        x = 250  # noqa: F841
        scale = 1.0  # noqa: F841
        fail = False  # noqa: F841
        layers = [8, 4]  # noqa: F841

    @ex.named_config
    def space():
        lr = 0.05  # noqa: F841

    @ex.main
    def main(_run, lr, scale, fail, seed):
        loss = None
        for i in range(4):
            loss = scale * (1 + 0.2 * (seed - 1)) / (i + 1)
            _run.log_scalar("loss", loss, i)
            _run.log_scalar("acc", 0.5 + 0.1 * i, i)
            if fail and i == 1:
                raise RuntimeError("diverged")
        _run.info["tensorflow"] = {"logdirs": ["logs"]}
        print(f"training with lr={lr}")
        print(SCRIPT_OUTPUT)
        return loss

    return ex


def _other():
    ex = Experiment("other")

    @ex.config
    def cfg():
        x = 1  # noqa: F841

    @ex.named_config
    def space():
        x = 2  # noqa: F841

    @ex.main
    def main():
        print("other output")
        return "ok"

    return ex


def fill(basedir, tmp_path):
    art = tmp_path / "model.txt"
    art.write_text("weights\n")
    plan = [
        ({"lr": 0.1, "seed": 1, "scale": 1.0}, False),
        ({"lr": 0.1, "seed": 2, "scale": 1.0}, False),
        ({"lr": 0.01, "seed": 1, "scale": 2.0, "x": 300}, False),
        ({"lr": 0.01, "seed": 2, "scale": 2.0, "x": 300}, False),
        ({"lr": 0.5, "seed": 1, "fail": True}, True),
    ]
    for i, (updates, fails) in enumerate(plan):
        ex = _train()
        ex.observers.append(FileStorageObserver(basedir))
        if i == 0:

            @ex.pre_run_hook
            def add(_run):
                _run.add_artifact(str(art), "model.txt")

        if fails:
            with pytest.raises(RuntimeError):
                ex.run(config_updates=updates, options={"--capture": "sys"})
        else:
            ex.run(config_updates=updates, options={"--capture": "sys"})
    ex = _other()
    ex.observers.append(FileStorageObserver(basedir))
    ex.run(named_configs=["space"], options={"--capture": "sys"})
    store = open_store(basedir)
    template = store.get(1)
    # a second ahead, so that stores keeping milliseconds only still order 7 after 6
    now = _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None) + _dt.timedelta(seconds=1)
    for run_id, lr, seed, beat in ((7, 0.2, 3, now), (8, 0.3, 4, now - _dt.timedelta(hours=1))):
        record = {
            k: v
            for k, v in template.items()
            if k not in ("stop_time", "result", "artifacts", "_id")
        }
        record.update(
            _id=run_id,
            status="RUNNING",
            start_time=beat - _dt.timedelta(minutes=5),
            heartbeat=beat,
            config=dict(template["config"], lr=lr, seed=seed),
            captured_out="step 1\n",
        )
        record["experiment"] = dict(record["experiment"], sources=[])
        store.import_run(record)
    return store


@pytest.fixture(scope="session")
def filled_dir(tmp_path_factory):
    """A read-only (by convention) FileStorageObserver folder with the runs above."""
    tmp_path = tmp_path_factory.mktemp("board")
    basedir = str(tmp_path / "runs")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        fill(basedir, tmp_path)
    finally:
        os.chdir(cwd)
    return basedir


@pytest.fixture
def fresh_dir(filled_dir, tmp_path):
    """A copy of the filled folder that a test may change."""
    target = str(tmp_path / "runs")
    shutil.copytree(filled_dir, target, symlinks=True)
    return target


def _copy(filled_dir, target):
    from sacred.cli import copy_runs

    copy_runs(open_store(filled_dir), target)
    return target


def _sqlite(filled_dir, tmp_path):
    (tmp_path / "runs.db").touch()  # an empty file is an empty SQLite database
    return _copy(filled_dir, open_store(f"sqlite:///{tmp_path / 'runs.db'}"))


def _mongomock(filled_dir, tmp_path):
    import mongomock

    return _copy(filled_dir, open_store(mongomock.MongoClient(), db_name="board"))


#: every store kind the API tests run on: the runs of ``filled_dir`` copied into it
STORE_KINDS = {
    "file": lambda filled_dir, tmp_path: open_store(filled_dir),
    "sqlite": _sqlite,
    "mongomock": _mongomock,
}


@pytest.fixture(scope="session", params=sorted(STORE_KINDS))
def any_store(request, filled_dir, tmp_path_factory):
    """The runs above in each kind of store (do not modify)."""
    tmp_path = tmp_path_factory.mktemp(f"board_{request.param}")
    store = STORE_KINDS[request.param](filled_dir, tmp_path)
    yield store
    store.close()


@pytest.fixture(params=sorted(STORE_KINDS))
def fresh_store(request, fresh_dir, tmp_path):
    """A store of each kind with the runs above that a test may change."""
    store = STORE_KINDS[request.param](fresh_dir, tmp_path)
    yield store
    store.close()


@pytest.fixture
def client(any_store):
    from sacredboard.app import create_app

    return create_app(any_store).test_client()


class LiveServer:
    def __init__(self, app):
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def labwatch_dir(tmp_path_factory):
    """A folder store where a real LabAssistant ran 3 suggestions of the search space
    ``small`` (cost: |lr - 0.01| + 1 for sgd), one failing run and one plain run."""
    tmp_path = tmp_path_factory.mktemp("labwatch")
    basedir = str(tmp_path / "runs")
    ex = Experiment("hpo")

    @ex.config
    def cfg():
        lr = 0.01  # noqa: F841
        opt = "adam"  # noqa: F841
        crash = False  # noqa: F841

    assistant = LabAssistant(ex, store=basedir)

    @assistant.search_space
    def small():
        lr = UniformFloat(0.001, 0.1, log_scale=True)  # noqa: F841
        opt = Categorical(["adam", "sgd"])  # noqa: F841

    @ex.main
    def main(lr, opt, crash):
        if crash:
            raise ValueError("crashed")
        return {"optimization_target": abs(lr - 0.01) + (opt == "sgd")}

    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for _ in range(3):
            ex.run(named_configs=["small"], options={"--capture": "sys"})
        with pytest.raises(ValueError):
            ex.run(
                named_configs=["small"],
                config_updates={"crash": True},
                options={"--capture": "sys"},
            )
        ex.run(options={"--capture": "sys"})  # not part of the search space
    finally:
        os.chdir(cwd)
    return basedir
