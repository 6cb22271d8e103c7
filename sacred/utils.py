"""Small helpers and the exceptions Sacred raises.

The exceptions live here (and nowhere else) because users see their full name,
e.g. ``sacred.utils.ConfigAddedError: ...``, in the command line's error output.
"""

import collections.abc
import contextlib
import functools
import importlib.util
import logging
import re
import shlex
import sys
import threading
import traceback
import types
from pathlib import Path
from typing import Union

__all__ = [
    "NO_LOGGER",
    "PYTHON_IDENTIFIER",
    "CircularDependencyError",
    "ObserverError",
    "SacredInterrupt",
    "TimeoutInterrupt",
    "create_basic_stream_logger",
    "recursive_update",
    "iterate_flattened",
    "iterate_flattened_separately",
    "set_by_dotted_path",
    "get_by_dotted_path",
    "iter_prefixes",
    "join_paths",
    "is_prefix",
    "convert_to_nested_dict",
    "convert_camel_case_to_snake_case",
    "print_filtered_stacktrace",
    "optional_kwargs_decorator",
    "get_inheritors",
    "apply_backspaces_and_linefeeds",
    "rel_path",
    "IntervalTimer",
    "PathType",
]

NO_LOGGER = logging.getLogger("ignore")
NO_LOGGER.disabled = True

PATHCHANGE = object()

PYTHON_IDENTIFIER = re.compile("^[a-zA-Z_][_a-zA-Z0-9]*$")

PathType = Union[str, bytes, Path]


# ---------------------------------------------------------------- exceptions
class ObserverError(Exception):
    """An observer could not store an event (it may be retried)."""


class SacredInterrupt(Exception):
    """Base class for custom interrupts; STATUS becomes the run's status."""

    STATUS = "INTERRUPTED"


class TimeoutInterrupt(SacredInterrupt):
    """Signals that the run was stopped because it ran out of time."""

    STATUS = "TIMEOUT"


class SacredError(Exception):
    """An error a user can cause; the CLI prints it without Sacred's internals.

    ``SacredError(message, print_traceback=True, filter_traceback="default",
    print_usage=False)``: the options may be given positionally too; ``args`` holds only
    the message.
    """

    def __init__(
        self,
        message="",
        print_traceback=True,
        filter_traceback="default",
        print_usage=False,
    ):
        super().__init__(message)
        self.print_traceback = print_traceback
        if filter_traceback not in ("always", "default", "never"):
            raise ValueError(
                f"filter_traceback must be one of 'always', 'default' or 'never', "
                f"not {filter_traceback!r}"
            )
        self.filter_traceback = filter_traceback
        self.print_usage = print_usage


class CircularDependencyError(SacredError):
    """The ingredients of an experiment depend on each other in a circle."""

    @classmethod
    @contextlib.contextmanager
    def track(cls, ingredient):
        try:
            yield
        except CircularDependencyError as e:
            if not e.__processed__:
                e.__circular_ingredients__.append(ingredient)
                # the cycle is closed once the first ingredient shows up again
                e.__processed__ = ingredient is e.__circular_ingredients__[0]
            raise

    def __init__(self, message="Circular dependency detected:", ingredients=None, **kwargs):
        super().__init__(message, **kwargs)
        self.__circular_ingredients__ = list(ingredients or [])
        self.__processed__ = False

    def __str__(self):
        path = "->".join(
            reversed([getattr(i, "path", str(i)) for i in self.__circular_ingredients__])
        )
        return f"{self.args[0]}{path}"


