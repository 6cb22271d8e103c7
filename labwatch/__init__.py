"""Labwatch: hyperparameter optimisation on top of Sacred (not yet implemented here)."""
