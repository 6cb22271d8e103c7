"""LogFileWriter and ContextMethodDecorator, with a TensorFlow-like module object.

TensorFlow is not a dependency; ``method_interception.tf`` is the documented hook
for the module that provides ``summary.FileWriter``.
"""

import types

import pytest

import sacred.stflow.method_interception as method_interception
from sacred.stflow import LogFileWriter
from sacred.stflow.internal import ContextMethodDecorator


class FileWriter:
    """Stands in for tf.compat.v1.summary.FileWriter."""

    created = []

    def __init__(self, logdir, graph=None, **kwargs):
        self.logdir = logdir
        self.graph = graph
        FileWriter.created.append(logdir)


class FakeExperiment:
    """Like a running Experiment: ``info`` is the current run's info dict."""

    def __init__(self):
        self.info = {}


@pytest.fixture
def tf(monkeypatch):
    FileWriter.created = []
    fake = types.SimpleNamespace(summary=types.SimpleNamespace(FileWriter=FileWriter))
    monkeypatch.setattr(method_interception, "tf", fake, raising=False)
    original_init = FileWriter.__init__
    yield fake
    assert FileWriter.__init__ is original_init  # every patch was undone


def test_log_file_writer_as_context_manager(tf):
    ex = FakeExperiment()
    with LogFileWriter(ex):
        w = tf.summary.FileWriter("/tmp/logs/a")
        tf.summary.FileWriter(logdir="/tmp/logs/b", graph="g")
    assert w.logdir == "/tmp/logs/a"  # the original constructor still ran
    assert FileWriter.created == ["/tmp/logs/a", "/tmp/logs/b"]
    assert ex.info == {"tensorflow": {"logdirs": ["/tmp/logs/a", "/tmp/logs/b"]}}
    # outside the block nothing is recorded
    tf.summary.FileWriter("/tmp/logs/c")
    assert ex.info["tensorflow"]["logdirs"] == ["/tmp/logs/a", "/tmp/logs/b"]


def test_log_file_writer_as_decorator(tf):
    ex = FakeExperiment()
    ex.info["tensorflow"] = {"logdirs": ["/earlier"]}

    @LogFileWriter(ex)
    def train(path):
        tf.summary.FileWriter(path)
        return "done"

    assert train("/tmp/run1") == "done"
    assert train("/tmp/run2") == "done"
    assert ex.info["tensorflow"]["logdirs"] == ["/earlier", "/tmp/run1", "/tmp/run2"]


def test_patch_is_undone_on_exceptions(tf):
    ex = FakeExperiment()
    with pytest.raises(RuntimeError, match="boom"):
        with LogFileWriter(ex):
            tf.summary.FileWriter("/tmp/x")
            raise RuntimeError("boom")
    assert ex.info["tensorflow"]["logdirs"] == ["/tmp/x"]


def test_nested_writers_do_not_patch_twice(tf):
    outer, inner = FakeExperiment(), FakeExperiment()
    with LogFileWriter(outer):
        patched = FileWriter.__init__
        with LogFileWriter(inner):
            assert FileWriter.__init__ is patched
            tf.summary.FileWriter("/tmp/nested")
        assert FileWriter.__init__ is patched  # the inner exit left the outer patch alone
    assert outer.info["tensorflow"]["logdirs"] == ["/tmp/nested"]
    assert inner.info == {}


def test_context_method_decorator_calls_decorator_with_instance_and_args():
    class Greeter:
        def greet(self, name, punctuation="!"):
            return f"hello {name}{punctuation}"

    seen = []

    def shout(instance, original_method, args, kwargs):
        seen.append((instance, args, kwargs))
        return original_method(instance, *args, **kwargs).upper()

    g = Greeter()
    original = Greeter.greet
    with ContextMethodDecorator(Greeter, "greet", shout):
        assert g.greet("bob", punctuation="?") == "HELLO BOB?"
        assert Greeter.greet.__name__ == "greet"
    assert Greeter.greet is original
    assert g.greet("bob") == "hello bob!"
    assert seen == [(g, ("bob",), {"punctuation": "?"})]


def test_without_tensorflow_a_clear_error(monkeypatch):
    monkeypatch.setattr(method_interception, "tf", None, raising=False)
    with pytest.raises(ImportError, match="LogFileWriter needs TensorFlow"):
        LogFileWriter(FakeExperiment())


def test_tf_global_is_resolved_lazily(monkeypatch):
    monkeypatch.delattr(method_interception, "tf", raising=False)
    calls = []

    def fake_import():
        calls.append(1)
        return None

    monkeypatch.setattr(method_interception, "_import_tf", fake_import)
    assert method_interception.tf is None
    assert method_interception.tf is None
    assert calls == [1]
    monkeypatch.delattr(method_interception, "tf", raising=False)


def test_with_a_running_experiment(tf):
    from sacred import Experiment

    ex = Experiment("tf_logdirs", interactive=True)

    @ex.main
    def main():
        with LogFileWriter(ex):
            tf.summary.FileWriter("/tmp/tf/real")
        return 1

    run = ex.run()
    assert run.info["tensorflow"]["logdirs"] == ["/tmp/tf/real"]
