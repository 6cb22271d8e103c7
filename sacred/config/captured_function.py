"""Captured functions: their missing arguments are filled in from the configuration."""

import time
from datetime import timedelta

from sacred.config.custom_containers import fallback_dict
from sacred.config.signature import Signature
from sacred.randomness import create_rnd, get_seed
from sacred.utils import ConfigError

__all__ = ["create_captured_function", "captured_function", "CapturedFunction"]


def create_captured_function(function, prefix=None):
    """Wrap ``function`` so that parameters not given explicitly come from ``.config``.

    The wrapper exposes ``signature``, ``uses_randomness``, ``logger``, ``config``,
    ``rnd``, ``run`` and ``prefix`` (set by the run before calling it).
    """
    sig = Signature(function)
    function.signature = sig
    function.uses_randomness = "_seed" in sig.arguments or "_rnd" in sig.arguments
    function.logger = None
    function.config = {}
    function.rnd = None
    function.run = None
    function.prefix = prefix
    return CapturedFunction(function)


class CapturedFunction:
    # A transparent proxy for a captured function: attribute reads and writes go to
    # the wrapped function (``cf.config = ...`` sets ``function.config``), it binds
    # like a function when used as a method, and compares equal to the function.
    # Written here instead of using wrapt, whose import costs tens of milliseconds.

    def __init__(self, wrapped, instance=None):
        object.__setattr__(self, "__wrapped__", wrapped)
        object.__setattr__(self, "_self_instance", instance)
        for name in ("__module__", "__name__", "__qualname__", "__doc__"):
            object.__setattr__(self, name, getattr(wrapped, name, None))

    def __getattr__(self, name):
        return getattr(self.__wrapped__, name)

    def __setattr__(self, name, value):
        setattr(self.__wrapped__, name, value)

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        return CapturedFunction(self.__wrapped__, instance)

    def __eq__(self, other):
        return self.__wrapped__ == getattr(other, "__wrapped__", other)

    def __hash__(self):
        return hash(self.__wrapped__)

    def __repr__(self):
        return f"<captured function {self.__qualname__}>"


def captured_function(self, *args, **kwargs):
    # CapturedFunction.__call__; its name is the one frame tracebacks show for the wrapper
    wrapped, instance = self.__wrapped__, self._self_instance
    config = wrapped.config
    # the config plus the special arguments, without copying the config
    options = fallback_dict(config, _config=config, _log=wrapped.logger, _run=wrapped.run)
    if wrapped.uses_randomness:
        options["_seed"] = get_seed(wrapped.rnd)
        options["_rnd"] = create_rnd(options["_seed"])

    bound = instance is not None
    args, kwargs = wrapped.signature.construct_arguments(args, kwargs, options, bound)
    logger = wrapped.logger
    if logger is not None:
        logger.debug("Started")
        start_time = time.time()
    function = wrapped if instance is None else wrapped.__get__(instance, type(instance))
    with ConfigError.track(config, wrapped.prefix):
        result = function(*args, **kwargs)
    if logger is not None:
        elapsed = timedelta(seconds=round(time.time() - start_time))
        logger.debug("Finished after %s.", elapsed)
    return result


CapturedFunction.__call__ = captured_function
