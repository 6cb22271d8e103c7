"""Sacredboard: a web dashboard over Sacred's runs, in any ``sacred.store`` backend.

from sacredboard import create_app
create_app("runs/").run()          # or: sacredboard -F runs/
"""

from sacredboard.__about__ import __version__

__all__ = ("create_app", "__version__")


def __getattr__(name):  # Flask is imported only when the app is made
    if name == "create_app":
        from sacredboard.app import create_app

        return create_app
    raise AttributeError(name)
