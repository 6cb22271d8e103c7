#!/usr/bin/env python
"""Commands: several entry points in one experiment.

Besides ``main``, functions decorated with ``@ex.command`` can be run by giving their name on
the command line. Commands are captured functions, so they take their arguments from the
configuration too. ``help COMMAND`` prints a command's signature and docstring, and
``--help`` lists all commands.

    $ ./05_my_commands.py greet
    WARNING - my_commands - No observers have been added to this run
    INFO - my_commands - Running command 'greet'
    INFO - my_commands - Started
    Hello John! Nice to meet you.
    INFO - my_commands - Completed after 0:00:00

    $ ./05_my_commands.py shout
    WARNING - my_commands - No observers have been added to this run
    INFO - my_commands - Running command 'shout'
    INFO - my_commands - Started
    HEY, IS ANYBODY THERE???
    INFO - my_commands - Completed after 0:00:00

    $ ./05_my_commands.py greet with name='Jane' -l WARNING
    WARNING - my_commands - No observers have been added to this run
    Hello Jane! Nice to meet you.

    $ ./05_my_commands.py
    WARNING - my_commands - No observers have been added to this run
    INFO - my_commands - Running command 'main'
    INFO - my_commands - Started
    This is the main command. Try 'greet' or 'shout' instead.
    INFO - my_commands - Completed after 0:00:00

    $ ./05_my_commands.py help greet
    greet(name)
        Greet someone by name.
"""

from sacred import Experiment

ex = Experiment("my_commands")


@ex.config
def cfg():
    name = "John"  # whom to greet


@ex.command
def greet(name):
    """Greet someone by name."""
    print("Hello {}! Nice to meet you.".format(name))


@ex.command
def shout():
    """Shout into the void."""
    print("HEY, IS ANYBODY THERE???")


@ex.automain
def main():
    print("This is the main command. Try 'greet' or 'shout' instead.")
