"""A Bayesian neural network regressor sampled with scale-adapted SGHMC (Bohamiann's model).

The model is ``y = f(x; W) + N(0, exp(s))``: an MLP (tanh hidden layers) with the prior
``W ~ N(0, weight_prior_std^2)`` on every weight and bias, and a homoscedastic noise whose
log-variance ``s`` has the prior ``N(noise_prior_mean, noise_prior_std^2)``. ``fit`` draws
``(W, s)`` from the posterior with ``_sghmc.sample`` on minibatch gradients of

    U(W, s) = sum_i [ (y_i - f(x_i; W))^2 exp(-s) / 2 + s / 2 ] - log p(W) - log p(s)

(the minibatch sum is scaled up to the data set). The prediction at ``x`` averages the
samples: mean ``E[f]``, variance ``Var[f] + E[exp(s)]`` (the spread of the networks is what
grows away from the data). Inputs and targets are expected normalised.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from labwatch.optimizers._mlp import MLP
from labwatch.optimizers._sghmc import sample

__all__ = ("BayesianNeuralNetwork",)


class BayesianNeuralNetwork:
    def __init__(
        self,
        rng: np.random.Generator,
        hidden: Sequence[int] = (50, 50, 50),
        burn_in: int = 2000,
        n_samples: int = 50,
        keep_every: int = 50,
        lr: float = 1e-2,
        mdecay: float = 0.05,
        batch_size: int = 32,
        weight_prior_std: float = 1.0,
        noise_prior_mean: float = float(np.log(1e-3)),
        noise_prior_std: float = 3.0,
    ):
        self.rng = rng
        self.hidden = tuple(hidden)
        self.burn_in, self.n_samples, self.keep_every = burn_in, n_samples, keep_every
        self.lr, self.mdecay, self.batch_size = lr, mdecay, batch_size
        self.weight_prior_std = weight_prior_std
        self.noise_prior_mean, self.noise_prior_std = noise_prior_mean, noise_prior_std
        self.net = None
        self.samples = None

    def potential_gradient(self, theta, X, y, scale: float = 1.0) -> np.ndarray:
        """grad U at ``theta`` (weights then log-noise) from the rows ``X, y``, with the
        likelihood term multiplied by ``scale`` (n / batch size for a minibatch)."""
        net = self.net
        weights, s = theta[:-1], theta[-1]
        out, acts = net.forward(weights, X)
        resid = out[:, 0] - y
        precision = np.exp(-s)
        grad = np.empty_like(theta)
        net.backward(weights, acts, (scale * precision * resid)[:, None], out=grad[:-1])
        grad[:-1] += weights / self.weight_prior_std**2
        grad[-1] = scale * 0.5 * (len(y) - precision * float(resid @ resid))
        grad[-1] += (s - self.noise_prior_mean) / self.noise_prior_std**2
        return grad

    def potential(self, theta, X, y) -> float:
        """U at ``theta`` on the rows ``X, y`` (up to a constant)."""
        weights, s = theta[:-1], theta[-1]
        out, _ = self.net.forward(weights, X)
        resid = out[:, 0] - y
        return (
            0.5 * float(resid @ resid) * np.exp(-s)
            + 0.5 * len(y) * s
            + 0.5 * float(weights @ weights) / self.weight_prior_std**2
            + 0.5 * (s - self.noise_prior_mean) ** 2 / self.noise_prior_std**2
        )

    def fit(self, X: np.ndarray, y: np.ndarray):
        X = np.asarray(X, float)
        y = np.asarray(y, float)
        n = len(y)
        self.net = MLP(X.shape[1], self.hidden, 1)
        theta0 = np.concatenate([self.net.init(self.rng), [self.noise_prior_mean]])
        batch = min(self.batch_size, n)
        scale = n / batch
        rng = self.rng

        def grad_u(theta):
            if batch == n:
                return self.potential_gradient(theta, X, y)
            rows = rng.integers(0, n, batch)
            return self.potential_gradient(theta, X[rows], y[rows], scale)

        self.samples = sample(
            grad_u,
            theta0,
            rng,
            n_samples=self.n_samples,
            burn_in=self.burn_in,
            keep_every=self.keep_every,
            lr=self.lr,
            mdecay=self.mdecay,
        )
        return self

    def predict(self, X: np.ndarray):
        """Predictive mean and variance (noise included) at the rows of ``X``."""
        # float32 is plenty for scoring candidates and twice as fast
        f = self.net.predict_many(self.samples[:, :-1], X, np.float32)[:, :, 0].astype(float)
        noise = np.exp(self.samples[:, -1]).mean()
        return f.mean(0), f.var(0) + noise
