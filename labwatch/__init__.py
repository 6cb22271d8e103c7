"""Labwatch: hyperparameter optimisation for Sacred experiments.

from labwatch import LabAssistant
from labwatch.hyperparameters import UniformFloat
from labwatch.optimizers import RandomSearch

a = LabAssistant(ex, store="runs/", optimizer=RandomSearch)

@a.search_space
def search_space():
    lr = UniformFloat(1e-4, 1e-1, log_scale=True)
"""

from labwatch.assistant import LabAssistant

__version__ = "0.1.0"
__all__ = ("LabAssistant",)
