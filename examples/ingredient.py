#!/usr/bin/env python
"""An ingredient: a reusable part with its own configuration and commands.

``dataset`` is an ``Ingredient`` with two config scopes (the second one derives ``size`` from
the first), a captured function ``load_data`` that reads its arguments from the
``dataset`` part of the configuration, and a command ``stats``. The experiment uses the
ingredient, and its named config ``big`` overrides the ingredient's configuration.

    $ ./ingredient.py
    WARNING - ingredient_demo - No observers have been added to this run
    INFO - ingredient_demo - Running command 'main'
    INFO - ingredient_demo - Started
    loading 10 rows from numbers.csv
    INFO - ingredient_demo - Result: 45
    INFO - ingredient_demo - Completed after 0:00:00

The experiment's named config ``big`` changes the ingredient's entries; ``size`` follows:

    $ ./ingredient.py -l WARNING with big
    WARNING - ingredient_demo - No observers have been added to this run
    loading 100 rows from big_numbers.csv

Ingredient entries can be set directly with dotted names:

    $ ./ingredient.py -l WARNING with dataset.filename=other.csv dataset.rows_per_file=3
    WARNING - ingredient_demo - No observers have been added to this run
    loading 3 rows from other.csv

The ingredient's command is called by its dotted name (the log names just the function). ``foo`` is not in the configuration, so
its default is used unless it is added from the command line (which works because ``stats``
takes ``foo`` as an argument; a typo would be refused):

    $ ./ingredient.py dataset.stats
    WARNING - ingredient_demo - No observers have been added to this run
    INFO - ingredient_demo - Running command 'stats'
    INFO - ingredient_demo - Started
    Statistics for numbers.csv (foo=12)
    INFO - ingredient_demo - Completed after 0:00:00

    $ ./ingredient.py dataset.stats with dataset.foo=7
    WARNING - dataset - Added new config entry: "foo"
    WARNING - ingredient_demo - No observers have been added to this run
    INFO - ingredient_demo - Running command 'stats'
    INFO - ingredient_demo - Started
    Statistics for numbers.csv (foo=7)
    INFO - ingredient_demo - Completed after 0:00:00
"""

from sacred import Experiment, Ingredient

# ---------------------------------------------------------------- the ingredient
data_ingredient = Ingredient("dataset")


@data_ingredient.config
def data_cfg():
    filename = "numbers.csv"  # the file to read
    rows_per_file = 10  # how many rows each file has


@data_ingredient.config
def data_size(rows_per_file):
    size = rows_per_file  # rows to load


@data_ingredient.capture
def load_data(filename, size):
    print("loading {} rows from {}".format(size, filename))
    return list(range(size))


@data_ingredient.command
def stats(filename, foo=12):
    """Print some statistics about the dataset."""
    print("Statistics for {} (foo={})".format(filename, foo))


# ---------------------------------------------------------------- the experiment
ex = Experiment("ingredient_demo", ingredients=[data_ingredient])


@ex.named_config
def big():
    dataset = {"filename": "big_numbers.csv", "rows_per_file": 100}


@ex.automain
def main():
    data = load_data()
    return sum(data)
