"""S3 and Google Cloud Storage runs read back: ``open_store("s3://...")``/``("gs://...")``.

Real experiments write through the S3Observer (moto's server) and the
GoogleCloudStorageObserver (the GCS emulator); the stores are opened by URL, with the endpoint
from the environment as a user would have it. The shared suites (test_store_suite.py,
test_stored_data_safety.py, test_update_meta.py) run against both kinds too.
"""

import json
import os
import subprocess
import sys
import uuid
import warnings

import pytest

from sacred import Experiment
from sacred.store import OutsideStoreError, RunNotFoundError, StoreError, open_store
from tests.services import service_url

KINDS = ["s3", "gcs"]
SCHEME = {"s3": "s3", "gcs": "gs"}


@pytest.fixture(params=KINDS)
def kind(request, monkeypatch, tmp_path):
    """The kind, with the environment pointing its library to the test service."""
    if request.param == "s3":
        pytest.importorskip("boto3")
        url = service_url("SACRED_TEST_S3_URL")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", url)
        for var in ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_PROFILE"):
            monkeypatch.delenv(var, raising=False)
    else:
        pytest.importorskip("google.cloud.storage")
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", service_url("SACRED_TEST_GCS_URL"))
        monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    return request.param


@pytest.fixture
def bucket():
    return f"sacred-objects-{uuid.uuid4().hex[:16]}"


def observer(kind, bucket, basedir="exp"):
    if kind == "s3":
        from sacred.observers import S3Observer

        return S3Observer(bucket, basedir)
    from sacred.observers import GoogleCloudStorageObserver

    return GoogleCloudStorageObserver(bucket, basedir)


def raw_bucket(kind, bucket):
    """The Bucket adapter, to look at or plant objects directly."""
    if kind == "s3":
        from sacred.observers.s3_observer.bucket import S3Bucket, make_client

        return S3Bucket(make_client(None, os.environ["AWS_ENDPOINT_URL_S3"]), bucket)
    from sacred.observers.gcs_observer.bucket import GcsBucket, make_client

    return GcsBucket(make_client(), bucket)


def run_one(kind, bucket, tmp_path, lr, fail=False, basedir="exp"):
    ex = Experiment("objects")

    @ex.config
    def cfg():
        lr = 0.1  # noqa: F841
        fail = False  # noqa: F841

    @ex.main
    def main(_run, lr, fail):
        for i in range(3):
            _run.log_scalar("loss", lr * (3 - i), i)
        art = tmp_path / f"weights_{lr}.txt"
        art.write_text(f"weights {lr}\n")
        _run.add_artifact(str(art), "weights.txt")
        print(f"lr={lr}")
        if fail:
            raise ValueError("diverged")
        return lr * 10

    ex.observers.append(observer(kind, bucket, basedir))
    if fail:
        with pytest.raises(ValueError):
            ex.run(config_updates={"lr": lr, "fail": True}, options={"--capture": "sys"})
        return None
    return ex.run(config_updates={"lr": lr}, options={"--capture": "sys"})._id


@pytest.fixture
def runs(kind, bucket, tmp_path):
    """Four real runs below ``exp``: lr 0.5, 0.05, 0.01 and a failing 0.2 (ids 1..4)."""
    for lr in (0.5, 0.05, 0.01):
        run_one(kind, bucket, tmp_path, lr)
    run_one(kind, bucket, tmp_path, 0.2, fail=True)
    return f"{SCHEME[kind]}://{bucket}/exp"


def test_open_store_finds_counts_queries_and_reads(runs):
    store = open_store(runs)
    assert type(store).__name__ in ("S3Store", "GcsStore")
    assert store.count() == 4
    assert [r["config"]["lr"] for r in store.find("config.lr < 0.1")] == [0.05, 0.01]
    assert store.count("config.lr < 0.1") == 2
    assert store.find_ids("status == 'FAILED'") == [4]
    assert [r["_id"] for r in store.find(sort="-config.lr", limit=2)] == [1, 4]
    assert store.find_ids("metrics.loss.max > 1") == [1]

    run = store.get(2)
    assert (run["_id"], run["status"], run["result"]) == (2, "COMPLETED", 0.5)
    assert run["config"]["lr"] == 0.05 and run["experiment"]["name"] == "objects"
    assert run["captured_out"] == "lr=0.05\n"
    assert run["artifacts"] == [{"name": "weights.txt"}]
    assert run["start_time"].tzinfo is None and run["start_time"] <= run["stop_time"]
    assert store.get("2") == run
    failed = store.get(4)
    assert "ValueError: diverged" in "".join(failed["fail_trace"])

    metrics = store.metrics(2)
    assert metrics["loss"]["steps"] == [0, 1, 2]
    assert metrics["loss"]["values"] == pytest.approx([0.15, 0.1, 0.05])
    assert all(t.tzinfo is None for t in metrics["loss"]["timestamps"])
    assert store.metrics(2, names="nothing") == {}
    assert store.metric_summaries(1)["loss"]["max"] == pytest.approx(1.5)

    assert store.artifacts(2) == ["weights.txt"]
    with store.open_artifact(2, "weights.txt") as f:
        assert f.read() == b"weights 0.05\n"
    (source,) = [s for s in store.sources(2) if s.endswith("test_object_stores.py")]
    with store.open_source(2, source) as f:
        assert b"S3 and Google Cloud Storage runs read back" in f.read()

    for missing in (99, "x", None):
        with pytest.raises(RunNotFoundError):
            store.get(missing)
    with pytest.raises(RunNotFoundError):
        store.metrics(99)
    with pytest.raises(RunNotFoundError):
        store.open_artifact(2, "other.txt")


