"""A small fully connected network in numpy: tanh hidden layers, a linear output.

All weights and biases live in one flat vector ``theta`` (layer by layer: the weight matrix
``W`` of shape (inputs, outputs) row-major, then the bias ``b``), so that samplers and
optimizers can treat the network's parameters as one point. ``forward`` keeps what
``backward`` needs; ``backward`` returns the gradient of a scalar loss with respect to
``theta`` given the gradient with respect to the outputs (back-propagation written by
hand, checked against finite differences in the tests).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ("MLP",)


class MLP:
    def __init__(self, n_inputs: int, hidden: Sequence[int] = (50, 50, 50), n_outputs: int = 1):
        sizes = [int(n_inputs), *(int(h) for h in hidden), int(n_outputs)]
        self.sizes = sizes
        self.layers = []  # (weight slice, weight shape, bias slice)
        offset = 0
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            w = slice(offset, offset + fan_in * fan_out)
            offset += fan_in * fan_out
            b = slice(offset, offset + fan_out)
            offset += fan_out
            self.layers.append((w, (fan_in, fan_out), b))
        self.size = offset

    @property
    def n_features(self) -> int:
        """Width of the last hidden layer (DNGO's basis functions)."""
        return self.sizes[-2]

    def init(self, rng: np.random.Generator) -> np.ndarray:
        """Random weights N(0, 1/fan_in) (LeCun), zero biases."""
        theta = np.zeros(self.size)
        for w, (fan_in, fan_out), _ in self.layers:
            theta[w] = rng.normal(0.0, 1.0 / np.sqrt(fan_in), fan_in * fan_out)
        return theta

    def unpack(self, theta: np.ndarray):
        """``[(W, b), ...]`` as views into ``theta``."""
        return [(theta[w].reshape(shape), theta[b]) for w, shape, b in self.layers]

    def forward(self, theta: np.ndarray, X: np.ndarray):
        """The outputs (n, n_outputs) and the activations of every layer (for backward)."""
        h = np.asarray(X, float)
        activations = [h]
        params = self.unpack(theta)
        for W, b in params[:-1]:
            h = np.tanh(h @ W + b)
            activations.append(h)
        W, b = params[-1]
        return h @ W + b, activations

    def features(self, theta: np.ndarray, X: np.ndarray) -> np.ndarray:
        """The last hidden layer's activations (n, n_features)."""
        h = np.asarray(X, float)
        for W, b in self.unpack(theta)[:-1]:
            h = np.tanh(h @ W + b)
        return h

    def backward(self, theta: np.ndarray, activations, d_out: np.ndarray, out=None):
        """d loss / d theta, given d loss / d outputs (n, n_outputs)."""
        grad = np.empty(self.size) if out is None else out
        params = self.unpack(theta)
        delta = np.asarray(d_out, float)
        for i in range(len(self.layers) - 1, -1, -1):
            w, shape, b = self.layers[i]
            h = activations[i]  # the layer's input
            grad[w] = (h.T @ delta).ravel()
            grad[b] = delta.sum(0)
            if i:
                # through W, then through tanh (its derivative is 1 - tanh^2)
                delta = (delta @ params[i][0].T) * (1.0 - h * h)
        return grad

    def predict_many(self, thetas: np.ndarray, X: np.ndarray, dtype=np.float64) -> np.ndarray:
        """Outputs of several parameter vectors at once: (samples, n, n_outputs), computed
        in ``dtype`` (float32 halves the time of a large batch)."""
        thetas = np.atleast_2d(thetas).astype(dtype, copy=False)
        h = np.broadcast_to(np.asarray(X, dtype), (len(thetas),) + np.shape(X))
        last = len(self.layers) - 1
        for i, (w, shape, b) in enumerate(self.layers):
            W = thetas[:, w].reshape((len(thetas),) + shape)
            z = np.matmul(h, W) + thetas[:, None, b]
            h = z if i == last else np.tanh(z)
        return h
