#!/usr/bin/env python
"""Named configs: optional bundles of configuration that are switched on by name.

The config scope ``cfg`` holds the defaults. The named config ``rude`` is only used when it is
named after ``with``; its values then replace the defaults, and entries that the defaults
derive from them are recomputed. A docstring in a named config documents it (and shows up in
``print_named_configs``).

    $ ./named_config.py
    WARNING - named_config - No observers have been added to this run
    INFO - named_config - Running command 'main'
    INFO - named_config - Started
    Good day to you, dear friend.
    INFO - named_config - Completed after 0:00:00

    $ ./named_config.py with rude
    WARNING - named_config - No observers have been added to this run
    INFO - named_config - Running command 'main'
    INFO - named_config - Started
    Go away, you lot!
    INFO - named_config - Completed after 0:00:00

Explicit updates win over named configs, and ``message`` follows ``recipient``:

    $ ./named_config.py -l WARNING with rude recipient='stranger'
    WARNING - named_config - No observers have been added to this run
    Go away, stranger!

An unknown name is reported with the names that exist:

    $ ./named_config.py with polite
    sacred.utils.NamedConfigNotFoundError: Named config not found: "polite". Available config values are: ('rude',)
"""

from sacred import Experiment

ex = Experiment("named_config")


@ex.config
def cfg():
    """The polite defaults."""
    recipient = "dear friend"  # whom we talk to
    template = "Good day to you, {}."  # what we say
    message = template.format(recipient)


@ex.named_config
def rude():
    """Drop the manners."""
    recipient = "you lot"
    template = "Go away, {}!"


@ex.automain
def main(message):
    print(message)
