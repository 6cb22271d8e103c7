"""Captured functions: their missing arguments are filled in from the configuration."""

import time
from datetime import timedelta

import wrapt

from sacred.config.custom_containers import fallback_dict
from sacred.config.signature import Signature
from sacred.randomness import create_rnd, get_seed
from sacred.utils import ConfigError

__all__ = ["create_captured_function", "captured_function"]


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
    return captured_function(function)


@wrapt.decorator
def captured_function(wrapped, instance, args, kwargs):
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
    with ConfigError.track(config, wrapped.prefix):
        result = wrapped(*args, **kwargs)
    if logger is not None:
        elapsed = timedelta(seconds=round(time.time() - start_time))
        logger.debug("Finished after %s.", elapsed)
    return result
