"""``python -m sacred.cli``: the ``sacred`` tool for stored runs.

Its home is ``sacred.store.cli``, beside the read side it serves; this module keeps the
older path (and ``from sacred.cli import main``) working.
"""

import sys

from sacred.store.cli import copy_runs, main

__all__ = ("main", "copy_runs")

if __name__ == "__main__":
    sys.exit(main())
