"""Command-line options: the ``CLIOption`` type, the ``cli_option`` decorator and the defaults.

An option is a function ``apply(args, run)`` with two flags. Its docstring is the
description shown by ``--help``. ``apply`` is called after the Run object was created
and before it starts, with ``args`` being ``True`` for a flag or the given string value.
"""

import inspect
import re
import warnings

from sacred.commands import print_config
from sacred.utils import CommandLineError, convert_camel_case_to_snake_case, get_inheritors

__all__ = [
    "CLIOption",
    "cli_option",
    "CommandLineOption",
    "get_name",
    "gather_legacy_options",
    "help_option",
    "debug_option",
    "pdb_option",
    "loglevel_option",
    "comment_option",
    "beat_interval_option",
    "unobserved_option",
    "queue_option",
    "force_option",
    "priority_option",
    "enforce_clean_option",
    "print_config_option",
    "id_option",
    "name_option",
    "capture_option",
]

_SHORT_FLAG = re.compile(r"-\w$")
_LONG_FLAG = re.compile(r"--[\w-]+\w$")


def _check_flags(short_flag, long_flag):
    if not isinstance(short_flag, str) or not _SHORT_FLAG.match(short_flag):
        raise ValueError(
            f"Short flag malformed: {short_flag!r}. It must be a dash and one letter, e.g. `-j`."
        )
    if not isinstance(long_flag, str) or not _LONG_FLAG.match(long_flag):
        raise ValueError(
            f"Long flag malformed: {long_flag!r}. It must be two dashes and a name, "
            "e.g. `--my_pretty_flag`."
        )


class CLIOption:
    """A command-line option: an apply function plus its short and long flag."""

    def __init__(self, apply_function, short_flag, long_flag, is_flag=False):
        _check_flags(short_flag, long_flag)
        self.apply_function = apply_function
        self.short_flag = short_flag
        self.long_flag = long_flag
        self.is_flag = is_flag
        # docopt placeholders: a value option reads ``-x VALUE --long=VALUE``
        self.arg = None if is_flag else "VALUE"
        self.arg_description = None if is_flag else ""

    def __call__(self, *args, **kwargs):
        return self.apply_function(*args, **kwargs)

    def __repr__(self):
        return f"<CLIOption {self.short_flag} {self.long_flag} ({self.get_name()})>"

    def get_flag(self):
        return self.long_flag

    def get_short_flag(self):
        return self.short_flag

    def get_flags(self):
        return self.short_flag, self.long_flag

    def apply(self, args, run):
        return self.apply_function(args, run)

    def get_name(self):
        return self.apply_function.__name__

    def get_description(self):
        return inspect.getdoc(self.apply_function) or ""


def cli_option(short_flag, long_flag, is_flag=False):
    """Decorator turning ``f(args, run)`` into a :class:`CLIOption` with the given flags."""
    _check_flags(short_flag, long_flag)

    def wrapper(function):
        return CLIOption(function, short_flag, long_flag, is_flag)

    return wrapper


# ------------------------------------------------------------------ legacy
class _LegacyOptionType(type):
    """Lets the legacy option classes answer ``is_flag`` like a CLIOption does."""

    @property
    def is_flag(cls):
        return cls.arg is None


class CommandLineOption(metaclass=_LegacyOptionType):
    """Base class of the deprecated class-based command-line options.

    Every subclass is found automatically. The long flag comes from the class name
    (``OwnFlagOption`` gives ``--own_flag``), the short flag is ``-`` plus ``short_flag``
    or the first letter of the long flag. ``arg`` names the value (None for a flag) and
    ``arg_description`` explains it. Use :func:`cli_option` instead.
    """

    short_flag = None
    arg = None
    arg_description = None
    _enabled = True

    @classmethod
    def get_flag(cls):
        name = cls.__name__
        if name.endswith("Option"):
            name = name[: -len("Option")]
        return "--" + convert_camel_case_to_snake_case(name)

    @classmethod
    def get_short_flag(cls):
        if cls.short_flag is None:
            return "-" + cls.get_flag()[2]
        return "-" + cls.short_flag

    @classmethod
    def get_flags(cls):
        return cls.get_short_flag(), cls.get_flag()

    @classmethod
    def get_name(cls):
        return cls.__name__

    @classmethod
    def get_description(cls):
        # only the class's own docstring: an inherited one would describe this base class
        doc = cls.__dict__.get("__doc__")
        return inspect.cleandoc(doc) if doc else ""

    @classmethod
    def apply(cls, args, run):
        """Modify the current Run based on this command-line option."""


LEGACY_DEPRECATION_MESSAGE = (
    "Subclassing `CommandLineOption` is deprecated. Please use the `sacred.cli_option` "
    "decorator and pass the function to the Experiment constructor."
)


