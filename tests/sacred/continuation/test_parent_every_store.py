"""A parent/child pair on every store kind: the child reads the parent's config, result and
artifact through ``_run.parent``, and records ``meta.parent`` without a config key."""

import pytest

from sacred import Experiment
from tests.sacred.store.conftest import STORE_KINDS


@pytest.fixture(params=sorted(STORE_KINDS))
def kind(request):
    return request.param


def test_a_child_reads_its_parents_artifact(kind, tmp_path):
    make_observer, open_ = STORE_KINDS[kind]
    train = Experiment("train", base_dir=str(tmp_path))
    train.observers.append(make_observer(tmp_path))

    @train.config
    def cfg():
        lr = 0.5

    @train.main
    def fit(_run, lr):
        model = tmp_path / "model.bin"
        model.write_bytes(b"weights:" + str(lr).encode())
        _run.add_artifact(str(model))
        return 0.25

    parent_id = train.run(options={"--capture": "sys"})._id
    parent_store = open_(tmp_path)
    (stored_id,) = parent_store.find_ids()
    assert str(stored_id) == str(parent_id)

    evaluate = Experiment("evaluate", base_dir=str(tmp_path))
    evaluate.observers.append(make_observer(tmp_path))

    @evaluate.main
    def check(_run):
        parent = _run.parent
        weights = parent.open_artifact("model.bin").read()
        return [weights.decode(), parent.config["lr"], parent.result, parent.status]

    child = evaluate.run(parent=(parent_store, stored_id), options={"--capture": "sys"})
    assert child.result == ["weights:0.5", 0.5, 0.25, "COMPLETED"]

    store = open_(tmp_path)
    child_ids = [i for i in store.find_ids() if str(i) != str(stored_id)]
    (child_id,) = child_ids
    record = store.get(child_id)
    assert record["meta"]["parent"]["id"] == stored_id
    assert "parent" not in record["config"]
    assert store.count(f"meta.parent.id == {stored_id!r}") == 1
