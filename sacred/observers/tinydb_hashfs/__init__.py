"""TinyDB + HashFS observer: the command-line option.

``TinyDbObserver`` and ``TinyDbReader`` are added to this package by the TinyDB backend;
the option imports them only when it is applied.
"""

from sacred.commandline_options import cli_option

__all__ = ("tiny_db_option",)


@cli_option("-t", "--tiny_db")
def tiny_db_option(args, run):
    """Add a TinyDB Observer to the experiment.

    The argument is the path to be given to the TinyDbObserver.
    """
    from sacred.observers.tinydb_hashfs import TinyDbObserver

    run.observers.append(TinyDbObserver(path=args))
