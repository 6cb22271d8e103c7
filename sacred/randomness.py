"""Seeds and random number generators (reproducible given the root seed)."""

import importlib.util
import random
import sys

from sacred.settings import SETTINGS
from sacred.utils import InvalidConfigError, abbreviate, module_is_in_cache

__all__ = ["SEEDRANGE", "SEED_LIMIT", "check_seed", "get_seed", "create_rnd", "set_global_seed"]

# Importing numpy costs ~100 ms, more than everything else a small script does.
# When numpy is installed but nobody imported it yet, the generators of a run are
# therefore *deferred*: they stand for exactly the generator (and the seeds drawn
# from it, in order) the eager code would have made, and import numpy only when a
# function really uses randomness. Likewise numpy's global state is seeded when
# numpy gets imported during the run. Seeds and draws are identical either way.

SEEDRANGE = (1, int(1e9))
#: a seed from the config must be an int in [0, SEED_LIMIT) (what numpy's global seed takes)
SEED_LIMIT = 2**32


def check_seed(seed, key="seed"):
    """Raise InvalidConfigError unless ``seed`` (the config entry ``key``) is a usable seed.

    None (draw one) and the seeds Sacred draws itself pass; otherwise the seed must be an
    int (not a bool) in [0, 2**32).
    """
    if seed is None or isinstance(seed, DeferredSeed):
        return
    if type(seed) is int and 0 <= seed < SEED_LIMIT:
        return

    raise InvalidConfigError(
        f'The config entry "{key}" must be an int in [0, 2**32), '
        f"not {abbreviate(repr(seed) if isinstance(seed, str) else seed)}.",
        conflicting_configs=(key,),
        print_conflicting_configs=False,
        print_traceback=False,
    )


def get_seed(rnd=None):
    """A new seed: from the global ``random`` module, or drawn from ``rnd``.

    ``rnd`` may be a numpy Generator, a numpy RandomState or a ``random.Random``.
    """
    if rnd is None:
        return random.randint(*SEEDRANGE)
    if isinstance(rnd, DeferredRandom):
        return rnd.draw(rnd.reserve())
    if hasattr(rnd, "integers"):  # numpy.random.Generator
        return int(rnd.integers(*SEEDRANGE, dtype=int))
    return int(rnd.randint(*SEEDRANGE))


def _numpy():
    from sacred import optional  # lazy: it imports numpy, which a run imports only if needed

    return optional.np if optional.has_numpy else None


def create_rnd(seed):
    """A random generator seeded with ``seed``.

    ``numpy.random.default_rng(seed)`` if numpy is installed (a ``RandomState`` with
    ``SETTINGS.CONFIG.NUMPY_RANDOM_LEGACY_API``), else ``random.Random(seed)``.
    """
    assert isinstance(seed, int), f"Seed has to be integer but was {seed!r} {type(seed)}"
    np = _numpy()
    if np is None:
        return random.Random(seed)
    if SETTINGS.CONFIG.NUMPY_RANDOM_LEGACY_API:
        return np.random.RandomState(seed)
    return np.random.default_rng(seed)


_numpy_installed_cache = []


def _numpy_deferrable():
    """numpy is installed but not imported (so importing it can wait)."""
    if "numpy" in sys.modules:
        return False
    if not _numpy_installed_cache:
        try:
            _numpy_installed_cache.append(importlib.util.find_spec("numpy") is not None)
        except (ImportError, ValueError):
            _numpy_installed_cache.append(False)
    return _numpy_installed_cache[0]


class DeferredSeed:
    """The ``index``-th seed drawn from a DeferredRandom, computed when needed."""

    __slots__ = ("source", "index")

    def __init__(self, source, index):
        self.source = source
        self.index = index

    def resolve(self):
        return self.source.draw(self.index)


def resolve_seed(seed):
    return seed.resolve() if isinstance(seed, DeferredSeed) else seed


class DeferredRandom:
    """Stands for ``create_rnd(seed)`` until first used (see the module comment)."""

    def __init__(self, seed):
        self._seed = seed
        self._rng = None
        self._draws = []  # seeds drawn so far, in order
        self._reserved = 0  # seeds promised so far

    def materialize(self):
        if self._rng is None:
            self._rng = create_rnd(resolve_seed(self._seed))
        return self._rng

    def reserve(self):
        """Promise the next seed drawn from this generator; returns its index."""
        self._reserved += 1
        return self._reserved - 1

    def draw(self, index):
        rng = self.materialize()
        while len(self._draws) <= index:
            self._draws.append(get_seed(rng))
        return self._draws[index]

    def __getattr__(self, name):
        return getattr(self.materialize(), name)


def create_deferred_rnd(seed):
    """``create_rnd(seed)``, deferred while numpy has not been imported."""
    if isinstance(seed, DeferredSeed) or _numpy_deferrable():
        return DeferredRandom(seed)
    return create_rnd(seed)


def deferred_seed(rnd):
    """``get_seed(rnd)``, deferred if ``rnd`` is."""
    if isinstance(rnd, DeferredRandom):
        return DeferredSeed(rnd, rnd.reserve())
    return get_seed(rnd)


class _SeedNumpyOnImport:
    """A one-shot import hook: seeds numpy's global state right after numpy is imported."""

    def __init__(self, seed):
        self.seed = seed

    def find_spec(self, name, path=None, target=None):
        if name != "numpy":
            return None
        _disarm_numpy_seeding()
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module, seed = spec.loader.exec_module, self.seed

        def exec_and_seed(module):
            exec_module(module)
            importlib.import_module("numpy.random").seed(seed)

        spec.loader.exec_module = exec_and_seed
        return spec


def _disarm_numpy_seeding():
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _SeedNumpyOnImport)]


def set_global_seed(seed):
    """Seed ``random``, numpy, and TensorFlow/PyTorch if they are already imported.

    If numpy is installed but not imported yet, it is seeded when it gets imported.
    """
    random.seed(seed)
    _disarm_numpy_seeding()
    if _numpy_deferrable():
        sys.meta_path.insert(0, _SeedNumpyOnImport(seed))
    else:
        np = _numpy()
        if np is not None:
            np.random.seed(seed)
    if module_is_in_cache("tensorflow"):
        # lazy: sacred.optional imports numpy, which a run imports only when it needs it
        from sacred.optional import get_tensorflow

        get_tensorflow().set_random_seed(seed)
    if module_is_in_cache("torch"):
        torch = sys.modules["torch"]
        torch.manual_seed(seed)
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(seed)
