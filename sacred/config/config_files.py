"""Reading and writing configuration files (.json, .pickle, .yaml/.yml)."""

import json
import os
import pickle

from sacred.serializer import flatten, restore
from sacred.utils import SacredError

__all__ = (
    "Handler",
    "HANDLER_BY_EXT",
    "ConfigFileError",
    "get_handler",
    "load_config_file",
    "save_config_file",
    "yaml_extensions",
)


class ConfigFileError(SacredError, ValueError):
    """A configuration file exists but its content cannot be read."""

    def __init__(self, *args, print_traceback=False, filter_traceback="default", print_usage=False):
        super().__init__(
            *args,
            print_traceback=print_traceback,
            filter_traceback=filter_traceback,
            print_usage=print_usage,
        )


class Handler:
    """How to ``load(file)`` and ``dump(obj, file)`` one format; ``mode`` is "" or "b"."""

    def __init__(self, load, dump, mode):
        self.load = load
        self.dump = dump
        self.mode = mode

    def __repr__(self):
        return f"Handler(load={self.load!r}, dump={self.dump!r}, mode={self.mode!r})"


def _load_json(file):
    return restore(json.load(file))


def _dump_json(obj, file):
    json.dump(flatten(obj), file, sort_keys=True, indent=2)


def _load_yaml(file):
    import yaml

    return yaml.load(file, Loader=yaml.FullLoader)


def _dump_yaml(obj, file):
    import yaml

    from sacred.config.custom_containers import register_yaml_representers

    register_yaml_representers()
    return yaml.dump(obj, file)


yaml_extensions = (".yaml", ".yml")

HANDLER_BY_EXT = {
    ".json": Handler(_load_json, _dump_json, ""),
    ".pickle": Handler(pickle.load, pickle.dump, "b"),
    ".yaml": Handler(_load_yaml, _dump_yaml, ""),
    ".yml": Handler(_load_yaml, _dump_yaml, ""),
}


def _has_yaml():
    try:
        import yaml  # noqa: F401
    except ImportError:
        return False
    return True


def get_handler(filename):
    """The Handler for the file's extension.

    Raises ValueError for an unknown extension, KeyError for yaml without PyYAML.
    """
    _, extension = os.path.splitext(str(filename))
    if extension in yaml_extensions and not _has_yaml():
        raise KeyError(
            f'Configuration file "{filename}" cannot be loaded as you do not have PyYAML installed.'
        )
    try:
        return HANDLER_BY_EXT[extension]
    except KeyError:
        raise ValueError(
            f'Configuration file "{filename}" has invalid or unsupported extension "{extension}".'
        ) from None


def _parse_errors(extension):
    """Exceptions that mean "the file's content is malformed" for a format."""
    if extension in yaml_extensions:
        import yaml

        return (yaml.YAMLError, UnicodeDecodeError)
    if extension == ".json":
        from jsonpickle.errors import ClassNotFoundError

        # ClassNotFoundError (a BaseException): the file names a class that does not exist
        return (ValueError, UnicodeDecodeError, ClassNotFoundError)
    # unpickling garbage can fail in many ways
    return (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        ImportError,
    )


def load_config_file(filename):
    """Load a config from a .json, .pickle or .yaml/.yml file.

    A missing file raises FileNotFoundError; a malformed one ConfigFileError (a ValueError).
    """
    handler = get_handler(filename)
    _, extension = os.path.splitext(str(filename))
    with open(filename, "r" + handler.mode) as f:
        try:
            return handler.load(f)
        except _parse_errors(extension) as e:
            raise ConfigFileError(
                f'Configuration file "{filename}" could not be loaded: {type(e).__name__}: {e}'
            ) from e


def save_config_file(config, filename):
    """Write ``config`` to a file in the format given by the extension."""
    handler = get_handler(filename)
    with open(filename, "w" + handler.mode) as f:
        handler.dump(config, f)
