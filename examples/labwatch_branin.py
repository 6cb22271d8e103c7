#!/usr/bin/env python
"""Labwatch on the Branin function: Bayesian optimisation of a 2-D benchmark.

Each call with the search space runs one configuration suggested by a Gaussian-process
optimiser that has seen every earlier run of this search space in the ``-F`` folder
(the first few suggestions are random). Explicit updates still win over the suggestion:

    $ ./labwatch_branin.py -F runs with search_space x=[3.14159,2.275]
    INFO - branin - Running command 'main'
    INFO - branin - Started run with ID "1"
    INFO - branin - Result: 0.3978873577678268
    INFO - branin - Completed after 0:00:00

Run it a few dozen times and look at the best run found so far:

    :$ for i in $(seq 30); do ./labwatch_branin.py -F runs with search_space; done
    :$ ./labwatch_branin.py -F runs best
"""

import math

from labwatch import LabAssistant
from labwatch.hyperparameters import UniformFloat
from labwatch.optimizers import BayesianOptimization
from sacred import Experiment

ex = Experiment("branin")
a = LabAssistant(ex, optimizer=BayesianOptimization)


@ex.config
def cfg():
    x = [0.0, 0.0]


@a.search_space
def search_space():
    x = (UniformFloat(-5, 10), UniformFloat(0, 15))


def branin(x1, x2):
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


@ex.command(unobserved=True)
def best():
    """Print the best configuration of the search space found so far."""
    values, cost = a.get_current_best(search_space="search_space")
    print(f"best cost {cost} at {values}")


@ex.automain
def main(x):
    return branin(x[0], x[1])
