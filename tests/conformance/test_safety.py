"""Planted payloads: data that jsonpickle would execute, written into a stored run in the
backend's own format, is read back as inert data with a warning that names the field."""

import os
import warnings

import pytest

from sacred import Experiment
from sacred.safe_restore import UnsafeDataWarning
from tests.conformance.backends import kinds
from tests.sacred.store.test_stored_data_safety import _payloads, _plant


@pytest.mark.parametrize("kind", kinds())
def test_planted_payloads_stay_inert(backend, tmp_path):
    ex = Experiment("planted")
    ex.add_config(n=1)
    ex.main(lambda: 1)
    ex.observers.append(backend.observer())
    run_id = ex.run(options={"--capture": "sys"})._id
    marker = str(tmp_path / "pwned")
    payloads = _payloads(marker)
    _plant(backend.base, backend.path, run_id, {"n": payloads}, {"x": payloads}, payloads["reduce"])

    with backend.store() as store, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records = [
            store.get(run_id),
            *store.find(),
            *store.summaries(fields=["config", "info", "result"]),
        ]
        frame = store.to_frame()

    assert not [f for f in os.listdir(tmp_path) if f.startswith("pwned")]
    for record in records:
        assert record["result"] == payloads["reduce"]  # kept as the data it is
        for name in ("reduce", "function", "type", "popen", "repr", "key", "in_datetime"):
            assert record["config"]["n"][name] == payloads[name], name
    for name in ("reduce", "function", "type", "popen", "repr", "key", "in_datetime"):
        assert records[0]["info"]["x"][name] == payloads[name], name
    assert list(frame["result"]) == [payloads["reduce"]]
    messages = {str(w.message) for w in caught if w.category is UnsafeDataWarning}
    assert any(m.startswith("config.n.") and "os.system" in m for m in messages), messages
    assert any(m.startswith("info.x.") for m in messages), messages
    assert any(m.startswith("result: 'py/reduce' of os.system") for m in messages), messages
