"""Bohamiann: Bayesian optimisation with a Bayesian neural network (Springenberg, Klein,
Falkner and Hutter, NeurIPS 2016), in numpy.

The surrogate is an MLP (three tanh layers of 50 units) whose weights and noise level are
sampled from their posterior with scale-adapted SGHMC (``_bnn``, ``_sghmc``): ``burn_in``
steps adapt the preconditioner, then one sample is kept every ``keep_every`` steps until
there are ``n_samples``. The predictive mean and variance average over the samples, and
the acquisition (EI by default, ``acquisition="LCB"`` optional) is maximised by random
search plus local search over the encoded space (``_model_based``). Categoricals are
one-hot, conditional parameters inactive in a configuration take their inactive encoding.
``seed=`` makes the suggestions reproducible.
"""

from __future__ import annotations

from typing import Optional, Sequence

from labwatch.optimizers._model_based import ModelBasedOptimizer

__all__ = ("Bohamiann",)


class Bohamiann(ModelBasedOptimizer):
    def __init__(
        self,
        search_space,
        seed: Optional[int] = None,
        burn_in: int = 2000,
        n_samples: int = 50,
        keep_every: int = 50,
        hidden: Sequence[int] = (50, 50, 50),
        lr: float = 1e-2,
        mdecay: float = 0.05,
        batch_size: int = 32,
        burnin: Optional[int] = None,
        n_iters: Optional[int] = None,
        **kw,
    ):
        """``kw``: ``init_points``, ``acquisition`` ("EI" or "LCB"), ``xi``, ``kappa``, ``liar``,
        ``n_random`` (see ``ModelBasedOptimizer``). The original's ``burnin`` and
        ``n_iters`` (all steps, burn-in included) set ``burn_in`` and ``keep_every``."""
        super().__init__(search_space, seed, **kw)
        if burnin is not None:
            burn_in = burnin
        if n_iters is not None:
            keep_every = max(1, (n_iters - burn_in) // n_samples)
        self.model_kwargs = dict(
            hidden=hidden,
            burn_in=burn_in,
            n_samples=n_samples,
            keep_every=keep_every,
            lr=lr,
            mdecay=mdecay,
            batch_size=batch_size,
        )

    def _model(self):
        from labwatch.optimizers._bnn import BayesianNeuralNetwork

        return BayesianNeuralNetwork(self.np_rng, **self.model_kwargs)
