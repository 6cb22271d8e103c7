#!/usr/bin/env python
"""The smallest possible experiment: it prints a greeting.

An ``Experiment`` without a name takes the file name (here ``01_hello_world``).
``@ex.automain`` registers ``main`` as the default command and, when the file is run as a
script, parses the command line and starts a run, so it has to be the last thing in the file.

A plain run logs to stderr how the run starts and ends, around what ``main`` prints:

    $ ./01_hello_world.py
    WARNING - 01_hello_world - No observers have been added to this run
    INFO - 01_hello_world - Running command 'main'
    INFO - 01_hello_world - Started
    Hello world!
    INFO - 01_hello_world - Completed after 0:00:00

With ``-l WARNING`` (``--loglevel=WARNING``) only warnings and worse are logged:

    $ ./01_hello_world.py -l WARNING
    WARNING - 01_hello_world - No observers have been added to this run
    Hello world!
"""

from sacred import Experiment

ex = Experiment()


@ex.automain
def main():
    print("Hello world!")
