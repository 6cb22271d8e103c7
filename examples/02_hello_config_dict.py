#!/usr/bin/env python
"""A configuration given as a plain dict.

``ex.add_config`` adds the entry ``message``. ``main`` asks for an argument of the same name
and gets the configured value. Change it from the command line with ``with``:

    $ ./02_hello_config_dict.py
    WARNING - hello_config - No observers have been added to this run
    INFO - hello_config - Running command 'main'
    INFO - hello_config - Started
    Hello world!
    INFO - hello_config - Completed after 0:00:00

    $ ./02_hello_config_dict.py with message='Ciao world!'
    WARNING - hello_config - No observers have been added to this run
    INFO - hello_config - Running command 'main'
    INFO - hello_config - Started
    Ciao world!
    INFO - hello_config - Completed after 0:00:00
"""

from sacred import Experiment

ex = Experiment("hello_config")

ex.add_config({"message": "Hello world!"})


@ex.automain
def main(message):
    print(message)
