#!/usr/bin/env python
"""Reproducible randomness with ``seed``, ``_seed`` and ``_rnd``.

Every run has a root seed, the config entry ``seed``. It is random unless it is set, and it is
stored with the run, so any run can be repeated exactly. From it, sacred

* seeds Python's ``random`` and numpy's global generator before ``main`` starts, and
* hands each captured function that asks for ``_seed`` a fresh seed, and for ``_rnd`` a
  random generator seeded with it. Each call gets new numbers, but the sequence is fixed by
  the root seed.

``_rnd`` is a numpy ``Generator`` (or a ``RandomState`` with the legacy numpy setting, or a
``random.Random`` without numpy). ``integer_below`` below works with all three.

With the same seed, a run prints the same numbers every time:

    $ ./06_randomness.py -l WARNING with seed=42
    WARNING - randomness - No observers have been added to this run
    global random: 0.6394
    draw: seed=9330647 numbers=[59, 64, 64]
    draw: seed=967891411 numbers=[48, 9, 76]
    reversed draw: seed=204628512 numbers=[70, 51, 2]

A different seed gives different numbers:

    $ ./06_randomness.py -l WARNING with seed=7 count=2
    WARNING - randomness - No observers have been added to this run
    global random: 0.3238
    draw: seed=433544345 numbers=[16, 4]
    draw: seed=601678807 numbers=[47, 22]
    reversed draw: seed=600946007 numbers=[33, 66]

Without a fixed seed every run is different (and the seed shows up in ``print_config``):

    :$ ./06_randomness.py
"""

import random

from sacred import Experiment

ex = Experiment("randomness")


@ex.config
def cfg():
    count = 3  # how many numbers draw() returns


def integer_below(rnd, high):
    """A random integer in [0, high) from any of the generators ``_rnd`` can be."""
    if hasattr(rnd, "integers"):  # numpy.random.Generator
        return int(rnd.integers(0, high))
    if isinstance(rnd, random.Random):  # no numpy installed
        return rnd.randrange(high)
    return int(rnd.randint(0, high))  # numpy.random.RandomState


@ex.capture
def draw(count, _seed, _rnd, reverse=False):
    numbers = [integer_below(_rnd, 100) for _ in range(count)]
    if reverse:
        numbers.reverse()
    label = "reversed draw" if reverse else "draw"
    print("{}: seed={} numbers={}".format(label, _seed, numbers))


@ex.automain
def main():
    print("global random: {:.4f}".format(random.random()))
    draw()
    draw()
    draw(reverse=True)
