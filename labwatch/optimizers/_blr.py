"""Bayesian linear regression on fixed basis functions (DNGO's output layer).

``y = Phi w + noise`` with the prior ``w ~ N(0, I / alpha)`` and noise ``N(0, 1 / beta)``.
The posterior is ``N(m, S)`` with ``S^-1 = A = alpha I + beta Phi^T Phi`` and
``m = beta S Phi^T y``; the prediction at ``phi`` is ``N(phi^T m, 1 / beta + phi^T S phi)``.
``alpha`` and ``beta`` maximise the marginal likelihood (the evidence), found with MacKay's
fixed-point updates on the eigenvalues of ``Phi^T Phi``.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_solve, solve_triangular

__all__ = ("BayesianLinearRegression",)


class BayesianLinearRegression:
    def __init__(self, alpha: float = 1.0, beta: float = 1000.0, optimize: bool = True):
        self.alpha, self.beta, self.optimize = float(alpha), float(beta), optimize

    def fit(self, Phi: np.ndarray, y: np.ndarray, max_iter: int = 200, tol: float = 1e-7):
        Phi = np.asarray(Phi, float)
        y = np.asarray(y, float)
        n, k = Phi.shape
        gram = Phi.T @ Phi
        proj = Phi.T @ y
        if self.optimize:
            eig, Q = np.linalg.eigh(gram)
            eig = np.clip(eig, 0.0, None)
            qy = Q.T @ proj
            alpha, beta = self.alpha, self.beta
            for _ in range(max_iter):
                # A = Q diag(alpha + beta eig) Q^T, so m = beta Q diag(1 / ...) Q^T Phi^T y
                m = Q @ (beta * qy / (alpha + beta * eig))
                lam = beta * eig
                gamma = float((lam / (alpha + lam)).sum())  # well-determined parameters
                resid = float(((y - Phi @ m) ** 2).sum())
                new_alpha = gamma / max(float(m @ m), 1e-12)
                new_beta = max(n - gamma, 1e-6) / max(resid, 1e-12)
                new_alpha = min(max(new_alpha, 1e-6), 1e6)
                new_beta = min(max(new_beta, 1e-3), 1e8)
                done = abs(np.log(new_alpha / alpha)) + abs(np.log(new_beta / beta)) < tol
                alpha, beta = new_alpha, new_beta
                if done:
                    break
            self.alpha, self.beta = alpha, beta
        A = self.alpha * np.eye(k) + self.beta * gram
        self.chol = np.linalg.cholesky(A)
        self.mean = self.beta * cho_solve((self.chol, True), proj)
        self.n, self.k = n, k
        self._fit_terms = (y, Phi)
        return self

    def predict(self, Phi_star: np.ndarray):
        """Predictive mean and variance (noise included) at the rows of ``Phi_star``."""
        Phi_star = np.asarray(Phi_star, float)
        mean = Phi_star @ self.mean
        v = solve_triangular(self.chol, Phi_star.T, lower=True)  # L^-1 phi: phi^T A^-1 phi = |v|^2
        return mean, 1.0 / self.beta + (v * v).sum(0)

    def log_marginal_likelihood(self) -> float:
        """log p(y | alpha, beta) at the fitted hyperparameters (Bishop, Eq. 3.86)."""
        y, Phi = self._fit_terms
        m = self.mean
        e = 0.5 * self.beta * float(((y - Phi @ m) ** 2).sum()) + 0.5 * self.alpha * float(m @ m)
        log_det_a = 2.0 * np.log(np.diag(self.chol)).sum()
        return (
            0.5 * self.k * np.log(self.alpha)
            + 0.5 * self.n * np.log(self.beta)
            - e
            - 0.5 * log_det_a
            - 0.5 * self.n * np.log(2 * np.pi)
        )
