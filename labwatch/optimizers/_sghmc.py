"""Scale-adapted stochastic-gradient Hamiltonian Monte Carlo (Springenberg, Klein, Falkner
and Hutter, "Bayesian optimization with robust Bayesian neural networks", NeurIPS 2016).

The sampler draws from ``p(theta) ~ exp(-U(theta))`` given (possibly noisy, minibatch)
estimates of ``grad U``. With step size ``lr``, friction ``mdecay`` and a diagonal
preconditioner ``M^-1 = 1 / sqrt(v_hat)``, one step is::

    v     <- v - lr^2 M^-1 grad U - mdecay v + N(0, 2 lr^2 mdecay M^-1 - lr^4)
    theta <- theta + v

During burn-in ``v_hat`` follows a running average of the squared gradient whose window
``tau`` adapts itself (Eq. 8-9 of the paper), so the step sizes suit every parameter
without tuning; afterwards the preconditioner is frozen and the chain is a proper sampler
(up to the discretisation error of the step size). ``lr^2`` plays the role of SGHMC's
learning rate and ``mdecay`` of its friction.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ("AdaptiveSGHMC", "sample")


class AdaptiveSGHMC:
    def __init__(
        self,
        theta: np.ndarray,
        rng: np.random.Generator,
        lr: float = 1e-2,
        mdecay: float = 0.05,
        burn_in: int = 3000,
        epsilon: float = 1e-10,
    ):
        self.theta = np.array(theta, float)
        self.rng = rng
        self.lr, self.mdecay, self.burn_in, self.epsilon = lr, mdecay, burn_in, epsilon
        n = self.theta.shape
        self.tau = np.ones(n)
        self.g = np.ones(n)
        self.v_hat = np.ones(n)
        self.momentum = np.zeros(n)
        self.iteration = 0

    def step(self, grad: np.ndarray) -> np.ndarray:
        """One step given an estimate of grad U at the current theta; returns theta."""
        self.iteration += 1
        if self.iteration <= self.burn_in or self.iteration == 1:
            if self.iteration <= self.burn_in:
                r = 1.0 / (self.tau + 1.0)
                self.tau += 1.0 - self.tau * (self.g * self.g / (self.v_hat + self.epsilon))
                self.g += r * (grad - self.g)
                self.v_hat += r * (grad * grad - self.v_hat)
            # the preconditioner, and with it the drift and noise scales, change only
            # during burn-in
            minv = 1.0 / (np.sqrt(self.v_hat) + self.epsilon)
            lr2 = self.lr * self.lr
            self._drift = lr2 * minv
            self._noise_std = np.sqrt(np.maximum(2.0 * lr2 * self.mdecay * minv - lr2 * lr2, 1e-16))
        momentum = self.momentum
        momentum *= 1.0 - self.mdecay
        momentum -= self._drift * grad
        momentum += self._noise_std * self.rng.standard_normal(grad.shape)
        self.theta += momentum
        return self.theta


def sample(
    grad_u: Callable[[np.ndarray], np.ndarray],
    theta0: np.ndarray,
    rng: np.random.Generator,
    n_samples: int,
    burn_in: int,
    keep_every: int,
    lr: float = 1e-2,
    mdecay: float = 0.05,
) -> np.ndarray:
    """``n_samples`` draws (rows), one every ``keep_every`` steps after ``burn_in`` steps.

    ``grad_u(theta)`` returns an estimate of the gradient of ``U = -log p`` (for minibatches:
    scaled up to the whole data set). A chain that diverges (non-finite values) raises
    FloatingPointError.
    """
    sampler = AdaptiveSGHMC(theta0, rng, lr=lr, mdecay=mdecay, burn_in=burn_in)
    samples = np.empty((n_samples, sampler.theta.size))
    total = burn_in + n_samples * keep_every
    kept = 0
    for step in range(1, total + 1):
        theta = sampler.step(grad_u(sampler.theta))
        if step > burn_in and (step - burn_in) % keep_every == 0:
            if not np.all(np.isfinite(theta)):
                raise FloatingPointError("SGHMC diverged (non-finite parameters)")
            samples[kept] = theta
            kept += 1
    return samples