def test_a_second_query_reads_only_what_changed(kind, runs, bucket, tmp_path):
    store = open_store(runs)
    assert store.count() == 4
    reads = []
    real_read = store._bucket.read
    store._bucket.read = lambda key, versioned=False: reads.append(key) or real_read(key)
    assert store.count("config.lr < 0.1") == 2
    assert reads == []  # the listing alone
    run_one(kind, bucket, tmp_path, 0.001)  # a new run: its files are read
    assert store.count("config.lr < 0.1") == 3
    assert "exp/5/run.json" in reads
    assert set(reads) <= {"exp/5/run.json", "exp/5/config.json", "exp/5/info.json"}


def test_delete_removes_the_run_and_the_copies_only_it_used(kind, runs, bucket):
    store = open_store(runs)
    raw = raw_bucket(kind, bucket)
    sources = sorted(k for k, _ in raw.list("exp/_sources/"))
    assert sources
    store.delete(1)
    assert store.find_ids() == [2, 3, 4]
    with pytest.raises(RunNotFoundError):
        store.get(1)
    assert [k for k, _ in raw.list("exp/1/")] == []
    assert sorted(k for k, _ in raw.list("exp/_sources/")) == sources  # others use them
    for run_id in (2, 3, 4):
        store.delete(run_id)
    assert store.count() == 0
    assert [k for k, _ in raw.list("exp/")] == []
    with pytest.raises(RunNotFoundError):
        store.delete(2)


def test_cli_lists_shows_and_exports(kind, runs, tmp_path):
    def sacred(*args):
        proc = subprocess.run(
            [sys.executable, "-m", "sacred.cli", *args], capture_output=True, text=True
        )
        return proc.returncode, proc.stdout, proc.stderr

    code, out, err = sacred("runs", "list", runs, "-q", "config.lr < 0.1", "--columns", "_id,lr")
    assert (code, err) == (0, "")
    assert out.split() == ["_id", "lr", "2", "0.05", "3", "0.01"]
    code, out, err = sacred("runs", "show", runs, "2")
    assert code == 0 and "lr=0.05" in out and "weights.txt" in out, err

    folder = tmp_path / "copy"
    code, out, err = sacred("export", runs, str(folder), "-q", "status == 'COMPLETED'")
    assert code == 0, err
    assert out.endswith("Copied 3 runs.\n")
    copied = open_store(str(folder))
    assert [r["config"]["lr"] for r in copied.find()] == [0.5, 0.05, 0.01]
    with copied.open_artifact(2, "weights.txt") as f:
        assert f.read() == b"weights 0.05\n"
    assert copied.metrics(2)["loss"]["values"] == pytest.approx([0.15, 0.1, 0.05])


def test_import_run_writes_what_the_observer_would(kind, runs, bucket):
    source = open_store(runs)
    target = open_store(f"{SCHEME[kind]}://{bucket}/imported")
    from sacred.store.cli import copy_runs

    assert copy_runs(source, target) == [(1, 1), (2, 2), (3, 3), (4, 4)]
    for run_id in (1, 2, 3, 4):
        want, got = source.get(run_id), target.get(run_id)
        for key in ("config", "status", "result", "captured_out", "start_time", "artifacts"):
            assert got[key] == want[key], key
        assert target.metrics(run_id) == source.metrics(run_id)
    with target.open_artifact(2, "weights.txt") as f:
        assert f.read() == b"weights 0.05\n"
    (name,) = [s for s in target.sources(2) if s.endswith("test_object_stores.py")]
    with target.open_source(2, name) as f, source.open_source(2, name) as g:
        assert f.read() == g.read()
    with pytest.raises(StoreError, match="Run 2 already exists in .*imported; import it under"):
        target.import_run(source.get(2))
    assert target.import_run(source.get(2), new_id=True) == 5
    with pytest.warns(UserWarning, match=r"Artifact '\.\./x' is not written"):
        new = target.import_run(
            source.get(3), artifacts={"../x": b"x", "ok.txt": b"ok"}, new_id=True
        )
    assert target.artifacts(new) == ["weights.txt", "ok.txt"]


