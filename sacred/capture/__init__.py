"""The parts of ``sacred.stdout_capturing`` (import the public names from there)."""