class ConfigError(SacredError):
    """There are problems with the configuration; names the offending keys and values."""

    def __init__(
        self,
        message,
        conflicting_configs=(),
        print_conflicting_configs=True,
        print_traceback=True,
        filter_traceback="default",
        print_usage=False,
        config=None,
    ):
        super().__init__(
            message,
            print_traceback=print_traceback,
            filter_traceback=filter_traceback,
            print_usage=print_usage,
        )
        if isinstance(conflicting_configs, str):
            conflicting_configs = (conflicting_configs,)
        self.__prefix_handled__ = False
        self.conflicting_configs = conflicting_configs
        self.print_conflicting_configs = print_conflicting_configs
        self.config = config

    @classmethod
    @contextlib.contextmanager
    def track(cls, config, prefix=None):
        """Add ``prefix`` to the keys of a ConfigError raised inside, and remember the config."""
        try:
            yield
        except ConfigError as e:
            if not e.__prefix_handled__:
                if prefix:
                    e.conflicting_configs = [join_paths(prefix, k) for k in e.conflicting_configs]
                if e.config is None:
                    e.config = config
                e.__prefix_handled__ = True
            raise

    def __str__(self):
        text = str(self.args[0]) if self.args else ""
        if self.print_conflicting_configs:
            lines = ["Conflicting configuration values:"]
            for key in self.conflicting_configs:
                value = get_by_dotted_path(self.config, key) if self.config is not None else None
                lines.append(f"  {key}={value}")
            text = f"{text}\n" + "\n".join(lines)
        return text


class InvalidConfigError(ConfigError):
    """A configuration value is not allowed."""


class MissingConfigError(SacredError):
    """A captured function was called without a value for one of its parameters."""

    def __init__(
        self,
        message="Configuration values are missing:",
        missing_configs=(),
        print_traceback=False,
        filter_traceback="default",
        print_usage=True,
    ):
        message = f"{message} {list(missing_configs)}" if missing_configs else message
        super().__init__(
            message,
            print_traceback=print_traceback,
            filter_traceback=filter_traceback,
            print_usage=print_usage,
        )
        self.missing_configs = list(missing_configs)


class NamedConfigNotFoundError(SacredError):
    """A named config (or config file) given on the command line does not exist."""

    def __init__(
        self,
        named_config,
        message="Named config not found:",
        available_named_configs=(),
        print_traceback=False,
        filter_traceback="default",
        print_usage=False,
    ):
        super().__init__(
            f'{message} "{named_config}". '
            f"Available config values are: {tuple(available_named_configs)}",
            print_traceback=print_traceback,
            filter_traceback=filter_traceback,
            print_usage=print_usage,
        )
        self.named_config = named_config
        self.available_named_configs = tuple(available_named_configs)


class ConfigAddedError(ConfigError):
    """A config update adds a key that no config scope defines and no function uses."""

    SPECIAL_ARGS = {"_log", "_config", "_seed", "__doc__", "config_filename", "_run"}

    def __init__(
        self,
        conflicting_configs,
        message="Added new config entry that is not used anywhere",
        captured_args=(),
        print_conflicting_configs=True,
        print_traceback=False,
        filter_traceback="default",
        print_usage=False,
        config=None,
    ):
        super().__init__(
            message,
            conflicting_configs=conflicting_configs,
            print_conflicting_configs=print_conflicting_configs,
            print_traceback=print_traceback,
            filter_traceback=filter_traceback,
            print_usage=print_usage,
            config=config,
        )
        self.captured_args = captured_args

    def __str__(self):
        text = super().__str__()
        if self.captured_args:
            keys = sorted(set(self.captured_args) - self.SPECIAL_ARGS)
            text += f"\nPossible config keys are: {keys}"
        return text


class SignatureError(SacredError, TypeError):
    """A captured function was called with arguments that do not fit its signature."""

    def __init__(
        self, message="", print_traceback=True, filter_traceback="always", print_usage=False
    ):
        super().__init__(
            message,
            print_traceback=print_traceback,
            filter_traceback=filter_traceback,
            print_usage=print_usage,
        )


class CommandLineError(SacredError, ValueError):
    """Bad input on the command line (an option value that does not parse, ...).

    Printed as one paragraph without a traceback.
    """

    def __init__(
        self, message="", print_traceback=False, filter_traceback="default", print_usage=False
    ):
        super().__init__(
            message,
            print_traceback=print_traceback,
            filter_traceback=filter_traceback,
            print_usage=print_usage,
        )


# -------------------------------------------------------- traceback filtering
def leave_signals_to_main_thread():
    """Block SIGINT and SIGTERM in the calling background thread.

    The kernel hands a process signal to any thread that does not block it. One that lands
    in a background thread does not interrupt a blocking call of the main thread (a long
    ``time.sleep`` in the user's code), so Python's handler, which runs in the main thread,
    would wait for that call to end: a Ctrl-C or a scheduler's SIGTERM would be missed for
    minutes. Sacred's own threads (heartbeats, output capture, queue delivery) call this.
    """
    import signal

    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def _is_sacred_frame(frame):
    return frame.f_globals.get("__name__", "").split(".")[0] == "sacred"


