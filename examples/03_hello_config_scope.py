#!/usr/bin/env python
"""A configuration written as a config scope.

Every variable assigned in the body of ``cfg`` becomes a config entry, and later entries may be
computed from earlier ones: ``message`` is derived from ``recipient``. The comments next to
the assignments document the entries (try ``print_config``). A config scope can also ask for
``_log`` to log while the configuration is built.

    $ ./03_hello_config_scope.py
    WARNING - hello_cs - No observers have been added to this run
    INFO - hello_cs - Running command 'main'
    INFO - hello_cs - Started
    Hello world!
    INFO - hello_cs - Completed after 0:00:00

Setting ``message`` directly overrides the derived value:

    $ ./03_hello_config_scope.py with message='Good morning!'
    WARNING - hello_cs - No observers have been added to this run
    INFO - hello_cs - Running command 'main'
    INFO - hello_cs - Started
    Good morning!
    INFO - hello_cs - Completed after 0:00:00

Setting ``recipient`` changes the derived ``message`` too:

    $ ./03_hello_config_scope.py with recipient='Bob'
    WARNING - hello_cs - No observers have been added to this run
    INFO - hello_cs - Running command 'main'
    INFO - hello_cs - Started
    Hello Bob!
    INFO - hello_cs - Completed after 0:00:00

An empty recipient makes the config scope log a warning:

    $ ./03_hello_config_scope.py -l WARNING with recipient=''
    WARNING - root - No recipient given, greeting nobody in particular.
    WARNING - hello_cs - No observers have been added to this run
    Hello !

With a file-storage observer (``-F runs``) the run is recorded in ``runs/1/``, and the
output goes to ``runs/1/cout.txt`` too. (``-C sys`` captures at the Python level, which keeps
printed and logged lines in exactly this order; the default ``fd`` capture copies stdout and
stderr separately, so in a terminal they may interleave a little differently.)

    $ ./03_hello_config_scope.py -F runs -C sys with recipient=Bob
    INFO - hello_cs - Running command 'main'
    INFO - hello_cs - Started run with ID "1"
    Hello Bob!
    INFO - hello_cs - Completed after 0:00:00
"""

from sacred import Experiment

ex = Experiment("hello_cs")


@ex.config
def cfg(_log):
    recipient = "world"  # who gets greeted
    message = "Hello {}!".format(recipient)  # the full greeting
    if not recipient:
        _log.warning("No recipient given, greeting nobody in particular.")


@ex.automain
def main(message):
    print(message)
