"""Sacred: experiment configuration, bookkeeping and reproducibility.

Public names are loaded on first use, so ``import sacred`` stays fast; every
submodule (``sacred.utils``, ``sacred.config``, ...) is reachable as an attribute.
"""

import importlib

from sacred.__about__ import __author__, __author_email__, __url__, __version__

__all__ = (
    "Experiment",
    "Ingredient",
    "observers",
    "host_info_getter",
    "host_info_gatherer",
    "__version__",
    "__author__",
    "__author_email__",
    "__url__",
    "SETTINGS",
    "cli_option",
)

_LAZY = {
    "Experiment": "sacred.experiment",
    "Ingredient": "sacred.ingredient",
    "SETTINGS": "sacred.settings",
    "host_info_getter": "sacred.host_info",
    "host_info_gatherer": "sacred.host_info",
    "cli_option": "sacred.commandline_options",
    "rerun": "sacred.reproduce",
}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:
        try:
            value = importlib.import_module(f"sacred.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"sacred.{name}":
                raise
            raise AttributeError(f"module 'sacred' has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