def _without_sacred_frames(tb):
    """A new traceback chain of the frames of ``tb`` that are not Sacred's (``tb`` unchanged).

    Built from real traceback objects, so the standard formatting (with the positions that
    mark the failing part of a line) applies to it.
    """
    kept = []
    while tb is not None:
        if not _is_sacred_frame(tb.tb_frame):
            kept.append(tb)
        tb = tb.tb_next
    chain = None
    for t in reversed(kept):
        chain = types.TracebackType(chain, t.tb_frame, t.tb_lasti, t.tb_lineno)
    return chain


class FilteredTracebackException(traceback.TracebackException):
    """A TracebackException without Sacred's frames, for causes and contexts too."""

    def __init__(self, exc_type, exc_value, exc_traceback, **kwargs):
        super().__init__(exc_type, exc_value, _without_sacred_frames(exc_traceback), **kwargs)
        _filter_chain(self, exc_value, kwargs, {id(exc_value)})

    def format(self, *, chain=True, **kwargs):
        for line in super().format(chain=chain, **kwargs):
            if line == "Traceback (most recent call last):\n":
                line = "Traceback (most recent calls WITHOUT Sacred internals):\n"
            yield line


def _filter_chain(te, exc, kwargs, seen):
    """Replace the causes and contexts of ``te`` by filtered ones."""
    for attr in ("__cause__", "__context__"):
        linked = getattr(exc, attr, None)
        if getattr(te, attr, None) is None or linked is None or id(linked) in seen:
            continue
        seen.add(id(linked))
        sub = traceback.TracebackException(
            type(linked),
            linked,
            _without_sacred_frames(linked.__traceback__),
            limit=kwargs.get("limit"),
        )
        _filter_chain(sub, linked, kwargs, seen)
        setattr(te, attr, sub)


def format_filtered_stacktrace(filter_traceback="default"):
    """Format the exception being handled, hiding Sacred's frames as the mode says."""
    exc_type, exc_value, exc_traceback = sys.exc_info()
    innermost = exc_traceback
    while innermost is not None and innermost.tb_next is not None:
        innermost = innermost.tb_next
    if filter_traceback == "default" and innermost and _is_sacred_frame(innermost.tb_frame):
        header = "Exception originated from within Sacred.\nTraceback (most recent calls):\n"
        texts = traceback.format_exception(exc_type, exc_value, innermost)
        return (header + "".join(texts[1:])).strip()
    if filter_traceback in ("default", "always"):
        te = FilteredTracebackException(exc_type, exc_value, exc_traceback, limit=None)
        return "".join(te.format())
    if filter_traceback == "never":
        return "\n".join(traceback.format_exception(exc_type, exc_value, exc_traceback))
    raise ValueError(f"Unknown value for filter_traceback: {filter_traceback}")


def print_filtered_stacktrace(filter_traceback="default"):
    print(format_filtered_stacktrace(filter_traceback), file=sys.stderr)


def format_sacred_error(e, short_usage):
    """The text the command line prints for a SacredError."""
    lines = []
    if e.print_usage:
        lines.append(short_usage)
    if e.print_traceback:
        lines.append(format_filtered_stacktrace(e.filter_traceback))
    else:
        lines.append("\n".join(traceback.format_exception_only(type(e), e)))
    return "\n".join(lines)


