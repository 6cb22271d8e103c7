"""Seeds and random number generators (reproducible given the root seed)."""

import random
import sys

from sacred.settings import SETTINGS
from sacred.utils import module_is_in_cache

__all__ = ["SEEDRANGE", "get_seed", "create_rnd", "set_global_seed"]

SEEDRANGE = (1, int(1e9))


def get_seed(rnd=None):
    """A new seed: from the global ``random`` module, or drawn from ``rnd``.

    ``rnd`` may be a numpy Generator, a numpy RandomState or a ``random.Random``.
    """
    if rnd is None:
        return random.randint(*SEEDRANGE)
    if hasattr(rnd, "integers"):  # numpy.random.Generator
        return int(rnd.integers(*SEEDRANGE, dtype=int))
    return int(rnd.randint(*SEEDRANGE))


def _numpy():
    from sacred import optional

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


def set_global_seed(seed):
    """Seed ``random``, numpy, and TensorFlow/PyTorch if they are already imported."""
    random.seed(seed)
    np = _numpy()
    if np is not None:
        np.random.seed(seed)
    if module_is_in_cache("tensorflow"):
        from sacred.optional import get_tensorflow

        get_tensorflow().set_random_seed(seed)
    if module_is_in_cache("torch"):
        torch = sys.modules["torch"]
        torch.manual_seed(seed)
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(seed)
