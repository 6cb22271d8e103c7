"""The command line's usage text (a docopt document) and the parsing of ``with`` updates."""

import ast
import inspect
import math
import re
import shlex
import textwrap

from sacred.config.utils import MAX_CONFIG_DEPTH
from sacred.safe_restore import UnsafeDataError, safe_restore
from sacred.settings import SETTINGS
from sacred.utils import CommandLineError, abbreviate, set_by_dotted_path

__all__ = ("get_config_updates", "format_usage")


USAGE_TEMPLATE = """Usage:
  {program_name} [(with UPDATE...)] [options]
  {program_name} help [COMMAND]
  {program_name} (-h | --help)
  {program_name} COMMAND [(with UPDATE...)] [options]

{description}

Options:
{options}

Arguments:
  COMMAND   Name of command to run (see below for list of commands)
  UPDATE    Configuration assignments of the form foo.bar=17
{arguments}
{commands}"""


# ------------------------------------------------------------ with updates
def get_config_updates(updates):
    """Split the ``with`` tokens into (nested dict of config updates, list of named configs).

    ``path=value`` sets the (dotted) path to the converted value; a token without ``=``
    names a named config or a config file; empty tokens are ignored. A bad token raises a
    CommandLineError with a one-line message.
    """

    config_updates = {}
    named_configs = []
    for token in updates or ():
        if token == "":
            continue
        path, sep, value = token.partition("=")
        if not sep:
            named_configs.append(token)
            continue
        path = path.strip()
        if not path or any(part.strip() == "" for part in path.split(".")):
            raise CommandLineError(
                f"Invalid config update {token!r}: expected path=value with a dotted "
                "path such as foo.bar=17."
            )
        depth = path.count(".") + 1
        if depth > MAX_CONFIG_DEPTH:
            raise CommandLineError(
                f"Invalid config update {abbreviate(token)!r}: the path nests {depth} levels "
                f"deep; at most {MAX_CONFIG_DEPTH} are allowed."
            )
        converted = _convert_value(value.strip(), token, path)
        try:
            set_by_dotted_path(config_updates, path, converted)
        except (TypeError, AttributeError) as e:
            # e.g. ``a=1 a.b=2``: a.b cannot go below the plain value of a
            raise CommandLineError(
                f"Invalid config update {token!r}: {path.rpartition('.')[0]!r} was already "
                "set to a value that is not a dict."
            ) from e
    return config_updates, named_configs


_LITERAL_OPENERS = {
    "[": "list",
    "{": "dict",
    "(": "tuple",
    "'": "string",
    '"': "string",
}


def _convert_value(value, token=None, path=""):
    """Parse a ``with`` value as a Python literal (then rebuild Sacred's tagged forms).

    A value that is no literal stays a string (``name=Bob``), unless
    ``SETTINGS.COMMAND_LINE.STRICT_PARSING`` is set; then a CommandLineError is raised.
    A value that opens a list, dict, tuple or string literal but does not close it
    (``a=[1,2``) is a typo, not a string: it raises a CommandLineError too.

    The value is data: jsonpickle tags are rebuilt only for Sacred's own forms
    (``{'py/tuple': [1, 2]}``, numpy, ...); a tag that would import or call code
    (``py/reduce``, ``py/function``, ``py/object`` of other classes) is a CommandLineError,
    and so is a number too large for a float (``1e999`` would become inf).
    """

    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as e:
        shown = token if token is not None else value
        if value[:1] in _LITERAL_OPENERS:
            raise CommandLineError(
                f"Invalid config update {shown!r}: the value {value!r} looks like a "
                f"{_LITERAL_OPENERS[value[:1]]} but is not a valid Python literal "
                f"({_not_literal_reason(value, e)})."
            ) from e
        if SETTINGS.COMMAND_LINE.STRICT_PARSING:
            raise CommandLineError(
                f"Invalid config update {shown!r}: the value {value!r} is not a Python "
                "literal (strict parsing is on; quote strings, e.g. name='Bob')."
            ) from e
        return value
    shown = token if token is not None else value
    overflowed = _overflowed_literal(value, parsed)
    if overflowed is not None:
        raise CommandLineError(
            f"Invalid config update {abbreviate(shown)!r}: the number {abbreviate(overflowed)} "
            "is too large for a float (it would become inf)."
        )
    try:
        return safe_restore(parsed, path, on_unsafe="raise")
    except UnsafeDataError as e:
        raise CommandLineError(f"Invalid config update {abbreviate(shown)!r}: {e}") from None