# ---------------------------------------------------------------- logging
def create_basic_stream_logger():
    """Configure the root logger like Sacred always did, and return it."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s - %(name)s - %(message)s")
    return logging.getLogger("")


# ------------------------------------------------------- nested dicts, paths
def is_non_empty_dict(x):
    return isinstance(x, dict) and bool(x)


def recursive_update(d, u):
    """Merge ``u`` into ``d`` in place, recursing into nested mappings; returns ``d``."""
    for key, value in u.items():
        if isinstance(value, collections.abc.Mapping) and isinstance(
            d.get(key), collections.abc.Mapping
        ):
            recursive_update(d[key], value)
        else:
            d[key] = value
    return d


def iterate_flattened_separately(dictionary, manually_sorted_keys=None):
    """Yield (dotted path, value) pairs: manual keys, then leaves, then sub-dicts.

    Each non-empty sub-dict first yields ``(path, PATHCHANGE)``.
    """
    manually_sorted_keys = manually_sorted_keys or []
    for key in manually_sorted_keys:
        if key in dictionary:
            yield key, dictionary[key]
    single_line = sorted(
        k
        for k, v in dictionary.items()
        if k not in manually_sorted_keys and not is_non_empty_dict(v)
    )
    for key in single_line:
        yield key, dictionary[key]
    multi_line = sorted(
        k for k, v in dictionary.items() if k not in manually_sorted_keys and is_non_empty_dict(v)
    )
    for key in multi_line:
        yield key, PATHCHANGE
        for sub_key, value in iterate_flattened_separately(dictionary[key], manually_sorted_keys):
            yield join_paths(key, sub_key), value


def iterate_flattened(d):
    """Yield (dotted path, leaf) pairs in sorted key order, recursing into non-empty dicts."""
    for key in sorted(d.keys()):
        value = d[key]
        if isinstance(value, dict) and value:
            for sub_key, sub_value in iterate_flattened(value):
                yield join_paths(key, sub_key), sub_value
        else:
            yield key, value


def set_by_dotted_path(d, path, value):
    """Set ``d["a"]["b"]["c"] = value`` for the path ``"a.b.c"``, creating dicts on the way."""
    split_path = path.split(".")
    current = d
    for part in split_path[:-1]:
        if part not in current:
            current[part] = {}
        current = current[part]
    current[split_path[-1]] = value


def get_by_dotted_path(d, path, default=None):
    """Return ``d["a"]["b"]`` for ``"a.b"``; the default if a key is missing."""
    if not path:
        return d
    current = d
    for part in path.split("."):
        try:
            current = current[part]
        except (KeyError, IndexError, TypeError):
            return default
    return current


def iter_prefixes(path):
    """``"a.b.c"`` yields ``"a"``, ``"a.b"``, ``"a.b.c"``."""
    split_path = path.split(".")
    for i in range(1, len(split_path) + 1):
        yield ".".join(split_path[:i])


def join_paths(*parts):
    """Join path parts with dots, skipping empty parts and stray dots."""
    return ".".join(str(p).strip(".") for p in parts if p)


def is_prefix(pre_path, path):
    """True if ``pre_path`` is a strict path prefix of ``path`` (``""`` prefixes everything)."""
    pre_path = pre_path.strip(".")
    path = path.strip(".")
    return not pre_path or path.startswith(pre_path + ".")


def rel_path(base, path):
    """``path`` relative to its prefix ``base``."""
    if base == path:
        return ""
    assert is_prefix(base, path), f"{base} not a prefix of {path}"
    return path[len(base) :].strip(".")


def convert_to_nested_dict(dotted_dict):
    """``{"a.b": 1}`` becomes ``{"a": {"b": 1}}``."""
    nested_dict = {}
    for k, v in iterate_flattened(dotted_dict):
        set_by_dotted_path(nested_dict, k, v)
    return nested_dict


_CAMEL_1 = re.compile("(.)([A-Z][a-z]+)")
_CAMEL_2 = re.compile("([a-z0-9])([A-Z])")


def convert_camel_case_to_snake_case(name):
    """``getHTTPResponseCode`` becomes ``get_http_response_code``."""
    s1 = _CAMEL_1.sub(r"\1_\2", name)
    return _CAMEL_2.sub(r"\1_\2", s1).lower()


# ---------------------------------------------------------------- misc
class optional_kwargs_decorator:  # noqa: N801 (a decorator, named like a function)
    """Let a decorator be used bare (``@d``) and with keyword arguments (``@d(x=1)``).

    Works on plain functions and on methods (the instance is bound first).
    """

    def __init__(self, wrapped):
        self.__wrapped__ = wrapped
        functools.update_wrapper(self, wrapped)

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        return optional_kwargs_decorator(functools.partial(self.__wrapped__, instance))

    def __call__(self, *args, **kwargs):
        if args:
            return self.__wrapped__(*args, **kwargs)
        return functools.partial(self.__wrapped__, **kwargs)


def get_inheritors(cls):
    """All transitive subclasses of ``cls``."""
    subclasses = set()
    work = [cls]
    while work:
        parent = work.pop()
        for child in parent.__subclasses__():
            if child not in subclasses:
                subclasses.add(child)
                work.append(child)
    return subclasses


def _apply_line(line, is_last_line):
    if "\r" not in line and "\b" not in line:
        return line
    chars = []
    cursor = 0
    last = len(line) - 1
    for i, ch in enumerate(line):
        if ch == "\r":
            if is_last_line and i == last:
                # a carriage return at the very end is kept, after the text
                chars.append(ch)
                continue
            cursor = 0
        elif ch == "\b":
            cursor = max(0, cursor - 1)
        else:
            if cursor == len(chars):
                chars.append(ch)
            else:
                chars[cursor] = ch
            cursor += 1
    return "".join(chars)


def apply_backspaces_and_linefeeds(text):
    """Interpret ``\\b`` and ``\\r`` like a terminal would, line by line.

    A progress bar that redraws itself therefore ends up as its final state.
    """
    lines = text.split("\n")
    n = len(lines)
    return "\n".join(_apply_line(line, i == n - 1) for i, line in enumerate(lines))


_SURROGATE = re.compile("[\ud800-\udfff]")


def without_surrogates(text: str) -> str:
    """``text`` with U+FFFD in place of each surrogate: the bytes that are not UTF-8 of a
    name Python decoded with surrogateescape (``os.listdir``, ``sys.argv``). UTF-8
    encoders refuse them, and so do the stores; ``--capture fd`` decodes such bytes to
    U+FFFD too."""
    if text.isascii():  # (a flag of the string: no scan)
        return text
    try:
        text.encode("utf-8")  # (C speed; most text has none)
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def module_exists(modname):
    """Whether ``modname`` can be imported, without importing it (parents are imported)."""
    try:
        return importlib.util.find_spec(modname) is not None
    except (ImportError, ValueError, AttributeError):
        return False


def modules_exist(*modnames):
    return all(module_exists(m) for m in modnames)


def module_is_in_cache(modname):
    return modname in sys.modules


def parse_version(version_string):
    """A ``packaging.version.Version`` (imported lazily: it costs import time)."""
    from packaging import version

    return version.parse(version_string)


def get_package_version(name):
    """The installed version of the module ``name``, as a ``Version``."""
    module = __import__(name)
    return parse_version(module.__version__)


def ensure_wellformed_argv(argv):
    """``sys.argv`` for None, ``shlex.split`` for a str, else a list or tuple of str."""
    if argv is None:
        argv = sys.argv
    elif isinstance(argv, str):
        argv = shlex.split(argv)
    else:
        if not isinstance(argv, (list, tuple)):
            raise ValueError(f"argv must be str or list, but was {type(argv)}")
        if not all(isinstance(a, str) for a in argv):
            problems = [a for a in argv if not isinstance(a, str)]
            raise ValueError(
                f"argv must be list of str but contained the following elements: {problems}"
            )
    return argv


class IntervalTimer(threading.Thread):
    """Call a function every ``interval`` seconds until stopped, then once more."""

    @classmethod
    def create(cls, func, interval=10):
        stop_event = threading.Event()
        timer_thread = cls(stop_event, func, interval)
        return stop_event, timer_thread

    def __init__(self, event, func, interval=10.0):
        super().__init__()
        self.stopped = event
        self.func = func
        self.interval = interval

    def run(self):
        while not self.stopped.wait(self.interval):
            self.func()
        self.func()


def abbreviate(text, limit=80):
    """``text`` (a str, else its repr) cut to about ``limit`` characters for a message."""
    if not isinstance(text, str):
        try:
            text = repr(text)
        except ValueError:  # an int too long to print
            text = f"<an int of {text.bit_length()} bits>"
    if len(text) <= limit:
        return text
    return f"{text[: limit - 20]}...{text[-15:]}"
