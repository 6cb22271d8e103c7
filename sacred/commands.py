"""The built-in commands: print_config, print_dependencies, save_config, print_named_configs.

Also ``help_for_command`` (the text of ``help COMMAND``) and the config formatting used by
``print_config`` and the ``--print-config`` option.
"""

import copy
import os
import pprint
import re
from collections import OrderedDict, namedtuple

from sacred.utils import PATHCHANGE, iterate_flattened_separately

__all__ = (
    "print_config",
    "print_dependencies",
    "save_config",
    "help_for_command",
    "print_named_configs",
)

# the ANSI codes of colorama's Fore.RED, Fore.GREEN, Fore.BLUE, Style.DIM and
# Style.RESET_ALL, spelled out so that importing sacred does not import colorama
COLOR_DIRTY = "\x1b[31m"
COLOR_TYPECHANGED = "\x1b[31m"
COLOR_ADDED = "\x1b[32m"
COLOR_MODIFIED = "\x1b[34m"
COLOR_DOC = "\x1b[2m"
ENDC = "\x1b[0m"

LEGEND = (
    "("
    + COLOR_MODIFIED
    + "modified"
    + ENDC
    + ", "
    + COLOR_ADDED
    + "added"
    + ENDC
    + ", "
    + COLOR_TYPECHANGED
    + "typechanged"
    + ENDC
    + ", "
    + COLOR_DOC
    + "doc"
    + ENDC
    + ")"
)

ConfigEntry = namedtuple("ConfigEntry", "key value added modified typechanged doc")
PathEntry = namedtuple("PathEntry", "key added modified typechanged doc")

PRINTER = pprint.PrettyPrinter()

# a line up to this width gets its doc comment aligned in the column after it
_DOC_COLUMN = 35


def print_config(_run):
    """
    Print the updated configuration and exit.

    Entries are coloured: blue when modified, green when added, red when their type changed.
    Dimmed text is documentation.
    """
    print(_format_config(_run.config, _run.config_modifications))


def print_dependencies(_run):
    """Print the detected source-files and dependencies."""
    info = _run.experiment_info
    lines = ["Dependencies:"]
    for dependency in info["dependencies"]:
        name, _, version = dependency.partition("==")
        lines.append(f"  {name:<20} == {version}")
    lines += ["", "Sources:"]
    for filename, digest in info["sources"]:
        lines.append(f"  {filename:<43}  {digest}")
    if info.get("repositories"):
        lines += ["", "Version Control:"]
        for repo in info["repositories"]:
            mark = COLOR_DIRTY + "M" if repo["dirty"] else " "
            lines.append(f"{mark} {repo['url']:<43}  {repo['commit']}" + ENDC)
    lines.append("")
    print("\n".join(lines))


def save_config(_config, _log, config_filename="config.json"):
    """
    Store the updated configuration in a file.

    The file is "config.json" by default; set the config entry config_filename to choose
    another name. The extension picks the format (.json, .pickle, .yaml).
    """
    # lazy: keeps `from sacred import Experiment` light
    from sacred.config.config_files import save_config_file
    from sacred.serializer import flatten

    # a deep copy is mutable even when the captured config is read-only
    config = copy.deepcopy(_config)
    config.pop("config_filename", None)
    _log.info('Saving config to "%s"', config_filename)
    # The json writer flattens by itself; flattening twice would drop jsonpickle's tags
    # (a value tagged "py/tuple" or "py/object" came out as {} in the original).
    if os.path.splitext(str(config_filename))[1] != ".json":
        config = flatten(config)
    save_config_file(config, config_filename)


def help_for_command(command):
    """The pydoc text of a command (signature and docstring), without overstrike bolding."""
    import pydoc

    # a captured function is a proxy; document the function it wraps
    function = getattr(command, "__wrapped__", command)
    text = pydoc.text.document(function)
    return re.sub(".\b", "", text)


def print_named_configs(ingredient):
    """Make the ``print_named_configs`` command for ``ingredient`` (and its sub-ingredients)."""

    def print_named_configs():
        """Print the available named configs and exit."""
        named_configs = OrderedDict(ingredient.gather_named_configs())
        print(_format_named_configs(named_configs, 2))

    return print_named_configs


# ------------------------------------------------------------- formatting
def _own_doc(obj):
    """The docstring of ``obj`` itself, not one inherited from its class (e.g. ConfigDict's)."""
    doc = getattr(obj, "__doc__", None)
    if (
        doc is not None
        and doc is type(obj).__doc__
        and "__doc__" not in getattr(obj, "__dict__", {})
    ):
        return None
    return doc


def _format_named_config(indent, path, named_config):
    pad = " " * indent
    line = pad + path
    doc = _own_doc(named_config)
    if doc is not None and doc.strip():
        if "\n" not in doc.strip():
            line += COLOR_DOC + "   # " + doc.strip() + ENDC
        else:
            doc = doc.replace("\n", "\n" + pad)
            line += COLOR_DOC + "\n" + pad + '  """' + doc + '"""' + ENDC
    return line


def _format_named_configs(named_configs, indent=2):
    lines = ["Named Configurations (" + COLOR_DOC + "doc" + ENDC + "):"]
    for path, named_config in named_configs.items():
        lines.append(_format_named_config(indent, path, named_config))
    if not named_configs:
        lines.append(" " * indent + "No named configs")
    return "\n".join(lines)


def _format_config(cfg, config_mods):
    lines = ["Configuration " + LEGEND + ":"]
    for path, entry in _iterate_marked(cfg, config_mods):
        indent = 2 + 2 * path.count(".")
        lines.append(_format_entry(indent, entry))
    return "\n".join(lines)


def _iterate_marked(cfg, config_mods):
    """Yield (path, ConfigEntry | PathEntry) in print order, marked by the ConfigSummary."""
    for path, value in iterate_flattened_separately(cfg, ["__doc__"]):
        key = path.rpartition(".")[2]
        marks = {
            "added": path in config_mods.added,
            "modified": path in config_mods.modified,
            "typechanged": config_mods.typechanged.get(path),
            "doc": config_mods.docs.get(path),
        }
        if value is PATHCHANGE:
            yield path, PathEntry(key=key, **marks)
        else:
            yield path, ConfigEntry(key=key, value=value, **marks)


def _format_entry(indent, entry):
    pad = " " * indent
    if entry.typechanged:
        color = COLOR_TYPECHANGED
    elif entry.added:
        color = COLOR_ADDED
    elif entry.modified:
        color = COLOR_MODIFIED
    else:
        color = ""

    if entry.key == "__doc__":
        color = COLOR_DOC
        text = pad + '"""' + str(entry.value).replace("\n", "\n" + pad) + '"""'
    elif isinstance(entry, ConfigEntry):
        text = pad + entry.key + " = " + PRINTER.pformat(entry.value)
    else:
        text = pad + entry.key + ":"

    if entry.doc:
        comment = COLOR_DOC + "# " + entry.doc + ENDC
        if len(text) <= _DOC_COLUMN:
            text = text.ljust(_DOC_COLUMN) + "  " + comment
        else:
            text += "    " + comment

    return color + text + ENDC if color else text
