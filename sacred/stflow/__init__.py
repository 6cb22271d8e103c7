"""TensorFlow helpers: ``LogFileWriter`` records the log dirs of ``tf.summary.FileWriter``."""

from sacred.stflow.method_interception import LogFileWriter

__all__ = ("LogFileWriter",)
