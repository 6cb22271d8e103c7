"""Global settings, as a munch whose keys are frozen after import."""

import platform

import munch

from sacred.utils import SacredError

__all__ = ("SETTINGS", "SettingError")


class SettingError(SacredError):
    """An unknown setting, or a nested setting given a non-munch value."""


class FrozenKeyMunch(munch.Munch):
    """A Munch whose set of keys can be frozen: new keys then raise SettingError."""

    __frozen_keys = False

    def freeze_keys(self):
        for value in self.values():
            if isinstance(value, FrozenKeyMunch):
                value.freeze_keys()
        object.__setattr__(self, "_FrozenKeyMunch__frozen_keys", True)

    def _check_can_set(self, key, value):
        if not self.__frozen_keys:
            return
        if key not in self:
            raise SettingError(f"Unknown setting: {key}. Possible keys are: {list(self.keys())}")
        if isinstance(self[key], munch.Munch) and not isinstance(value, munch.Munch):
            raise SettingError(
                f"Can't set this setting ({key}) to a non-munch value {value}, "
                "it is a nested setting!"
            )

    def __setitem__(self, key, value):
        self._check_can_set(key, value)
        super().__setitem__(key, value)

    def __setattr__(self, key, value):
        self._check_can_set(key, value)
        super().__setattr__(key, value)

    def __deepcopy__(self, memo):
        copied = FrozenKeyMunch()
        for key, value in self.items():
            dict.__setitem__(copied, key, _deepcopy(value, memo))
        if self.__frozen_keys:
            copied.freeze_keys()
        return copied


def _deepcopy(value, memo):
    import copy

    return copy.deepcopy(value, memo)


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