def gather_legacy_options(filter_disabled=False):
    """All subclasses of CommandLineOption, warning once per class that it is deprecated.

    With ``filter_disabled`` the classes whose ``_enabled`` is False are left out.
    """
    options = []
    for option in sorted(get_inheritors(CommandLineOption), key=lambda c: c.__name__):
        warnings.warn(LEGACY_DEPRECATION_MESSAGE, stacklevel=2)
        if filter_disabled and not option._enabled:
            continue
        options.append(option)
    return options


def get_name(option):
    """The sort key of an option: the function name, or the class name of a legacy one."""
    if isinstance(option, CLIOption):
        return option.get_name()
    return option.__name__


# ---------------------------------------------------------- default options
@cli_option("-h", "--help", is_flag=True)
def help_option(args, run):
    """Print this help message and exit."""


@cli_option("-d", "--debug", is_flag=True)
def debug_option(args, run):
    """
    Set this run to debug mode.

    Suppress warnings about missing observers and don't filter the stacktrace.
    Also enables usage with ipython `--pdb`.
    """
    run.debug = True


@cli_option("-D", "--pdb", is_flag=True)
def pdb_option(args, run):
    """Automatically enter post-mortem debugging with pdb on failure."""
    run.pdb = True


@cli_option("-l", "--loglevel")
def loglevel_option(args, run):
    """
    Set the LogLevel.

    Loglevel either as 0 - 50 or as string: DEBUG(10),
    INFO(20), WARNING(30), ERROR(40), CRITICAL(50)
    """
    try:
        level = int(args)
    except ValueError:
        level = args
    try:
        run.root_logger.setLevel(level)
    except (ValueError, TypeError) as e:
        raise CommandLineError(
            f"Invalid value for --loglevel: {args!r}. Use a number from 0 to 50 or one of "
            "DEBUG, INFO, WARNING, ERROR, CRITICAL."
        ) from e


@cli_option("-c", "--comment")
def comment_option(args, run):
    """Add a comment to this run."""
    run.meta_info["comment"] = args


@cli_option("-b", "--beat-interval")
def beat_interval_option(args, run):
    """
    Set the heart-beat interval for this run.

    Time between two heartbeat events is measured in seconds.
    """
    try:
        run.beat_interval = float(args)
    except ValueError as e:
        raise CommandLineError(
            f"Invalid value for --beat-interval: {args!r}. It must be a number of seconds."
        ) from e


@cli_option("-u", "--unobserved", is_flag=True)
def unobserved_option(args, run):
    """Ignore all observers for this run."""
    run.unobserved = True


@cli_option("-q", "--queue", is_flag=True)
def queue_option(args, run):
    """Only queue this run, do not start it."""
    run.queue_only = True


@cli_option("-f", "--force", is_flag=True)
def force_option(args, run):
    """Disable warnings about suspicious changes for this run."""
    run.force = True


@cli_option("-P", "--priority")
def priority_option(args, run):
    """
    Sets the priority for a queued up experiment.

    `--priority=NUMBER`
    The number represent the priority for this run.
    """
    try:
        priority = float(args)
    except ValueError as e:
        # CommandLineError is a ValueError, so callers catching ValueError still work
        raise CommandLineError(f"The PRIORITY argument must be a number! (but was '{args}')") from e
    run.meta_info["priority"] = priority


@cli_option("-e", "--enforce_clean", is_flag=True)
def enforce_clean_option(args, run):
    """Fail if any version control repository is dirty."""
    repos = run.experiment_info["repositories"]
    if not repos:
        raise RuntimeError(
            "No version control detected. Cannot enforce clean repository.\n"
            "Make sure that your sources under VCS and the corresponding python "
            "package is installed."
        )
    for repo in repos:
        if repo["dirty"]:
            raise RuntimeError(f'EnforceClean: Uncommited changes in the "{repo}" repository.')


@cli_option("-p", "--print-config", is_flag=True)
def print_config_option(args, run):
    """Always print the configuration first."""

    print_config(run)
    print("-" * 79)


@cli_option("-i", "--id")
def id_option(args, run):
    """Set the id for this run."""
    run._id = args


@cli_option("-n", "--name")
def name_option(args, run):
    """Set the name for this run."""
    run.experiment_info["name"] = args
    run.run_logger = run.root_logger.getChild(args)


@cli_option("-C", "--capture")
def capture_option(args, run):
    """
    Control the way stdout and stderr are captured.

    The argument value must be one of [no, sys, fd]
    """
    run.capture_mode = args


# Names of the class-based options of Sacred 0.7 (imported by e.g. Labwatch). They are
# the option objects themselves, which offer the same get_flag()/apply() interface; being
# no CommandLineOption subclasses, they are not registered a second time.
HelpOption = help_option
DebugOption = debug_option
PDBOption = pdb_option
LoggingOption = loglevel_option
CommentOption = comment_option
BeatIntervalOption = beat_interval_option
UnobservedOption = unobserved_option
QueueOption = queue_option
ForceOption = force_option
PriorityOption = priority_option
EnforceCleanOption = enforce_clean_option
PrintConfigOption = print_config_option
IdOption = id_option
NameOption = name_option
CaptureOption = capture_option
