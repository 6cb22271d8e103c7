"""Running experiments away from their own command line: queue workers, sweeps, launchers.

Every part here rebuilds a run from plain data (a script path, a command name, a config
dict and a store location), so that it can travel to another process or machine through
the engines researchers already use. Nothing is imported until used.
"""
