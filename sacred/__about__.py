"""Package metadata, kept apart so it can be read without importing the package."""

__version__ = "0.9.0"
__author__ = "Klaus Greff"
__author_email__ = "klaus.greff@startmail.com"
__url__ = "https://github.com/IDSIA/sacred"
