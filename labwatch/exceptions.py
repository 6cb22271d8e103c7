"""Errors a user of Labwatch can cause (all are ``ValueError`` subclasses)."""

from __future__ import annotations

__all__ = (
    "LabwatchError",
    "ParamValueExcept",
    "ParamInconsistent",
    "InconsistentSpace",
    "SearchSpaceNotSupported",
)


class LabwatchError(ValueError):
    """Base class of Labwatch's errors."""


class ParamValueExcept(LabwatchError):
    """A hyperparameter got an impossible bound, default, choice or value."""


class ParamInconsistent(LabwatchError):
    """A condition was attached to a parameter in a way that cannot work."""


class InconsistentSpace(LabwatchError):
    """A search space as a whole does not hold together (e.g. unknown condition parent)."""


class SearchSpaceNotSupported(LabwatchError):
    """An optimizer cannot handle this kind of search space."""
