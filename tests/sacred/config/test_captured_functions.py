import logging
import random

import pytest

from sacred.config.captured_function import create_captured_function
from sacred.config.custom_containers import make_read_only
from sacred.utils import ConfigAddedError, ConfigError, MissingConfigError, SignatureError


def test_attributes_and_wrapper():
    def foo(a, b=2):
        """Foo doc."""
        return a, b

    cf = create_captured_function(foo, prefix="pre")
    assert cf.__name__ == "foo"
    assert cf.__doc__ == "Foo doc."
    assert cf.signature.arguments == ["a", "b"]
    assert cf.uses_randomness is False
    assert cf.logger is None and cf.rnd is None and cf.run is None
    assert cf.config == {}
    assert cf.prefix == "pre"
    cf.config = {"a": 1}
    assert foo.config == {"a": 1}


def test_injection_priority_explicit_config_defaults():
    def foo(a, b=2, c=3):
        return a, b, c

    cf = create_captured_function(foo)
    cf.config = {"a": 10, "b": 20}
    assert cf() == (10, 20, 3)
    assert cf(1) == (1, 20, 3)
    assert cf(b=5) == (10, 5, 3)
    assert cf(1, 2, 3) == (1, 2, 3)


def test_missing_value_error():
    def needs(x, y):
        pass

    cf = create_captured_function(needs)
    cf.config = {"x": 1}
    with pytest.raises(MissingConfigError) as excinfo:
        cf()
    assert str(excinfo.value) == "needs is missing value(s): ['y']"


def test_signature_errors():
    def foo(a):
        pass

    cf = create_captured_function(foo)
    with pytest.raises(SignatureError, match=r"^foo got unexpected argument\(s\): \[2\]$"):
        cf(1, 2)
    with pytest.raises(SignatureError, match=r"^foo got unexpected kwarg\(s\): \['b'\]$"):
        cf(a=1, b=2)
    with pytest.raises(
        SignatureError, match=r"^foo got multiple values for argument\(s\) \['a'\]$"
    ):
        cf(1, a=2)


def test_special_arguments():
    def foo(_config, _log, _run):
        return _config, _log, _run

    cf = create_captured_function(foo)
    logger = logging.getLogger("x")
    cf.config = {"a": 1}
    cf.logger = logger
    cf.run = "the run"
    config, log, run = cf()
    assert config == {"a": 1}
    assert log is logger
    assert run == "the run"


def test_seed_and_rnd_are_fresh_and_deterministic():
    def foo(_seed, _rnd):
        return _seed, _rnd

    results = []
    for _ in range(2):
        cf = create_captured_function(foo)
        assert cf.uses_randomness
        cf.rnd = random.Random(1234)
        results.append([cf() for _ in range(3)])
    seeds1 = [s for s, _ in results[0]]
    seeds2 = [s for s, _ in results[1]]
    assert seeds1 == seeds2
    assert len(set(seeds1)) == 3
    assert all(isinstance(s, int) and 1 <= s <= int(1e9) for s in seeds1)
    # each _rnd is seeded with its _seed
    seed, rnd = results[0][0]
    import numpy as np

    assert rnd.integers(1000) == np.random.default_rng(seed).integers(1000)


def test_explicit_seed_wins():
    def foo(_seed):
        return _seed

    cf = create_captured_function(foo)
    cf.rnd = random.Random(1)
    assert cf(_seed=7) == 7


def test_bound_method():
    class Model:
        @create_captured_function
        def method(self, a, b=2):
            return self, a, b

    Model.method.config = {"a": 5}
    m = Model()
    assert m.method() == (m, 5, 2)
    assert m.method(1, b=3) == (m, 1, 3)


def test_debug_log_lines(caplog):
    def foo():
        return 1

    cf = create_captured_function(foo)
    cf.logger = logging.getLogger("captured_test")
    with caplog.at_level(logging.DEBUG, logger="captured_test"):
        assert cf() == 1
    assert [r.getMessage() for r in caplog.records] == ["Started", "Finished after 0:00:00."]


def test_config_errors_get_prefix():
    def foo(_config):
        raise ConfigAddedError("b", config=_config)

    cf = create_captured_function(foo, prefix="dataset")
    cf.config = {"b": 3}
    with pytest.raises(ConfigError) as excinfo:
        cf()
    assert list(excinfo.value.conflicting_configs) == ["dataset.b"]


def test_read_only_config():
    def foo(d, _config):
        d["x"] = 1

    cf = create_captured_function(foo)
    cf.config = make_read_only({"d": {"y": 2}})
    from sacred.utils import SacredError

    with pytest.raises(SacredError, match="The configuration is read-only in a captured function!"):
        cf()
