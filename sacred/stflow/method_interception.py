"""``LogFileWriter``: record where ``tf.summary.FileWriter`` writes, in the run's info.

The module global ``tf`` is ``tensorflow.compat.v1`` (or None without TensorFlow).
It is imported on first use, since importing TensorFlow takes seconds; assign the
global to use another module object.
"""

from contextlib import ContextDecorator

from sacred.stflow.internal import ContextMethodDecorator

__all__ = ("LogFileWriter",)

_UNSET = object()


def _import_tf():
    try:
        import tensorflow
    except ImportError:
        return None
    return getattr(getattr(tensorflow, "compat", None), "v1", tensorflow)


def _get_tf():
    tf = globals().get("tf", _UNSET)
    if tf is _UNSET:
        tf = globals()["tf"] = _import_tf()
    return tf


def __getattr__(name):
    if name == "tf":
        return _get_tf()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class LogFileWriter(ContextDecorator, ContextMethodDecorator):
    """Context manager and decorator: each ``tf.summary.FileWriter(logdir)`` created in
    its scope appends ``logdir`` to ``experiment.info["tensorflow"]["logdirs"]``.

    The experiment must be running (its ``info`` belongs to the current run).
    """

    def __init__(self, experiment):
        self.experiment = experiment
        tf = _get_tf()
        if tf is None:
            raise ImportError(
                "LogFileWriter needs TensorFlow (tensorflow.compat.v1.summary.FileWriter), "
                "which could not be imported."
            )

        def log_writer_decorator(instance, original_method, original_args, original_kwargs):
            result = original_method(instance, *original_args, **original_kwargs)
            if "logdir" in original_kwargs:
                logdir = original_kwargs["logdir"]
            else:
                logdir = original_args[0]
            info = self.experiment.info
            info.setdefault("tensorflow", {}).setdefault("logdirs", []).append(logdir)
            return result

        ContextMethodDecorator.__init__(
            self, tf.summary.FileWriter, "__init__", log_writer_decorator
        )
