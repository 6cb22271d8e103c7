"""The experiment the scenarios run, and how a run is checked when read back.

A run is known by its ``tag`` (config): its metrics ``loss`` and ``acc_<tag>`` have values
made from its ``n``, it prints ``output of <tag>``, keeps its tag in ``info`` and returns
``result of <tag>``. ``check_run`` reads a run back and says whether it is exactly that, so a
run that got another's metrics, output or config is seen at once.
"""

from sacred import Experiment


def experiment(name="conformance", barrier=None):
    """``barrier`` (a threading.Barrier) is waited for in the middle of the run."""
    ex = Experiment(name)

    @ex.config
    def cfg():
        tag = "x"  # noqa: F841
        n = 0  # noqa: F841
        points = 3  # noqa: F841

    @ex.main
    def main(_run, tag, n, points):
        for i in range(points):
            _run.log_scalar("loss", loss(n, i), i)
            _run.log_scalar(f"acc_{tag}", n + i, i)
            if barrier is not None and i == points // 2:
                barrier.wait(timeout=60)
        print(f"output of {tag}")
        _run.info["tag"] = tag
        return f"result of {tag}"

    return ex


def loss(n, i):
    return n * 100 + i / 4


def run(ex, tag, n, points=3, **options):
    """Run ``ex`` as the run ``tag`` (its observers already attached)."""
    return ex.run(
        config_updates={"tag": tag, "n": n, "points": points},
        options={"--capture": "sys", **options},
    )


def check_run(store, run_id, tag, n, points=3, output=None):
    """The run ``run_id`` as read from ``store`` is the run ``tag`` and nothing else.

    ``output``: the captured output expected if not the run's own line (runs started with
    ``--capture no`` have "").
    """
    record = store.get(run_id)
    got = {
        "_id": run_id,
        "config": {k: record["config"].get(k) for k in ("tag", "n", "points")},
        "status": record["status"],
        "captured_out": record["captured_out"],
        "info.tag": (record.get("info") or {}).get("tag"),
        "result": record["result"],
    }
    want = {
        "_id": run_id,
        "config": {"tag": tag, "n": n, "points": points},
        "status": "COMPLETED",
        "captured_out": f"output of {tag}\n" if output is None else output,
        "info.tag": tag,
        "result": f"result of {tag}",
    }
    assert got == want
    metrics = store.metrics(run_id)
    assert sorted(metrics) == sorted(["loss", f"acc_{tag}"]), f"run {run_id}: {sorted(metrics)}"
    assert metrics["loss"]["steps"] == list(range(points)), f"run {run_id}"
    assert metrics["loss"]["values"] == [loss(n, i) for i in range(points)], f"run {run_id}"
    assert metrics[f"acc_{tag}"]["values"] == [n + i for i in range(points)], f"run {run_id}"
    return record
