#!/usr/bin/env python
"""Captured functions get their arguments from the configuration.

``say`` and ``shout`` are decorated with ``@ex.capture``. When they are called without an
argument for ``greeting`` or ``punctuation``, the configured values are filled in. Arguments
that are passed explicitly always win over the configuration. Parameters that are not in the
configuration (``name``) must be passed, or have a default.

    $ ./04_captured_functions.py -l WARNING
    WARNING - captured_functions - No observers have been added to this run
    say: Hello, Ada.
    shout: HELLO, GRACE!
    say: Good evening, Alan.
    shout: HELLO, EDSGER?

    $ ./04_captured_functions.py -l WARNING with greeting=Hi
    WARNING - captured_functions - No observers have been added to this run
    say: Hi, Ada.
    shout: HI, GRACE!
    say: Good evening, Alan.
    shout: HI, EDSGER?
"""

from sacred import Experiment

ex = Experiment("captured_functions")


@ex.config
def cfg():
    greeting = "Hello"  # the word to greet with
    punctuation = "!"  # how excited shout() is


@ex.capture
def say(name, greeting):
    print("say: {}, {}.".format(greeting, name))


@ex.capture
def shout(name, greeting, punctuation="."):
    # punctuation is in the configuration, so its default "." is not used
    print("shout: " + "{}, {}{}".format(greeting, name, punctuation).upper())


@ex.automain
def main():
    say("Ada")
    shout("Grace")
    say("Alan", greeting="Good evening")
    shout(name="Edsger", punctuation="?")
