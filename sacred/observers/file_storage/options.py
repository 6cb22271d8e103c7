"""``-F``/``--file_storage``: the command-line option that adds a FileStorageObserver."""

from sacred.commandline_options import cli_option

__all__ = ("file_storage_option",)


@cli_option("-F", "--file_storage")
def file_storage_option(args, run):
    """Add a file-storage observer to the experiment.

    The value of the arguement should be the
    base-directory to write the runs to
    """
    # imported here, not at the top: every Experiment imports this module for its help text
    from sacred.observers.file_storage.observer import FileStorageObserver

    run.observers.append(FileStorageObserver(args))
