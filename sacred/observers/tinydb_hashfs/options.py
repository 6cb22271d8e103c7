"""``-t``/``--tiny_db``: the command-line option that adds a TinyDbObserver."""

from sacred.commandline_options import cli_option

__all__ = ("tiny_db_option",)


@cli_option("-t", "--tiny_db")
def tiny_db_option(args, run):
    """Add a TinyDB Observer to the experiment.

    The argument is the path to be given to the TinyDbObserver.
    """
    # imported here, not at the top: every Experiment imports this module for its help text
    from sacred.observers.tinydb_hashfs.observer import TinyDbObserver

    run.observers.append(TinyDbObserver(path=args))
