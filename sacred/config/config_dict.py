"""ConfigDict: a plain dict used as a config scope (``ex.add_config(dict)``)."""

from sacred.config.config_summary import ConfigSummary
from sacred.config.utils import dogmatize, normalize_or_die, recursive_fill_in, undogmatize

__all__ = ["ConfigDict"]


def _copy_containers(obj):
    """Copy nested dicts and lists, keep every other value (modules cannot be deep-copied)."""
    if isinstance(obj, dict):
        return {k: _copy_containers(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_copy_containers(v) for v in obj]
    return obj


class ConfigDict:
    """A config given as a dict; normalized and validated at construction."""

    def __init__(self, d):
        super().__init__()
        self._conf = normalize_or_die(d)

    def __call__(self, fixed=None, preset=None, fallback=None):
        """Return a ConfigSummary: the dict, overridden by ``fixed``, completed by ``preset``.

        The fallback is ignored.
        """
        result = dogmatize(fixed or {})
        # copies, so that filling in presets never changes this ConfigDict
        recursive_fill_in(result, _copy_containers(self._conf))
        recursive_fill_in(result, preset or {})
        added = result.revelation()
        config_summary = ConfigSummary(added, result.modified, result.typechanges)
        config_summary.update(undogmatize(result))
        return config_summary
