"""The interface every optimizer adapter implements.

An optimizer is created with the ``SearchSpace`` it works on. The assistant feeds it the
finished runs of that search space with ``update`` (only runs it has not seen before) and
asks it for the next configuration with ``suggest_configuration``. Configurations are flat
``{parameter name: value}`` dicts without inactive conditional parameters; costs are
minimised.
"""

from __future__ import annotations

import random
from typing import Optional

from labwatch.searchspace import SearchSpace

__all__ = ("Optimizer",)


class Optimizer:
    def __init__(self, search_space: SearchSpace, seed: Optional[int] = None):
        self.search_space = search_space
        self.seed = seed
        self.rng = random.Random(seed)
        self.configs: list = []  # everything passed to update, in order
        self.costs: list = []

    def get_random_config(self) -> dict:
        return self.search_space.sample(self.rng)

    def get_default_config(self) -> dict:
        return self.search_space.default()

    def suggest_configuration(self) -> Optional[dict]:
        """The next configuration to evaluate (None: nothing to suggest right now)."""
        return None

    def update(self, configs: list, costs: list, runs: list):
        """Learn from finished runs: parallel lists of configs, costs and run records.

        May return run records it changed (the assistant does not write them back).
        """
        self.configs.extend(configs)
        self.costs.extend(costs)

    def needs_updates(self) -> bool:
        """Whether suggestions depend on the history (random search: no)."""
        return False
