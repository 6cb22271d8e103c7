"""The version of Sacredboard (its own numbering, apart from sacred's)."""

__version__ = "0.5.0"
