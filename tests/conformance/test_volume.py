"""Much data in one run: a 50 MB output and 2,000,000 metric points are read back whole."""

import hashlib

import pytest

from sacred import Experiment
from tests.conformance.backends import kinds

np = pytest.importorskip("numpy")

OUTPUT_MB = 50
POINTS = 2_000_000


def _line(i):
    return f"{i:07d} " + "x" * 1015 + "\n"  # 1 KiB


@pytest.mark.slow
@pytest.mark.parametrize("kind", kinds())
def test_a_50_mb_output_is_read_back_whole(backend):
    block = "".join(_line(i) for i in range(1024))  # 1 MiB
    ex = Experiment("loud")

    @ex.main
    def main():
        for i in range(OUTPUT_MB):
            print(f"block {i}")
            print(block, end="")

    ex.observers.append(backend.observer())
    run_id = ex.run(options={"--capture": "sys"})._id
    want = "".join(f"block {i}\n{block}" for i in range(OUTPUT_MB))
    with backend.store() as store:
        got = store.get(run_id)["captured_out"]
    assert len(got) == len(want)
    assert hashlib.sha256(got.encode()).hexdigest() == hashlib.sha256(want.encode()).hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize("kind", kinds())
def test_2_million_metric_points_are_read_back_whole(backend):
    ex = Experiment("many points")

    @ex.main
    def main(_run):
        log = _run.log_scalar
        for i in range(POINTS // 2):
            log("loss", i * 0.5, i)
            log("acc", i % 1000, 2 * i)

    ex.observers.append(backend.observer())
    run_id = ex.run(options={"--capture": "sys"})._id
    with backend.store() as store:
        metrics = store.metrics(run_id)
    assert sorted(metrics) == ["acc", "loss"]
    steps = np.arange(POINTS // 2)
    loss, acc = metrics["loss"], metrics["acc"]
    assert len(loss["steps"]) == len(acc["values"]) == POINTS // 2
    np.testing.assert_array_equal(np.asarray(loss["steps"]), steps)
    np.testing.assert_array_equal(np.asarray(loss["values"]), steps * 0.5)
    np.testing.assert_array_equal(np.asarray(acc["steps"]), 2 * steps)
    np.testing.assert_array_equal(np.asarray(acc["values"]), steps % 1000)
    assert len(loss["timestamps"]) == POINTS // 2
