"""Helpers of the configuration system: key validation, normalization, chaining."""

import re
import sys

from sacred.config.custom_containers import DogmaticDict, DogmaticList
from sacred.settings import SETTINGS
from sacred.utils import PYTHON_IDENTIFIER, InvalidConfigError, abbreviate

__all__ = [
    "MAX_CONFIG_DEPTH",
    "abbreviate",
    "check_config_depth",
    "assert_is_valid_key",
    "normalize_numpy",
    "normalize_or_die",
    "recursive_fill_in",
    "chain_evaluate_config_scopes",
    "dogmatize",
    "undogmatize",
]

#: how many levels config keys may nest (dotted parts and nested dicts counted together)
MAX_CONFIG_DEPTH = 100

_jsonpickle_tags = None
# what any key rule could object to (the rules themselves are checked after a match)
_SUSPICIOUS = re.compile(r"[.=]|^\$|^py/|^json://")


def _reserved_jsonpickle_tags():
    global _jsonpickle_tags
    if _jsonpickle_tags is None:
        from jsonpickle import tags

        _jsonpickle_tags = frozenset(tags.RESERVED)
    return _jsonpickle_tags


def _key_checker():
    """A function validating one key under the current ``SETTINGS.CONFIG``.

    Reading the settings once per normalization (rather than once per key) keeps big
    configs fast.
    """
    cfg = SETTINGS.CONFIG
    mongo = cfg.ENFORCE_KEYS_MONGO_COMPATIBLE
    jsonpickle_compatible = cfg.ENFORCE_KEYS_JSONPICKLE_COMPATIBLE
    string_keys = cfg.ENFORCE_STRING_KEYS
    identifiers = cfg.ENFORCE_VALID_PYTHON_IDENTIFIER_KEYS
    no_equals = cfg.ENFORCE_KEYS_NO_EQUALS

    def check_slowly(key):
        if mongo and ("." in key or key.startswith("$")):
            raise KeyError(f'Invalid key "{key}". Config-keys cannot contain "." or start with "$"')
        if jsonpickle_compatible and (
            key.startswith("json://")
            or (key.startswith("py/") and key in _reserved_jsonpickle_tags())
        ):
            raise KeyError(
                f'Invalid key "{key}". Config-keys cannot be one of the reserved jsonpickle '
                f'tags: {sorted(_reserved_jsonpickle_tags())} or start with "json://"'
            )
        if identifiers and not PYTHON_IDENTIFIER.match(key):
            raise KeyError(f'Key "{key}" is not a valid python identifier')
        if no_equals and "=" in key:
            raise KeyError(
                f'Invalid key "{key}". Config keys may not contain an equals sign ("=").'
            )

    suspicious = _SUSPICIOUS.search

    def check(key):
        if type(key) is str:
            # most keys contain nothing any rule could object to
            if identifiers or suspicious(key):
                check_slowly(key)
        elif isinstance(key, str):
            check_slowly(key)
        elif string_keys:
            raise KeyError(
                f'Invalid key "{key}". Config-keys have to be strings, but was {type(key)}'
            )

    return check


def assert_is_valid_key(key):
    """Raise KeyError if ``key`` may not be used in a config (see ``SETTINGS.CONFIG``).

    * ``ENFORCE_KEYS_MONGO_COMPATIBLE``: no ``.`` and no leading ``$``;
    * ``ENFORCE_KEYS_JSONPICKLE_COMPATIBLE``: no jsonpickle tag (``py/object``, ...) and
      no ``json://`` prefix;
    * ``ENFORCE_STRING_KEYS``: only str keys;
    * ``ENFORCE_VALID_PYTHON_IDENTIFIER_KEYS``: only Python identifiers;
    * ``ENFORCE_KEYS_NO_EQUALS``: no ``=``.
    """
    _key_checker()(key)


