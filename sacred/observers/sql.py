"""SQL observer: the command-line option.

``SqlObserver`` is added to this module by the SQL backend; the option imports it only
when it is applied.
"""

from sacred.commandline_options import cli_option

__all__ = ("sql_option", "DEFAULT_SQL_PRIORITY")

DEFAULT_SQL_PRIORITY = 40


@cli_option("-s", "--sql")
def sql_option(args, run):
    """Add a SQL Observer to the experiment.

    The typical form is: dialect://username:password@host:port/database
    """
    from sacred.observers.sql import SqlObserver

    run.observers.append(SqlObserver(args))
