"""Reproducing recorded runs: ``rerun`` runs a run again from what its record holds.

    from sacred.reproduce import rerun
    result = rerun("runs/", 3, check=True)       # also sacred.rerun
    result.matched, result.comparison.rows

``sources`` lays out recorded sources, ``isolation`` keeps the process's modules apart,
``environment`` finds package and git differences, ``check`` compares two runs, ``runner``
puts them together and ``cli`` is the ``sacred rerun`` verb.
"""

from sacred.reproduce.runner import RerunResult, RerunWarning, rerun

__all__ = ("rerun", "RerunResult", "RerunWarning")
