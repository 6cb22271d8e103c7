"""``-s``/``--sql``: the command-line option that adds a SqlObserver."""

from sacred.commandline_options import cli_option

__all__ = ("sql_option",)


@cli_option("-s", "--sql")
def sql_option(args, run):
    """Add a SQL Observer to the experiment.

    The typical form is: dialect://username:password@host:port/database
    """
    # imported here, not at the top: every Experiment imports this module for its help text
    from sacred.store.base import StoreError
    from sacred.store.location import check_sql_url
    from sacred.utils import CommandLineError

    try:  # a mistyped URL or a missing driver: one line, before anything is written
        check_sql_url(args)
    except StoreError as e:
        raise CommandLineError(str(e)) from None
    from sacred.observers.sql.observer import SqlObserver

    run.observers.append(SqlObserver(args))