def _craft(raw, prefix):
    """Run 1 lists names that leave its prefix and the store's _sources/_resources."""
    key = f"{prefix}/1/run.json"
    run = json.loads(raw.read(key)[0])
    run["artifacts"] = ["weights.txt", "../2/weights.txt", "/exp/2/weights.txt", "a/./b"]
    run["experiment"]["sources"] = [
        ["abs.py", "/etc/passwd"],
        ["up.py", "../other/_sources/x.py"],
        ["here.py", "_sources/../2/run.json"],
        ["side.py", "elsewhere/x.py"],
    ]
    run["resources"] = [["res", "other/_resources/x.csv"], ["dots", f"{prefix}/_resources/../x"]]
    raw.put(key, json.dumps(run).encode())
    raw.put("other/_sources/x.py", b"outside\n")
    raw.put("other/_resources/x.csv", b"outside\n")


def test_names_from_a_record_never_leave_the_runs_prefix(kind, runs, bucket):
    raw = raw_bucket(kind, bucket)
    _craft(raw, "exp")
    store = open_store(runs)
    with store.open_artifact(1, "weights.txt") as f:
        assert f.read() == b"weights 0.5\n"
    for name in ("../2/weights.txt", "/exp/2/weights.txt", "a/./b"):
        with pytest.raises(OutsideStoreError, match=r"^Refused: artifact .* lies outside") as e:
            store.open_artifact(1, name)
        assert "\n" not in str(e.value)
    for name in ("abs.py", "up.py", "here.py", "side.py"):
        with pytest.raises(OutsideStoreError, match=r"^Refused: source .* lies outside .*_sources"):
            store.open_source(1, name)
    for name in ("res", "dots"):
        with pytest.raises(OutsideStoreError, match=r"lies outside .*_resources"):
            store.open_resource(1, name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store.delete(1)
    assert any("left alone" in str(w.message) for w in caught)
    assert raw.read("other/_sources/x.py")[0] == b"outside\n"
    assert raw.read("other/_resources/x.csv")[0] == b"outside\n"
    assert raw.read("exp/2/run.json")[0]  # another run's files stay


def test_locations_and_their_errors(kind, bucket, tmp_path):
    scheme = SCHEME[kind]
    run_one(kind, bucket, tmp_path, 0.3, basedir="deep/er/exp")
    assert open_store(f"{scheme}://{bucket}/deep/er/exp/").count() == 1
    assert open_store(f"{scheme}://{bucket}", prefix="deep/er/exp").count() == 1
    assert open_store(f"{scheme}://{bucket}/deep/er").count() == 0  # runs are below exp
    with pytest.raises(StoreError, match="not both"):
        open_store(f"{scheme}://{bucket}/deep", prefix="x")
    with pytest.raises(StoreError, match=rf"There is no .* bucket 'sacred-none-{bucket[-8:]}'"):
        open_store(f"{scheme}://sacred-none-{bucket[-8:]}/x")
    with pytest.raises(StoreError, match="Invalid"):
        open_store(f"{scheme}://Bad_Bucket/x")
    with pytest.raises(StoreError, match=rf"is no {scheme}:// location"):
        open_store(f"{scheme}:///x")


def test_listing_is_bounded(kind, runs, monkeypatch):
    import sacred.observers.object_store.bucket as bucket_module

    store = open_store(runs)
    monkeypatch.setattr(bucket_module, "MAX_LIST_PAGES", 0)
    with pytest.raises(StoreError, match="did not end after 0 pages") as e:
        store.count()
    assert "\n" not in str(e.value)


def test_pages_checked_stops_an_endless_listing():
    from sacred.observers.object_store.bucket import MAX_LIST_PAGES, ListingTooLong, pages_checked

    def endless():
        while True:
            yield {}

    with pytest.raises(ListingTooLong):
        for _ in pages_checked(endless(), "exp/"):
            pass
    assert MAX_LIST_PAGES >= 1000


def test_unreachable_server_is_one_line(monkeypatch, tmp_path):
    pytest.importorskip("boto3")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{port}")
    with pytest.raises(StoreError, match=rf"^S3 at http://127.0.0.1:{port}: reaching") as e:
        open_store("s3://some-bucket/exp", region="eu-central-1")
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    "blocked, location, extra",
    [("boto3", "s3://abc/x", "s3"), ("google.cloud.storage", "gs://abc/x", "gcs")],
)
def test_a_missing_library_names_the_extra(blocked, location, extra):
    code = (
        f"import sys; sys.modules[{blocked!r}] = None\n"
        "from sacred.store import open_store, StoreError\n"
        "try:\n"
        f"    open_store({location!r})\n"
        "except StoreError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert f'pip install "sacred[{extra}]"' in out.stdout, out.stderr


def test_importing_the_packages_pulls_no_client_library():
    code = (
        "import sys, sacred.observers.s3_observer, sacred.observers.gcs_observer, "
        "sacred.observers.object_store, sacred.observers.s3_observer.options, "
        "sacred.observers.gcs_observer.options\n"
        "from sacred.observers import S3Observer, GoogleCloudStorageObserver\n"
        "print([m for m in ('boto3', 'google.cloud.storage', 'sacred.store.base')"
        " if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr
