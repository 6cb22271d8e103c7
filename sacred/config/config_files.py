"""Reading and writing configuration files (.json, .pickle, .yaml/.yml).

A .json or .yaml file is data: JSON goes through ``safe_restore`` (Sacred's own tagged
forms such as tuples and numpy arrays are rebuilt, anything that would import or call code
is refused) and YAML through PyYAML's safe loader, with bounds on the file size, the
nesting depth and on what aliases expand to. A .pickle file runs the code it names: load
only .pickle files you trust.
"""

import json
import os
import pickle

from sacred.config.custom_containers import register_yaml_representers
from sacred.config.utils import MAX_CONFIG_DEPTH
from sacred.safe_restore import safe_restore
from sacred.serializer import flatten
from sacred.utils import SacredError

__all__ = (
    "Handler",
    "MAX_CONFIG_FILE_BYTES",
    "MAX_CONFIG_DEPTH",
    "MAX_YAML_VALUES",
    "HANDLER_BY_EXT",
    "ConfigFileError",
    "get_handler",
    "load_config_file",
    "save_config_file",
    "yaml_extensions",
)


class ConfigFileError(SacredError, ValueError):
    """A configuration file exists but its content cannot be read."""

    def __init__(
        self, message="", print_traceback=False, filter_traceback="default", print_usage=False
    ):
        super().__init__(
            message,
            print_traceback=print_traceback,
            filter_traceback=filter_traceback,
            print_usage=print_usage,
        )


#: a .json or .yaml config file may be at most this big
MAX_CONFIG_FILE_BYTES = 32 * 2**20
#: a .yaml config file may hold this many values, counting each expansion of an alias
MAX_YAML_VALUES = 1_000_000


class _ContentError(ValueError):
    """The content of a config file is refused (the message says why)."""


class Handler:
    """How to ``load(file)`` and ``dump(obj, file)`` one format; ``mode`` is "" or "b"."""

    def __init__(self, load, dump, mode):
        self.load = load
        self.dump = dump
        self.mode = mode

    def __repr__(self):
        return f"Handler(load={self.load!r}, dump={self.dump!r}, mode={self.mode!r})"


def _read_text(file):
    text = file.read(MAX_CONFIG_FILE_BYTES + 1)
    if len(text) > MAX_CONFIG_FILE_BYTES:
        raise _ContentError(f"the file is larger than {MAX_CONFIG_FILE_BYTES // 2**20} MiB")
    return text


def _load_json(file):

    try:
        flat = json.loads(_read_text(file))
    except RecursionError:
        raise _ContentError(_too_deep()) from None
    _check_depth(flat)
    return safe_restore(flat, on_unsafe="raise")


def _too_deep():
    return f"the values nest deeper than {MAX_CONFIG_DEPTH} levels"


def _check_depth(obj):
    """Refuse containers nested deeper than MAX_CONFIG_DEPTH (walked without recursion)."""
    stack = [(obj, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, (list, tuple)):
            children = value
        else:
            continue
        if depth >= MAX_CONFIG_DEPTH:
            raise _ContentError(_too_deep())
        stack.extend((child, depth + 1) for child in children)


def _dump_json(obj, file):
    json.dump(flatten(obj), file, sort_keys=True, indent=2)


_yaml_loader = None


def _safe_yaml_loader():
    """PyYAML's safe loader (the C one if available) that also reads the plain-data
    ``!!python/tuple`` (and complex, bytes, ...) tags, but no tag that names code."""
    global _yaml_loader
    if _yaml_loader is None:
        import yaml

        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        loader = type("SacredSafeLoader", (base,), {})
        full = yaml.constructor.FullConstructor
        for tag, construct in (
            ("tuple", full.construct_python_tuple),
            ("complex", full.construct_python_complex),
            ("bytes", full.construct_python_bytes),
            ("str", full.construct_python_str),
            ("unicode", full.construct_python_unicode),
            ("int", full.construct_yaml_int),
            ("long", full.construct_python_long),
            ("float", full.construct_yaml_float),
            ("bool", full.construct_yaml_bool),
            ("none", full.construct_yaml_null),
            ("list", full.construct_yaml_seq),
            ("dict", full.construct_yaml_map),
        ):
            loader.add_constructor(f"tag:yaml.org,2002:python/{tag}", construct)
        loader.add_multi_constructor("tag:yaml.org,2002:python/", _refuse_python_tag)
        _yaml_loader = loader
    return _yaml_loader


def _refuse_python_tag(loader, suffix, node):
    raise _ContentError(
        f"the tag !!python/{suffix} (line {node.start_mark.line + 1}) is refused: YAML config "
        "files are read with the safe loader, which builds plain data only"
    )


def _yaml_message(e):
    """A YAMLError on one line: what went wrong, and where."""
    problem = getattr(e, "problem", None)
    if not problem:
        return " ".join(str(e).split())
    context = getattr(e, "context", None)
    text = f"{context}: {problem}" if context else problem
    mark = getattr(e, "problem_mark", None)
    if mark is not None:
        text += f" (line {mark.line + 1}, column {mark.column + 1})"
    return text


def _check_yaml_graph(root):
    """Refuse a YAML node graph that is recursive, nests too deeply or whose aliases expand
    to more than MAX_YAML_VALUES values (an "alias bomb"), without expanding it.

    Aliases make the graph a DAG: the size and depth of each node are computed once.
    """
    size, depth = {}, {}
    open_nodes = set()  # nodes whose children are being measured (for cycles)
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        value = node.value
        if isinstance(value, list):
            children = [n for item in value for n in (item if isinstance(item, tuple) else (item,))]
        else:
            children = []
        if not children_done:
            if key in size:
                continue
            if key in open_nodes:
                raise _ContentError("an alias refers to a value that contains it")
            open_nodes.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in size)
            continue
        open_nodes.discard(key)
        size[key] = 1 + sum(size[id(child)] for child in children)
        depth[key] = 1 + max((depth[id(child)] for child in children), default=0)
        if size[key] > MAX_YAML_VALUES:
            raise _ContentError(
                f"it holds more than {MAX_YAML_VALUES} values once its aliases are expanded"
            )
        if depth[key] > MAX_CONFIG_DEPTH + 1:
            raise _ContentError(_too_deep())


def _load_yaml(file):
    loader = _safe_yaml_loader()(_read_text(file))
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_yaml_graph(node)
        return loader.construct_document(node)
    except RecursionError:
        raise _ContentError(_too_deep()) from None
    finally:
        loader.dispose()


def _dump_yaml(obj, file):
    import yaml

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
        # ValueError includes UnsafeDataError: a tag that would import or call code
        return (ValueError, UnicodeDecodeError)
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
    """Load a config (a mapping) from a .json, .pickle or .yaml/.yml file.

    A missing file raises FileNotFoundError; a malformed one ConfigFileError (a ValueError),
    and so does a file that holds something else than a mapping at the top level. An empty
    YAML file is an empty config. Loading a .pickle file runs the code it names.
    """
    handler = get_handler(filename)
    _, extension = os.path.splitext(str(filename))
    with open(filename, "r" + handler.mode) as f:
        try:
            config = handler.load(f)
        except _ContentError as e:
            raise ConfigFileError(
                f'Configuration file "{filename}" could not be loaded: {e}'
            ) from e
        except _parse_errors(extension) as e:
            message = _yaml_message(e) if extension in yaml_extensions else str(e)
            raise ConfigFileError(
                f'Configuration file "{filename}" could not be loaded: '
                f"{type(e).__name__}: {message}"
            ) from e
    if config is None and extension in yaml_extensions:
        return {}  # an empty YAML document (or only comments)
    if not isinstance(config, dict):
        raise ConfigFileError(
            f'Configuration file "{filename}" must hold a mapping of config entries at the '
            f"top level, not {type(config).__name__}."
        )
    return config


def save_config_file(config, filename):
    """Write ``config`` to a file in the format given by the extension."""
    handler = get_handler(filename)
    with open(filename, "w" + handler.mode) as f:
        handler.dump(config, f)
