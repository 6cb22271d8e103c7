#!/usr/bin/env python
"""A small but complete experiment: fitting a polynomial to noisy data.

This uses the "magic" features: a config scope, captured functions that take their
parameters from the configuration, ``_rnd`` for reproducible data, and a
``FileStorageObserver`` that records every run in ``my_runs/``. The main function returns the
R² score on fresh test data, which is logged and stored as the run's result.

    $ ./07_magic.py with seed=42
    INFO - polyfit - Running command 'main'
    INFO - polyfit - Started run with ID "1"
    INFO - fit - fitted 4 coefficients to 50 points
    INFO - polyfit - Result: 0.9834
    INFO - polyfit - Completed after 0:00:00

A lower degree fits worse:

    $ ./07_magic.py with seed=42 degree=1
    INFO - polyfit - Running command 'main'
    INFO - polyfit - Started run with ID "1"
    INFO - fit - fitted 2 coefficients to 50 points
    INFO - polyfit - Result: 0.6375
    INFO - polyfit - Completed after 0:00:00

Afterwards ``my_runs/1/run.json`` holds the result and ``my_runs/1/config.json`` the
configuration, including the seed.
"""

import numpy as np

from sacred import Experiment
from sacred.observers import FileStorageObserver

ex = Experiment("polyfit")
ex.observers.append(FileStorageObserver("my_runs"))


@ex.config
def cfg():
    degree = 3  # degree of the fitted polynomial
    n_samples = 50  # number of training (and test) points
    noise = 0.1  # standard deviation of the noise on y


@ex.capture
def make_data(n_samples, noise, _rnd):
    x = _rnd.uniform(-1.0, 1.0, n_samples)
    y = np.sin(3 * x) + noise * _rnd.normal(size=n_samples)
    return x, y


@ex.capture
def fit(x, y, degree, _log):
    coefficients, *_ = np.linalg.lstsq(np.vander(x, degree + 1), y, rcond=None)
    _log.info("fitted %d coefficients to %d points", len(coefficients), len(x))
    return coefficients


def r2_score(y, predicted):
    return 1.0 - ((y - predicted) ** 2).sum() / ((y - y.mean()) ** 2).sum()


@ex.automain
def main():
    x_train, y_train = make_data()
    x_test, y_test = make_data()
    coefficients = fit(x_train, y_train)
    predicted = np.vander(x_test, len(coefficients)) @ coefficients
    return round(float(r2_score(y_test, predicted)), 4)
