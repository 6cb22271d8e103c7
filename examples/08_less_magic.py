#!/usr/bin/env python
"""The polynomial fit of ``07_magic.py`` with as little magic as possible.

The configuration is a plain dict, the only captured function is ``main``, and it reads
everything from ``_config`` (the whole configuration as a dict) instead of named arguments. The
script starts the run itself with ``ex.run()`` instead of ``@ex.automain``, so the command line
is not parsed, and then works with the returned ``Run`` object. The seed is part of the
configuration, so every run gives the same result.

    $ ./08_less_magic.py
    WARNING - polyfit_less_magic - No observers have been added to this run
    INFO - polyfit_less_magic - Running command 'main'
    INFO - polyfit_less_magic - Started
    INFO - polyfit_less_magic - Result: 0.9733
    INFO - polyfit_less_magic - Completed after 0:00:00
    status COMPLETED, R² = 0.9733
"""

import numpy as np

from sacred import Experiment

ex = Experiment("polyfit_less_magic")
ex.add_config({"degree": 3, "n_samples": 50, "noise": 0.1, "seed": 0})


@ex.main
def main(_config):
    rng = np.random.default_rng(_config["seed"])
    n, noise = _config["n_samples"], _config["noise"]

    def make_data():
        x = rng.uniform(-1.0, 1.0, n)
        return x, np.sin(3 * x) + noise * rng.normal(size=n)

    x_train, y_train = make_data()
    x_test, y_test = make_data()
    coefficients, *_ = np.linalg.lstsq(
        np.vander(x_train, _config["degree"] + 1), y_train, rcond=None
    )
    predicted = np.vander(x_test, len(coefficients)) @ coefficients
    score = 1.0 - ((y_test - predicted) ** 2).sum() / ((y_test - y_test.mean()) ** 2).sum()
    return round(float(score), 4)


if __name__ == "__main__":
    run = ex.run()
    print("status {}, R² = {}".format(run.status, run.result))
