"""The interface every optimizer adapter implements.

An optimizer is created with the ``SearchSpace`` it works on. The assistant feeds it the
finished runs of that search space with ``update`` (only runs it has not seen before) and
asks it for the next configuration with ``suggest_configuration``. Configurations are flat
``{parameter name: value}`` dicts without inactive conditional parameters; costs are
minimised.

While runs are in flight (a parallel search, queued or running runs of other workers), the
assistant calls ``set_pending`` with their configurations before asking, so that a model
can avoid suggesting the same point again: the model-based adapters add them to their model
as a *constant liar* (``liar="mean"``: the mean cost so far), TPE as RUNNING trials.
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
        self.pending: list = []  # configurations being evaluated now (set_pending)

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

    def set_pending(self, configs: list) -> None:
        """The configurations being evaluated right now (replaces the previous list).

        Called before each ``suggest_configuration`` of a parallel search; an empty list
        when nothing is in flight. The base class only keeps them.
        """
        self.pending = [dict(c) for c in configs]

    def needs_updates(self) -> bool:
        """Whether suggestions depend on the history (random search: no)."""
        return False
