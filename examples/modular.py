#!/usr/bin/env python
"""Ingredients built from other ingredients.

Three ingredients:

* ``settings``: global switches, used by the two others;
* ``dataset.paths``: where files live. Its dotted path nests its configuration inside
  ``dataset``'s, and its config scope reads the ``settings`` configuration;
* ``dataset``: uses both. Inside ``dataset``, the configuration of ``dataset.paths`` is simply
  called ``paths``.

The experiment lists ``dataset`` and ``settings``; ``dataset.paths`` comes along with
``dataset``. So ``settings`` and ``dataset`` are at the top level of the configuration, and
``paths`` sits inside ``dataset``.

    $ ./modular.py -l WARNING
    WARNING - modular_example - No observers have been added to this run
    reading /data/experiments/digits.csv (verbose=True)
    cache: /data/experiments/cache
    top-level entries: dataset, seed, settings

Setting ``settings.verbose`` changes what ``dataset.paths`` derives from it:

    $ ./modular.py -l WARNING with settings.verbose=False dataset.paths.base=/tmp
    WARNING - modular_example - No observers have been added to this run
    reading /tmp/experiments/digits.csv (verbose=False)
    cache: none
    top-level entries: dataset, seed, settings
"""

from sacred import Experiment, Ingredient

settings = Ingredient("settings")


@settings.config
def settings_cfg():
    verbose = True  # print more


paths = Ingredient("dataset.paths", ingredients=[settings])


@paths.config
def paths_cfg(settings):
    base = "/data"  # the root folder of all data
    folder = base + "/experiments"
    cache = folder + "/cache" if settings["verbose"] else None  # only kept in verbose mode


dataset = Ingredient("dataset", ingredients=[paths, settings])


@dataset.config
def dataset_cfg(paths):
    filename = paths["folder"] + "/digits.csv"  # the data file


@dataset.capture
def describe(filename, paths, settings):
    print("reading {} (verbose={})".format(filename, settings["verbose"]))
    print("cache: {}".format(paths["cache"] or "none"))


ex = Experiment("modular_example", ingredients=[dataset, settings])


@ex.automain
def main(_config):
    describe()
    print("top-level entries: {}".format(", ".join(sorted(_config))))