def check_config_depth(updates):
    """Raise InvalidConfigError if a key of ``updates`` nests deeper than MAX_CONFIG_DEPTH.

    The dotted parts of keys and the nesting of dicts add up (``{"a.b": {"c": 1}}`` is three
    levels). Walked without recursion, so a hostile depth fails fast with a one-line message.
    """

    stack = [(updates, 0, None)]
    while stack:
        current, depth, chain = stack.pop()
        for key, value in current.items():
            level = depth + (key.count(".") + 1 if isinstance(key, str) else 1)
            link = (key, chain)
            if level > MAX_CONFIG_DEPTH:
                parts = []
                while link is not None:
                    parts.append(str(link[0]))
                    link = link[1]
                path = ".".join(reversed(parts))
                raise InvalidConfigError(
                    f"Invalid config update {abbreviate(path)!r}: the path nests {level} levels "
                    f"deep; at most {MAX_CONFIG_DEPTH} are allowed.",
                    print_conflicting_configs=False,
                    print_traceback=False,
                )
            if isinstance(value, dict):
                stack.append((value, level, link))


def normalize_numpy(obj):
    """Python scalars for numpy scalars (``np.float32(1.5)`` -> ``1.5``); else unchanged."""
    np = sys.modules.get("numpy")
    if np is not None and isinstance(obj, np.generic):
        try:
            return obj.item()
        except ValueError:
            pass
    return obj


def normalize_or_die(obj):
    """Plain containers (tuples become lists), Python scalars, validated dict keys."""
    return _normalize(obj, _key_checker(), sys.modules.get("numpy"))


_ATOMIC = frozenset({int, float, str, bool, type(None), bytes})


def _normalize(obj, check, np):
    if type(obj) in _ATOMIC:
        return obj
    if isinstance(obj, dict):
        res = {}
        for key, value in obj.items():
            check(key)
            res[key] = value if type(value) in _ATOMIC else _normalize(value, check, np)
        return res
    if isinstance(obj, (list, tuple)):
        return [v if type(v) in _ATOMIC else _normalize(v, check, np) for v in obj]
    if np is not None and isinstance(obj, np.generic):
        return normalize_numpy(obj)
    return obj


def recursive_fill_in(config, preset):
    """Add the entries of ``preset`` that ``config`` lacks, recursing into dicts."""
    for key in preset:
        if key not in config:
            config[key] = preset[key]
        elif isinstance(config[key], dict) and isinstance(preset[key], dict):
            recursive_fill_in(config[key], preset[key])


def chain_evaluate_config_scopes(config_scopes, fixed=None, preset=None, fallback=None):
    """Evaluate scopes in order; each sees the result so far as its preset.

    Returns ``(config, summaries)`` with the undogmatized config and one ConfigSummary
    per scope.
    """
    fixed = fixed or {}
    fallback = fallback or {}
    final_config = dict(preset or {})
    config_summaries = []
    for config in config_scopes:
        cfg = config(fixed=fixed, preset=final_config, fallback=fallback)
        config_summaries.append(cfg)
        final_config.update(cfg)
    if not config_scopes:
        final_config.update(fixed)
    return undogmatize(final_config), config_summaries


def dogmatize(obj):
    """Dicts become DogmaticDicts (with them as fixed values), lists DogmaticLists."""
    if isinstance(obj, dict):
        return DogmaticDict({key: dogmatize(val) for key, val in obj.items()})
    if isinstance(obj, list):
        return DogmaticList([dogmatize(value) for value in obj])
    if isinstance(obj, tuple):
        return tuple(dogmatize(value) for value in obj)
    return obj


def undogmatize(obj):
    """Plain dicts and lists for the dogmatic ones (recursively)."""
    if isinstance(obj, DogmaticDict):
        return {key: undogmatize(value) for key, value in obj.items()}
    if isinstance(obj, DogmaticList):
        return [undogmatize(value) for value in obj]
    if isinstance(obj, dict):
        return {key: undogmatize(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [undogmatize(value) for value in obj]
    if isinstance(obj, tuple):
        return tuple(undogmatize(value) for value in obj)
    return obj
