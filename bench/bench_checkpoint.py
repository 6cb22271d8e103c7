"""Benchmark of ``_run.save_checkpoint`` and of resuming a run, on each store kind.

    python bench/bench_checkpoint.py [--mb 100] [--saves 3] [--kinds file,sqlite,...]

For each store: one run saves a checkpoint of N MB ``--saves`` times (each replaces the last),
then fails; the run is resumed and reads the newest checkpoint back. Prints the seconds per
save (and MB/s), the time to set up the resume (reading the record and the metrics' last
steps) and to open the checkpoint, and checks that the store keeps one artifact.

Store kinds: file, sqlite, and (when their services are given in the environment)
postgresql (SACRED_TEST_POSTGRES_URL), s3 (SACRED_TEST_S3_URL, moto) and gcs
(SACRED_TEST_GCS_URL, the emulator); mongomock and tinydb when installed.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sacred import Experiment  # noqa: E402
from sacred.continuation import Continuation  # noqa: E402
from sacred.store import open_store  # noqa: E402


def _locations(tmp, kinds):
    out = {"file": os.path.join(tmp, "runs"), "sqlite": f"sqlite:///{tmp}/runs.db"}
    if os.environ.get("SACRED_TEST_POSTGRES_URL"):
        import psycopg
        import sqlalchemy as sa

        server = os.environ["SACRED_TEST_POSTGRES_URL"]
        name = f"bench_ckpt_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(server, autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        url = sa.engine.make_url(server).set(database=name)
        out["postgresql"] = url.render_as_string(hide_password=False)
    if os.environ.get("SACRED_TEST_S3_URL"):
        import boto3

        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # the S3Observer needs one
        os.environ["AWS_ENDPOINT_URL"] = os.environ["SACRED_TEST_S3_URL"]
        bucket = f"bench-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket)
        out["s3"] = f"s3://{bucket}/runs"
    if os.environ.get("SACRED_TEST_GCS_URL"):
        os.environ["STORAGE_EMULATOR_HOST"] = os.environ["SACRED_TEST_GCS_URL"]
        out["gcs"] = f"gs://bench-{uuid.uuid4().hex[:12]}/runs"
    out["tinydb"] = f"tinydb://{tmp}/tinydb"
    return {k: v for k, v in out.items() if k in kinds}


def _experiment(mb, saves, timings):
    ex = Experiment("checkpointed")
    payload = os.urandom(1024 * 1024) * mb

    @ex.main
    def main(_run):
        if _run.resumed:
            start = time.perf_counter()
            with _run.open_checkpoint() as f:
                size = len(f.read())
            timings["open"] = time.perf_counter() - start
            assert size == len(payload), size
            return size
        for i in range(saves):
            start = time.perf_counter()
            _run.save_checkpoint(payload)
            timings.setdefault("save", []).append(time.perf_counter() - start)
            _run.log_scalar("epoch", i)
        raise RuntimeError("preempted")

    return ex


def bench(kind, location, mb, saves):
    from sacred.store.location import open_observer

    timings = {}
    ex = _experiment(mb, saves, timings)
    ex.observers.append(open_observer(location))
    try:
        ex.run(options={"--capture": "no", "--loglevel": "ERROR"})
    except RuntimeError:
        pass
    store = open_store(location)
    (run_id,) = store.find_ids()
    start = time.perf_counter()
    continuation = Continuation.resume(store, run_id)
    prepare = time.perf_counter() - start
    ex2 = _experiment(mb, saves, timings)
    ex2.observers.append(open_observer(location))
    run = ex2._create_run(config_updates=continuation.config, options={"--loglevel": "ERROR"})
    continuation.apply(run)
    run()
    kept = open_store(location).artifacts(run_id).count("checkpoint")
    save = statistics.median(timings["save"])
    print(
        f"{kind:<11} save {save:7.3f} s ({mb / save:7.1f} MB/s)  resume set-up "
        f"{prepare * 1000:7.1f} ms  open+read {timings['open']:6.3f} s  "
        f"checkpoints kept: {kept}"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--saves", type=int, default=3)
    parser.add_argument("--kinds", default="file,sqlite,postgresql,s3,gcs,tinydb")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-checkpoint-")
    try:
        print(f"{args.saves} saves of a {args.mb} MB checkpoint, then a resume that reads it")
        for kind, location in _locations(tmp, args.kinds.split(",")).items():
            try:
                bench(kind, location, args.mb, args.saves)
            except Exception as e:  # noqa: BLE001 (a benchmark: report and go on)
                print(f"{kind:<11} failed: {type(e).__name__}: {e}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
