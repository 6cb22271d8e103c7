"""Random search: samples from the priors of the search space (no dependencies)."""

from __future__ import annotations

from labwatch.optimizers.base import Optimizer

__all__ = ("RandomSearch",)


class RandomSearch(Optimizer):
    def suggest_configuration(self) -> dict:
        return self.search_space.sample(self.rng)
