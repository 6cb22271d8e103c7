"""``-s``/``--sql``: the command-line option that adds a SqlObserver."""

from sacred.commandline_options import cli_option

__all__ = ("sql_option",)


@cli_option("-s", "--sql")
def sql_option(args, run):
    """Add a SQL Observer to the experiment.

    The typical form is: dialect://username:password@host:port/database
    """
    # imported here, not at the top: every Experiment imports this module for its help text
    from sacred.observers.sql.observer import SqlObserver

    run.observers.append(SqlObserver(args))
