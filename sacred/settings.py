"""Global settings, as a munch whose keys are frozen after import."""

import copy
import platform

from sacred.utils import SacredError

__all__ = ("SETTINGS", "SettingError")


class SettingError(SacredError):
    """An unknown setting, or a nested setting given a non-munch value."""


class Munch(dict):
    """A dict whose items are also attributes (the subset of ``munch.Munch`` we need).

    Written here because importing the ``munch`` package costs ~15 ms at start-up.
    """

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key, value):
        self[key] = value

    def __delattr__(self, key):
        try:
            del self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __dir__(self):
        return list(self.keys())

    def __repr__(self):
        return f"{type(self).__name__}({dict.__repr__(self)})"

    def toDict(self):
        return {k: v.toDict() if isinstance(v, Munch) else v for k, v in self.items()}

    @classmethod
    def fromDict(cls, d):
        return cls({k: cls.fromDict(v) if isinstance(v, dict) else v for k, v in d.items()})


def _is_munch(value):
    # also accept instances of the real munch package, without importing it
    return isinstance(value, Munch) or any(
        c.__module__ == "munch" and c.__name__ == "Munch" for c in type(value).__mro__
    )


class FrozenKeyMunch(Munch):
    """A Munch whose set of keys can be frozen: new keys then raise SettingError."""

    def freeze_keys(self):
        for value in self.values():
            if isinstance(value, FrozenKeyMunch):
                value.freeze_keys()
        object.__setattr__(self, "_frozen_keys", True)

    def _check_can_set(self, key, value):
        if not getattr(self, "_frozen_keys", False):
            return
        if key not in self:
            raise SettingError(f"Unknown setting: {key}. Possible keys are: {list(self.keys())}")
        if _is_munch(self[key]) and not _is_munch(value):
            raise SettingError(
                f"Can't set this setting ({key}) to a non-munch value {value}, "
                "it is a nested setting!"
            )

    def __setitem__(self, key, value):
        self._check_can_set(key, value)
        super().__setitem__(key, value)

    def __deepcopy__(self, memo):
        copied = FrozenKeyMunch()
        for key, value in self.items():
            dict.__setitem__(copied, key, copy.deepcopy(value, memo))
        if getattr(self, "_frozen_keys", False):
            copied.freeze_keys()
        return copied


SETTINGS = FrozenKeyMunch.fromDict(
    {
        "CONFIG": {
            # make sure all config keys are compatible with MongoDB
            "ENFORCE_KEYS_MONGO_COMPATIBLE": True,
            # make sure all config keys are serializable with jsonpickle
            "ENFORCE_KEYS_JSONPICKLE_COMPATIBLE": True,
            # make sure all config keys are valid python identifiers
            "ENFORCE_VALID_PYTHON_IDENTIFIER_KEYS": False,
            # make sure all config keys are strings
            "ENFORCE_STRING_KEYS": False,
            # make sure no config key contains an equals sign
            "ENFORCE_KEYS_NO_EQUALS": True,
            # captured functions see their configuration as read-only containers
            "READ_ONLY_CONFIG": True,
            # regexes of comments in config scopes that are not docs
            "IGNORED_COMMENTS": ["^pylint:", "^noinspection"],
            # numpy < 1.19 (the only versions without default_rng) cannot be
            # installed on the Python versions we support, so the legacy API is
            # off by default; reading numpy's version here would cost an import.
            "NUMPY_RANDOM_LEGACY_API": False,
        },
        "HOST_INFO": {
            "INCLUDE_GPU_INFO": True,
            "INCLUDE_CPU_INFO": True,
            "CAPTURED_ENV": [],
        },
        "COMMAND_LINE": {
            # raise on `with` values that are not Python literals
            "STRICT_PARSING": False,
            # show options whose class sets _enabled = False
            "SHOW_DISABLED_OPTIONS": True,
        },
        "CAPTURE_MODE": "sys" if platform.system() == "Windows" else "fd",
        "DISCOVER_DEPENDENCIES": "imported",  # none | imported | sys | pkg
        "DISCOVER_SOURCES": "imported",  # none | imported | sys | dir
        "DEFAULT_BEAT_INTERVAL": 10.0,
    },
)
SETTINGS.freeze_keys()
