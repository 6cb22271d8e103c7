"""Adam (Kingma and Ba, 2015) and the least-squares training of an MLP with it."""

from __future__ import annotations

import numpy as np

from labwatch.optimizers._mlp import MLP

__all__ = ("Adam", "train_mlp")


class Adam:
    def __init__(self, theta: np.ndarray, lr=1e-2, beta1=0.9, beta2=0.999, epsilon=1e-8):
        self.theta = np.array(theta, float)
        self.lr, self.beta1, self.beta2, self.epsilon = lr, beta1, beta2, epsilon
        self.m = np.zeros_like(self.theta)
        self.v = np.zeros_like(self.theta)
        self.t = 0

    def step(self, grad: np.ndarray, lr=None) -> np.ndarray:
        """Move ``theta`` against ``grad`` (bias-corrected moment estimates); returns it."""
        self.t += 1
        self.m += (1.0 - self.beta1) * (grad - self.m)
        self.v += (1.0 - self.beta2) * (grad * grad - self.v)
        m_hat = self.m / (1.0 - self.beta1**self.t)
        v_hat = self.v / (1.0 - self.beta2**self.t)
        self.theta -= (self.lr if lr is None else lr) * m_hat / (np.sqrt(v_hat) + self.epsilon)
        return self.theta


def train_mlp(
    net: MLP,
    theta: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    steps: int = 2000,
    lr: float = 1e-2,
    batch_size: int = 64,
    weight_decay: float = 1e-4,
) -> np.ndarray:
    """Minimise ``mean (net(x) - y)^2 / 2 + weight_decay |theta|^2 / 2`` with Adam.

    Minibatches of ``batch_size`` rows drawn without replacement for each step (the whole
    data when it is smaller); the learning rate decays by cosine annealing to lr/100.
    """
    X = np.asarray(X, float)
    y = np.asarray(y, float).reshape(-1, 1)
    n = len(X)
    adam = Adam(theta, lr=lr)
    grad = np.empty(net.size)
    full = n <= batch_size
    for step in range(steps):
        if full:
            xb, yb = X, y
        else:
            rows = rng.choice(n, batch_size, replace=False)
            xb, yb = X[rows], y[rows]
        out, acts = net.forward(adam.theta, xb)
        net.backward(adam.theta, acts, (out - yb) / len(xb), out=grad)
        grad += weight_decay * adam.theta
        rate = lr * (0.01 + 0.99 * 0.5 * (1.0 + np.cos(np.pi * step / steps)))
        adam.step(grad, rate)
    return adam.theta