_JSON_WORDS = {"null": "None", "true": "True", "false": "False"}
# what literals are made of (a sign, and + or - between the parts of a complex number)
_LITERAL_NODES = (
    *(ast.Expression, ast.Constant, ast.List, ast.Tuple, ast.Set, ast.Dict, ast.expr_context),
    *(ast.UnaryOp, ast.UAdd, ast.USub, ast.BinOp, ast.Add, ast.Sub),
)


def _not_literal_reason(value, error):
    """Why ``value`` (which ``ast.literal_eval`` refused with ``error``) is no literal."""
    if not isinstance(error, ValueError):
        return str(error)  # a syntax error says where
    try:
        tree = ast.parse(value, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return str(error)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id in _JSON_WORDS:
                return f"{node.id} is JSON, not Python: write {_JSON_WORDS[node.id]}"
            return f"{node.id} is a name, not a value: quote strings ({node.id!r})"
        if not isinstance(node, _LITERAL_NODES) or (
            isinstance(node, ast.BinOp) and not isinstance(node.op, (ast.Add, ast.Sub))
        ):
            segment = ast.get_source_segment(value, node) or type(node).__name__
            return f"{abbreviate(segment)} is not a literal value"
    return str(error)


def _is_inf(obj):
    if type(obj) is float:
        return math.isinf(obj)
    if type(obj) is complex:
        return math.isinf(obj.real) or math.isinf(obj.imag)
    return False


def _overflowed_literal(value, parsed):
    """The number literal in ``value`` that overflowed to inf (parsed to ``parsed``), or None.

    No Python literal means inf on purpose (``float('inf')`` is no literal).
    """
    stack, found = [parsed], False
    while stack and not found:
        obj = stack.pop()
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        else:
            found = _is_inf(obj)
    if not found:
        return None
    for node in ast.walk(ast.parse(value, mode="eval")):
        if isinstance(node, ast.Constant) and _is_inf(node.value):
            return ast.get_source_segment(value, node) or value
    return value


# ------------------------------------------------------------------ usage
def format_usage(program_name, description, commands=None, options=()):
    """The docopt usage document: usage lines, description, options, arguments, commands."""
    return USAGE_TEMPLATE.format(
        program_name=shlex.quote(program_name),
        description=description.strip() if description else "",
        options=_format_options_usage(options),
        arguments=_format_arguments_usage(options),
        commands=_format_command_usage(commands),
    )


def _wrap(text, indent):
    """Wrap ``text`` at column 79 as if it started at column ``indent``; first line unindented."""
    lines = textwrap.wrap(
        text, width=79, initial_indent=" " * indent, subsequent_indent=" " * indent
    )
    return "\n".join(lines).strip()


def _option_description(option):
    get_description = getattr(option, "get_description", None)
    if get_description is not None:
        return get_description() or ""
    doc = getattr(option, "__doc__", None)
    return inspect.cleandoc(doc) if doc else ""


def _format_options_usage(options):
    lines = []
    for option in options:
        short_flag, long_flag = option.get_flags()
        if option.arg:
            flag = f"{short_flag} {option.arg} {long_flag}={option.arg}"
        else:
            flag = f"{short_flag} {long_flag}"
        lines.append(f"  {flag:28}  {_wrap(_option_description(option), 32)}\n")
    return "".join(lines)


def _format_arguments_usage(options):
    lines = []
    for option in options:
        if option.arg and option.arg_description:
            lines.append(f"  {option.arg:8}  {_wrap(option.arg_description, 12)}\n")
    return "".join(lines)


def _first_line_of_docstring(command):
    # commands maps names to command functions (or directly to their docstrings)
    doc = command if isinstance(command, str) or command is None else inspect.getdoc(command)
    return doc.strip().split("\n")[0] if doc else ""


def _format_command_usage(commands):
    if not commands:
        return ""
    width = max([len(name) for name in commands] + [8])
    lines = ["\nCommands:\n"]
    for name, function in commands.items():
        lines.append(f"  {name:{width}}  {_first_line_of_docstring(function)}\n")
    return "".join(lines)


def printable_usage(doc):
    """The ``Usage:`` block of a docopt document (up to the first blank line)."""
    parts = re.split(r"([Uu][Ss][Aa][Gg][Ee]:)", doc)
    if len(parts) < 3:
        raise ValueError('"usage:" (case-insensitive) not found.')
    if len(parts) > 3:
        raise ValueError('More than one "usage:" (case-insensitive).')
    return re.split(r"\n\s*\n", "".join(parts[1:]))[0].strip()
