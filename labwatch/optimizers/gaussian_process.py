"""A small Gaussian process: Matern 5/2 ARD kernel, hyperparameters by maximum marginal
likelihood (L-BFGS-B with analytic gradients), normalised targets. numpy + scipy only."""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve, lapack, solve_triangular
from scipy.optimize import minimize

__all__ = ("GaussianProcess",)

_SQRT5 = np.sqrt(5.0)


def _scaled_dist2(a, b, lengthscales):
    a = a / lengthscales
    b = b / lengthscales
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.maximum(d2, 0.0)


def matern52(a, b, lengthscales, variance):
    r = np.sqrt(_scaled_dist2(a, b, lengthscales))
    return variance * (1 + _SQRT5 * r + 5.0 / 3.0 * r * r) * np.exp(-_SQRT5 * r)


class GaussianProcess:
    def __init__(self, rng: np.random.Generator, max_fit: int = 80):
        self.rng = rng
        self.max_fit = max_fit
        self.theta = None  # log lengthscales..., log variance, log noise

    def _bounds(self, dim):
        return (
            [(np.log(1e-2), np.log(20.0))] * dim
            + [(np.log(1e-2), np.log(20.0))]
            + [(np.log(1e-6), np.log(0.5))]
        )

    def _nll(self, theta, sq, y):
        dim = sq.shape[0]
        ls, var, noise = np.exp(theta[:dim]), np.exp(theta[dim]), np.exp(theta[dim + 1])
        n = len(y)
        diff2 = sq / (ls**2)[:, None, None]  # d x n x n
        r = np.sqrt(diff2.sum(0))
        e = np.exp(-_SQRT5 * r)
        k0 = var * (1 + _SQRT5 * r + 5.0 / 3.0 * r * r) * e
        K = k0 + (noise + 1e-8) * np.eye(n)
        try:
            L = np.linalg.cholesky(K)
        except np.linalg.LinAlgError:
            return 1e10, np.zeros_like(theta)
        alpha = cho_solve((L, True), y)
        nll = 0.5 * y @ alpha + np.log(np.diag(L)).sum() + 0.5 * n * np.log(2 * np.pi)
        # K^-1 through LAPACK's potri (much cheaper than solving against the identity)
        kinv = lapack.dpotri(L, lower=1)[0]
        kinv = np.tril(kinv) + np.tril(kinv, -1).T
        W = kinv - np.outer(alpha, alpha)
        grad = np.empty_like(theta)
        Wc = W * (var * 5.0 / 3.0 * (1 + _SQRT5 * r) * e)
        for d in range(dim):
            grad[d] = 0.5 * np.sum(Wc * diff2[d])
        grad[dim] = 0.5 * np.sum(W * k0)
        grad[dim + 1] = 0.5 * np.trace(W) * noise
        return nll, grad

    def fit(self, X, y):
        X = np.asarray(X, float)
        y = np.asarray(y, float)
        self.mean, self.std = y.mean(), y.std() or 1.0
        yn = (y - self.mean) / self.std
        dim = X.shape[1]
        bounds = self._bounds(dim)
        # the hyperparameters are fitted on at most max_fit points (the best half and a
        # random rest): the cubic cost stays bounded while the final GP uses every point
        fit_idx = np.arange(len(y))
        if len(y) > self.max_fit:
            order = np.argsort(yn)
            keep = order[: self.max_fit // 2]
            rest = self.rng.choice(order[self.max_fit // 2 :], self.max_fit - len(keep), False)
            fit_idx = np.concatenate([keep, rest])
        Xf, yf = X[fit_idx], yn[fit_idx]
        sq = (Xf.T[:, :, None] - Xf.T[:, None, :]) ** 2  # d x n x n
        starts = []
        if self.theta is not None and len(self.theta) == dim + 2:
            starts.append(self.theta)
        else:
            starts.append(np.array([self.rng.uniform(lo, hi) for lo, hi in bounds]))
        starts.append(np.array([np.log(0.3)] * dim + [0.0, np.log(1e-3)]))
        best = None
        for start in starts:
            res = minimize(
                self._nll,
                start,
                args=(sq, yf),
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": 60},
            )
            if best is None or res.fun < best.fun:
                best = res
        self.theta = best.x
        ls, var, noise = np.exp(self.theta[:dim]), np.exp(self.theta[dim]), np.exp(self.theta[-1])
        self.ls, self.var, self.noise = ls, var, noise
        K = matern52(X, X, ls, var) + (noise + 1e-8) * np.eye(len(X))
        self.chol = cho_factor(K, lower=True)
        self.alpha = cho_solve(self.chol, yn)
        self.X = X
        return self

    def predict(self, Xs):
        """Mean and standard deviation on the original scale of y."""
        Ks = matern52(np.asarray(Xs, float), self.X, self.ls, self.var)
        mu = Ks @ self.alpha
        v = solve_triangular(self.chol[0], Ks.T, lower=True)
        var = np.maximum(self.var - (v * v).sum(0), 1e-12)
        return mu * self.std + self.mean, np.sqrt(var) * self.std
