"""Conversions of Labwatch search spaces to other libraries' search-space languages."""
