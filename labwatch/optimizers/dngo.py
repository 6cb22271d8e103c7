"""DNGO: deep networks for global optimisation (Snoek et al., ICML 2015), in numpy.

An MLP (three tanh layers of 50 units) is trained on the history by least squares with
Adam (``_adam``); its last hidden layer, plus a constant, becomes the basis of a Bayesian
linear regression (``_blr``) whose prior and noise precisions maximise the marginal
likelihood. The regression's predictive mean and variance feed the acquisition (EI by
default, ``acquisition="LCB"`` optional), maximised by random search plus local search over
the encoded space (``_model_based``). ``seed=`` makes the suggestions reproducible.
``DNGOWrapper`` is the original Labwatch's name for the same class.
"""

from __future__ import annotations

from typing import Optional, Sequence

from labwatch.optimizers._model_based import ModelBasedOptimizer

__all__ = ("DNGO", "DNGOWrapper", "NetworkWithLinearRegression")


class NetworkWithLinearRegression:
    """The DNGO model: ``fit(X, y)``, ``predict(X) -> (mean, variance)``."""

    def __init__(
        self,
        rng,
        hidden: Sequence[int] = (50, 50, 50),
        steps: int = 1000,
        lr: float = 1e-2,
        batch_size: int = 64,
        weight_decay: float = 1e-4,
    ):
        self.rng = rng
        self.hidden = tuple(hidden)
        self.steps, self.lr, self.batch_size, self.weight_decay = (
            steps,
            lr,
            batch_size,
            weight_decay,
        )

    def features(self, X):
        import numpy as np

        phi = self.net.features(self.theta, X)
        return np.hstack([phi, np.ones((len(phi), 1))])

    def fit(self, X, y):
        from labwatch.optimizers._adam import train_mlp
        from labwatch.optimizers._blr import BayesianLinearRegression
        from labwatch.optimizers._mlp import MLP

        self.net = MLP(X.shape[1], self.hidden, 1)
        self.theta = train_mlp(
            self.net,
            self.net.init(self.rng),
            X,
            y,
            self.rng,
            steps=self.steps,
            lr=self.lr,
            batch_size=self.batch_size,
            weight_decay=self.weight_decay,
        )
        self.blr = BayesianLinearRegression().fit(self.features(X), y)
        return self

    def predict(self, X):
        return self.blr.predict(self.features(X))


class DNGO(ModelBasedOptimizer):
    def __init__(
        self,
        search_space,
        seed: Optional[int] = None,
        hidden: Sequence[int] = (50, 50, 50),
        steps: int = 1000,
        lr: float = 1e-2,
        batch_size: int = 64,
        weight_decay: float = 1e-4,
        **kw,
    ):
        """``kw``: ``init_points``, ``acquisition`` ("EI" or "LCB"), ``xi``, ``kappa``, ``liar``,
        ``n_random`` (see ``ModelBasedOptimizer``)."""
        super().__init__(search_space, seed, **kw)
        self.model_kwargs = dict(
            hidden=hidden, steps=steps, lr=lr, batch_size=batch_size, weight_decay=weight_decay
        )

    def _model(self):
        return NetworkWithLinearRegression(self.np_rng, **self.model_kwargs)


DNGOWrapper = DNGO
