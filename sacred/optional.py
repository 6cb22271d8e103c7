"""Optional dependencies, detected lazily.

``has_numpy``/``np``, ``has_yaml``/``yaml``, ``has_pandas``/``pandas``, ``has_sqlalchemy``,
``has_mako``, ``has_tinydb``, ``has_tensorflow`` and ``libc`` are computed on first
access (module ``__getattr__``), so importing this module imports none of them.
"""

import importlib
import platform

from sacred.utils import get_package_version, modules_exist, parse_version

__all__ = [
    "optional_import",
    "get_tensorflow",
    "modules_exist",
    "get_package_version",
    "parse_version",
]
# the lazy names are left out of __all__: a star-import would compute (import) them all


def optional_import(*package_names):
    """Import all packages; ``(True, first_module)`` on success, else ``(False, None)``."""
    try:
        packages = [importlib.import_module(name) for name in package_names]
    except ImportError:
        return False, None
    return True, packages[0]


def get_tensorflow():
    """The TensorFlow module with the 1.x API (``tensorflow.compat.v1`` where it exists)."""
    if get_package_version("tensorflow") < parse_version("1.13.1"):
        import tensorflow

        return tensorflow
    import tensorflow.compat.v1

    return tensorflow.compat.v1


def _load_libc():
    import ctypes

    if platform.system() == "Windows":
        return ctypes.cdll.msvcrt
    return ctypes.cdll.LoadLibrary(None)


def _imported(module_name):
    def load():
        return optional_import(module_name)

    return load


# name -> (function computing the value(s), names it provides)
_LAZY = {
    ("has_numpy", "np"): _imported("numpy"),
    ("has_yaml", "yaml"): _imported("yaml"),
    ("has_pandas", "pandas"): _imported("pandas"),
    ("has_sqlalchemy",): lambda: (modules_exist("sqlalchemy"),),
    ("has_mako",): lambda: (modules_exist("mako"),),
    ("has_tinydb",): lambda: (modules_exist("tinydb", "tinydb_serialization", "hashfs"),),
    ("has_tensorflow",): lambda: (modules_exist("tensorflow"),),
    ("libc",): lambda: (_load_libc(),),
}


def __getattr__(name):
    for names, compute in _LAZY.items():
        if name in names:
            values = compute()
            for n, v in zip(names, values):
                globals()[n] = v
            return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | {n for names in _LAZY for n in names})
