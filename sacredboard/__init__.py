"""Sacredboard: a web dashboard over Sacred's runs (not yet implemented here)."""
