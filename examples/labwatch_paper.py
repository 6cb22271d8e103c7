#!/usr/bin/env python
"""The Labwatch example of the Sacred paper, with a small numpy network instead of Keras.

A one-hidden-layer network is trained with minibatch SGD on a synthetic two-class problem;
the cost is the validation error. Two search spaces: ``search_space`` tunes the learning
rate and the batch size, ``small_search_space`` only the learning rate (the batch size
keeps its config value). Explicit updates win over the suggestions:

    $ ./labwatch_paper.py -F runs with small_search_space learning_rate=0.05 nr_epochs=3
    INFO - labwatch_paper - Running command 'main'
    INFO - labwatch_paper - Started run with ID "1"
    INFO - labwatch_paper - Result: {'optimization_target': 0.41796875, 'accuracy': 0.58203125}
    INFO - labwatch_paper - Completed after 0:00:00

Every run from a search space is fed to the optimizer for the next suggestion:

    :$ ./labwatch_paper.py -F runs with search_space
    :$ ./labwatch_paper.py -F runs with small_search_space
"""

from labwatch import LabAssistant
from labwatch.hyperparameters import UniformFloat, UniformNumber
from labwatch.optimizers import RandomSearch
from sacred import Experiment

ex = Experiment("labwatch_paper")
la = LabAssistant(ex, optimizer=RandomSearch)


@ex.config
def cfg():
    hidden_units = 16
    batch_size = 32
    nr_epochs = 10
    optimizer = "sgd"
    learning_rate = 0.1
    log_dir = "log/NN{}".format(hidden_units)


@la.searchspace
def search_space():
    learning_rate = UniformFloat(lower=10e-3, upper=10e-2, default=10e-2, log_scale=True)
    batch_size = UniformNumber(lower=32, upper=64, default=32, type=int, log_scale=True)


@la.searchspace
def small_search_space():
    learning_rate = UniformFloat(lower=10e-3, upper=10e-2, default=10e-2, log_scale=True)


def make_data(rng, n):
    x = rng.normal(size=(n, 2))
    y = (x[:, 0] ** 2 + x[:, 1] ** 2 < 1.2).astype(float)  # a disc: not linearly separable
    return x, y


@ex.automain
def main(hidden_units, batch_size, nr_epochs, learning_rate, _seed):
    import numpy as np

    rng = np.random.default_rng(0)
    x_train, y_train = make_data(rng, 512)
    x_valid, y_valid = make_data(rng, 256)
    w1 = rng.normal(scale=1.0, size=(2, hidden_units))
    b1 = np.zeros(hidden_units)
    w2 = rng.normal(scale=1.0 / np.sqrt(hidden_units), size=hidden_units)
    b2 = 0.0

    def forward(x):
        h = np.tanh(x @ w1 + b1)
        return h, 1 / (1 + np.exp(-(h @ w2 + b2)))

    for _ in range(nr_epochs):
        order = rng.permutation(len(x_train))
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            h, p = forward(x_train[idx])
            g = (p - y_train[idx]) / len(idx)  # d(cross-entropy)/d(logit)
            gh = np.outer(g, w2) * (1 - h**2)
            w2 -= learning_rate * h.T @ g
            b2 -= learning_rate * g.sum()
            w1 -= learning_rate * x_train[idx].T @ gh
            b1 -= learning_rate * gh.sum(0)
    accuracy = float(((forward(x_valid)[1] > 0.5) == y_valid).mean())
    return {"optimization_target": 1 - accuracy, "accuracy": accuracy}
