#!/usr/bin/env python
"""Using a custom logger.

Assign any ``logging.Logger`` to ``ex.logger``. The run then logs through it, and every
captured function that asks for ``_log`` gets a child logger named after the function
(``my_logger.main``, ``my_logger.compute``). Here the logger has its own short format.

    $ ./log_example.py
    [W] my_logger.log_example: No observers have been added to this run
    [I] my_logger.log_example: Running command 'main'
    [I] my_logger.log_example: Started
    [I] my_logger.main: starting the computation
    [W] my_logger.compute: 3 is odd, rounding up
    [I] my_logger.main: the answer is 42
    [I] my_logger.log_example: Result: 42
    [I] my_logger.log_example: Completed after 0:00:00

``-l`` sets the level of the custom logger:

    $ ./log_example.py -l WARNING with number=5
    [W] my_logger.log_example: No observers have been added to this run
    [W] my_logger.compute: 5 is odd, rounding up
"""

import logging

from sacred import Experiment

ex = Experiment("log_example")

# a logger with its own handler and format
logger = logging.getLogger("my_logger")
handler = logging.StreamHandler()
handler.setFormatter(logging.Formatter("[%(levelname).1s] %(name)s: %(message)s"))
logger.addHandler(handler)
logger.setLevel(logging.INFO)
logger.propagate = False

ex.logger = logger


@ex.config
def cfg():
    number = 3  # the number to work with


@ex.capture
def compute(number, _log):
    if number % 2:
        _log.warning("%d is odd, rounding up", number)
        number += 1
    return number * 10 + 2


@ex.automain
def main(_log):
    _log.info("starting the computation")
    answer = compute()
    _log.info("the answer is %s", answer)
    return answer
