"""The command-line options that add an observer (``-F -m -s -t -S``, and ``-G``).

Every ``Experiment`` needs them for its help text, while most scripts never touch the
backends. Each option and the grammar of its locations live in its backend's light
``options`` module (``sacred.observers.mongo.options``, ...), which imports the observer
only when the option is applied; this module maps the flags to them.
"""

from sacred.observers.file_storage.options import file_storage_option
from sacred.observers.gcs_observer.options import gcs_join, gcs_option
from sacred.observers.mongo.options import get_pattern, mongo_db_option, parse_mongo_db_arg
from sacred.observers.s3_observer.options import s3_join, s3_option
from sacred.observers.sql.options import sql_option
from sacred.observers.tinydb_hashfs.options import tiny_db_option

__all__ = (
    "file_storage_option",
    "mongo_db_option",
    "sql_option",
    "tiny_db_option",
    "s3_option",
    "gcs_option",
    "parse_mongo_db_arg",
    "get_pattern",
    "s3_join",
    "gcs_join",
)
