"""The Experiment: the central ingredient that can be run, from Python or the command line."""

import os.path
import sys
from collections import OrderedDict
from typing import List, Optional, Sequence

from sacred import commandline_options
from sacred.commandline_options import CLIOption
from sacred.commands import print_config, print_dependencies, print_named_configs, save_config
from sacred.ingredient import Ingredient
from sacred.observers.cli_options import (
    file_storage_option,
    mongo_db_option,
    s3_option,
    sql_option,
    tiny_db_option,
)
from sacred.run import Run
from sacred.settings import SETTINGS
from sacred.utils import (
    SacredError,
    ensure_wellformed_argv,
    format_filtered_stacktrace,
    format_sacred_error,
)

__all__ = ("Experiment",)


class Experiment(Ingredient):
    """The top-level ingredient: it has a main function, observers and a command line."""

    def __init__(
        self,
        name: Optional[str] = None,
        ingredients: Sequence[Ingredient] = (),
        interactive: bool = False,
        base_dir=None,
        additional_host_info=None,
        additional_cli_options: Optional[Sequence[CLIOption]] = None,
        save_git_info: bool = True,
    ):
        # lazy: keeps `from sacred import Experiment` light
        from sacred.host_info import check_additional_host_info

        self.additional_host_info = additional_host_info or []
        check_additional_host_info(self.additional_host_info)
        self.additional_cli_options = additional_cli_options or []
        self.all_cli_options = gather_command_line_options() + list(self.additional_cli_options)
        caller_globals = sys._getframe(1).f_globals
        if name is None:
            name = _name_of_script(caller_globals, interactive)
        super().__init__(
            path=name,
            ingredients=ingredients,
            interactive=interactive,
            base_dir=base_dir,
            _caller_globals=caller_globals,
            save_git_info=save_git_info,
        )
        self.default_command = None
        for builtin in (print_config, print_dependencies, save_config, print_named_configs(self)):
            self.command(builtin, unobserved=True)
        self.observers = []
        self.current_run = None
        self.captured_out_filter = None  # str -> str, applied to each run's captured output
        self.option_hooks = []

    # ------------------------------------------------------------ decorators
    def main(self, function):
        """Make ``function`` a command and the one that runs when none is named."""
        captured = self.command(function)
        self.default_command = captured.__name__
        return captured

    def automain(self, function):
        """``main``, plus: when the defining file is executed as a script, start the CLI.

        Whatever follows it in the file is only defined after the run has finished.
        """
        captured = self.main(function)
        if function.__module__ != "__main__":
            return captured  # imported: the importer decides what runs
        import inspect

        filename = inspect.getfile(function)
        typed_in = filename == "<stdin>" or (
            filename.startswith("<ipython-input-") and filename.endswith(">")
        )
        if typed_in:  # a console session has no script to run
            raise RuntimeError(
                "Cannot use @ex.automain decorator in interactive mode. Use @ex.main instead."
            )
        self.run_commandline()
        return captured

    def option_hook(self, function):
        """Register ``function(options)``: it sees (and may change) the options of each run."""
        # lazy: keeps `from sacred import Experiment` light
        from sacred.config.signature import Signature

        sig = Signature(function)
        if "options" not in sig.arguments:
            raise KeyError(
                "option_hook functions must have an argument called 'options', "
                f"but got {sig.arguments}"
            )
        self.option_hooks.append(function)
        return function

    # ------------------------------------------------------------ running
    def get_usage(self, program_name=None):
        """``(short usage, full usage, usage for parsing)`` of this experiment's CLI."""
        # lazy: keeps `from sacred import Experiment` light
        from sacred.arg_parser import format_usage, printable_usage

        program_name = os.path.relpath(program_name or sys.argv[0] or "Dummy", self.base_dir)
        commands = OrderedDict(self.gather_commands())
        long_usage = format_usage(program_name, self.doc, commands, self.all_cli_options)
        # docopt would split a program name containing spaces: parse with a stand-in name
        internal_usage = format_usage("dummy", self.doc, commands, self.all_cli_options)
        short_usage = printable_usage(long_usage)
        return short_usage, long_usage, internal_usage

    def run(
        self,
        command_name: Optional[str] = None,
        config_updates: Optional[dict] = None,
        named_configs: Sequence[str] = (),
        info: Optional[dict] = None,
        meta_info: Optional[dict] = None,
        options: Optional[dict] = None,
        *,
        resume=None,
        parent=None,
    ) -> Run:
        """Create and start a run of ``command_name`` (default: the main function).

        Returns the finished ``Run``; exceptions of the run propagate.

        ``resume=RUN_ID`` continues that FAILED, INTERRUPTED or dead run of the store of the
        first attached observer, under its id, with its recorded config and seed (config
        updates need ``options={"--force": True}``); see ``sacred.continuation``.
        ``parent=(store, RUN_ID)`` records ``meta.parent``: ``_run.parent`` then reads that
        run (see ``sacred.lineage``). Both are beyond the original Sacred.
        """
        continuation = None
        if resume is not None:
            from sacred.continuation import Continuation

            force = bool((options or {}).get("--force"))
            continuation = Continuation.resume(self._resume_store(resume), resume, force=force)
            continuation.check_updates(config_updates, force)
            config_updates = {**continuation.config, **(config_updates or {})}
            command_name = command_name or continuation.command
        if parent is not None:
            from sacred.lineage import parent_meta

            meta_info = {**(meta_info or {}), "parent": parent_meta(parent)}
        run = self._create_run(
            command_name=command_name,
            config_updates=config_updates,
            named_configs=named_configs,
            info=info,
            meta_info=meta_info,
            options=options,
        )
        if continuation is not None:
            continuation.apply(run)
        if parent is not None:
            run._parent_store = parent[0]
        run()
        return run

    def queue(
        self,
        command_name: Optional[str] = None,
        config_updates: Optional[dict] = None,
        named_configs: Sequence[str] = (),
        meta_info: Optional[dict] = None,
        options: Optional[dict] = None,
    ):
        """Store a QUEUED run with the attached observers (as ``-q`` does) and return its
        id; ``sacred worker STORE`` runs it under that id. Beyond the original Sacred."""
        options = {**(options or {}), "--queue": True}
        return self.run(command_name, config_updates, named_configs, None, meta_info, options)._id

    def sweep(self, updates_list, store, launcher="local", n_jobs=None, command=None, **kwargs):
        """Run ``command`` once per config update of ``updates_list`` into ``store`` through a
        launcher (local processes, submitit, dask, ray, or only queue them); see
        ``sacred.launch.sweep``. Beyond the original Sacred."""
        from sacred.launch.sweep import sweep

        return sweep(self, updates_list, store, launcher, n_jobs, command, **kwargs)

    def _resume_store(self, run_id):
        """The store location of the first observer that can be read back (``store_location``)."""
        for observer in self.observers:
            location = getattr(observer, "store_location", None)
            if location is not None:
                return location
        from sacred.continuation import ContinuationError

        raise ContinuationError(
            f"Cannot resume run {run_id!r}: attach the observer of its store first "
            "(none of this experiment's observers can be read back)"
        )

    def run_commandline(self, argv=None) -> Optional[Run]:
        """Parse ``argv`` (default ``sys.argv``) and run the command it names.

        Bad input prints a short error and exits with code 1; ``help`` exits with code 0.
        """
        from docopt import DocoptExit, docopt

        # lazy: keeps `from sacred import Experiment` light
        from sacred.arg_parser import get_config_updates

        argv = ensure_wellformed_argv(argv)
        short_usage, usage, internal_usage = self.get_usage(argv[0] if argv else None)
        try:
            args = docopt(internal_usage, [str(a) for a in argv[1:]], default_help=False)
        except DocoptExit as e:
            print(short_usage, file=sys.stderr)
            print(_docopt_error(e, argv[1:], self.all_cli_options), file=sys.stderr)
            sys.exit(1)

        cmd_name = args.get("COMMAND") or self.default_command
        previous_run = self.current_run
        try:
            config_updates, named_configs = get_config_updates(args["UPDATE"])
        except Exception as e:
            _print_error(e, short_usage)
            sys.exit(1)

        commands = dict(self.gather_commands())
        error = self._command_error(cmd_name, commands)
        if error and not args["help"]:
            print(short_usage)
            print(error)
            sys.exit(1)
        if args["help"] or args["--help"]:
            self._print_help(args["COMMAND"], commands, usage, short_usage)
            sys.exit()

        try:
            return self.run(
                cmd_name,
                config_updates,
                named_configs,
                info={},
                meta_info={},
                options=args,
            )
        except Exception as e:
            run = self.current_run if self.current_run is not previous_run else None
            # without a run (it failed while being created), the flag comes from argv
            if run.debug if run is not None else args.get("--debug", False):
                raise  # --debug: the caller sees the original exception
            if run is not None and run.pdb:
                import pdb
                import traceback

                traceback.print_exception(*sys.exc_info())
                pdb.post_mortem()
                return None
            _print_error(e, short_usage)
            sys.exit(1)

    def open_resource(self, filename, mode="r"):
        """``open`` a file and report it to the observers as a resource of the current run."""
        assert self.current_run is not None, "Can only be called during a run."
        return self.current_run.open_resource(filename, mode)

    def add_resource(self, filename):
        """Report a file the current run reads (observers store it as a resource)."""
        assert self.current_run is not None, "Can only be called during a run."
        self.current_run.add_resource(filename)

    def add_artifact(self, filename, name=None, metadata=None, content_type=None):
        """Report a file the current run produced (observers store it as an artifact)."""
        assert self.current_run is not None, "Can only be called during a run."
        self.current_run.add_artifact(filename, name, metadata, content_type)

    @property
    def info(self):
        """The ``info`` dict of the current run (sent to the observers with each heartbeat)."""
        return self.current_run.info

    def log_scalar(self, name, value, step=None):
        """``Run.log_scalar`` of the current run."""
        self.current_run.log_scalar(name, value, step)

    def post_process_name(self, name, ingredient):
        """Our own commands and named configs go by bare names (``main``, not ``exp.main``)."""
        if ingredient == self:
            return name[len(self.path) + 1 :]
        return name

    def get_default_options(self):
        """``{long flag: False for flags, None for options with a value}``, sorted by flag."""
        return {
            opt.get_flag(): (False if opt.is_flag else None)
            for opt in sorted(self.all_cli_options, key=lambda o: o.get_flag())
        }

    # ------------------------------------------------------------ internals
    def _create_run(
        self,
        command_name=None,
        config_updates=None,
        named_configs=(),
        info=None,
        meta_info=None,
        options=None,
    ):
        # lazy: keeps `from sacred import Experiment` light
        from sacred.initialize import create_run

        command_name = command_name or self.default_command
        if command_name is None:
            raise RuntimeError(
                "No command found to be run. Specify a command or define a main function."
            )

        options = {**self.get_default_options(), **(options or {})}
        for hook in self.option_hooks:
            hook(options=options)

        run = create_run(
            self,
            command_name,
            config_updates,
            named_configs=named_configs,
            force=options.get(commandline_options.force_option.get_flag(), False),
            log_level=options.get(commandline_options.loglevel_option.get_flag(), None),
        )
        if info is not None:
            run.info.update(info)

        run.meta_info.update(
            command=command_name, options=options, named_configs=list(named_configs)
        )
        if config_updates is not None:
            run.meta_info["config_updates"] = config_updates
        run.meta_info.update(meta_info or {})

        for option in self.all_cli_options:
            value = options.get(option.get_flag(), False)
            if value:
                option.apply(value, run)

        self.current_run = run
        return run

    @staticmethod
    def _command_error(cmd_name, commands):
        """The CLI error for a missing or unknown command (None if the command exists)."""
        available = ", ".join(commands)
        if cmd_name is None:
            return (
                "Error: No command found to be run. Specify a command or define main function. "
                f"Available commands are: {available}"
            )
        if cmd_name not in commands:
            return f'Error: Command "{cmd_name}" not found. Available commands are: {available}'
        return None

    def _print_help(self, command, commands, usage, short_usage):
        """The full usage, or the help of one command (an unknown one exits with code 1)."""
        if command is None:
            print(usage)
            return
        error = self._command_error(command, commands)
        if error:
            print(short_usage)
            print(error)
            sys.exit(1)
        # lazy: keeps `from sacred import Experiment` light
        from sacred.commands import help_for_command

        print(help_for_command(commands[command]))


def _name_of_script(caller_globals, interactive):
    """The default experiment name: the defining file's name without ``.py``/``.pyc``."""
    if interactive:
        raise RuntimeError("name is required in interactive mode.")
    filename = caller_globals.get("__file__")
    if filename is None:
        raise RuntimeError(
            "No main-file found. Are you running in interactive mode? "
            "If so please provide a name and set interactive=True."
        )
    name = os.path.basename(filename)
    for suffix in (".py", ".pyc"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _has_user_frame(exc):
    """Whether the traceback of ``exc`` passes through code outside Sacred and the libraries."""
    import sysconfig
    import traceback

    library_dirs = {
        os.path.realpath(p)
        for p in {sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib", "purelib")}
        if p
    }
    sacred_dir = os.path.dirname(os.path.realpath(__file__))
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        for frame, _ in traceback.walk_tb(exc.__traceback__):
            if frame.f_globals.get("__name__", "").split(".")[0] == "sacred":
                continue
            filename = os.path.realpath(frame.f_code.co_filename)
            if filename.startswith(sacred_dir):
                continue
            if any(filename.startswith(d + os.sep) for d in library_dirs):
                continue
            if frame.f_code.co_filename.startswith("<frozen"):
                continue
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _print_error(e, short_usage):
    """Print an error of a command-line run to stderr, without Sacred's internals."""
    import traceback

    if isinstance(e, SacredError):
        print(format_sacred_error(e, short_usage), file=sys.stderr)
    elif _has_user_frame(e):
        print(format_filtered_stacktrace(), file=sys.stderr)
    else:
        # raised by Sacred or a library because of bad input: one paragraph, no traceback
        print("".join(traceback.format_exception_only(type(e), e)), file=sys.stderr)


def _docopt_error(e, args, options):
    """A one-line explanation of why docopt rejected the command line."""
    known = {"-h", "--help"}
    for opt in options:
        known.update(f for f in opt.get_flags() if f)
    for arg in args:
        if arg == "--":
            break
        if not arg.startswith("-") or arg == "-" or arg[1:2].isdigit():
            continue
        if arg.startswith("--"):
            flag = arg.split("=", 1)[0]
            if flag not in known:
                return f'Error: Unknown option "{flag}".'
        elif f"-{arg[1:2]}" not in known:
            return f'Error: Unknown option "-{arg[1:2]}".'
    text = str(e.code if e.code is not None else "")
    usage = (type(e).usage or "").strip()
    message = text[: -len(usage)].strip() if usage and text.endswith(usage) else text.strip()
    if message and not message.startswith("Warning: found unmatched"):
        return f"Error: {message}"
    return "Error: The command line does not match the usage above."


def gather_command_line_options(filter_disabled=None) -> List[CLIOption]:
    """The built-in and legacy (class-based) options, sorted by option name.

    Disabled legacy options are left out unless ``SETTINGS.COMMAND_LINE.SHOW_DISABLED_OPTIONS``.
    """
    if filter_disabled is None:
        filter_disabled = not SETTINGS.COMMAND_LINE.SHOW_DISABLED_OPTIONS

    legacy = commandline_options.gather_legacy_options(filter_disabled)
    return sorted([*legacy, *DEFAULT_COMMAND_LINE_OPTIONS], key=commandline_options.get_name)


# every option a plain Experiment offers (gcs_option is only added on request)
DEFAULT_COMMAND_LINE_OPTIONS = [
    commandline_options.beat_interval_option,
    commandline_options.capture_option,
    commandline_options.comment_option,
    commandline_options.debug_option,
    commandline_options.enforce_clean_option,
    file_storage_option,
    commandline_options.force_option,
    commandline_options.help_option,
    commandline_options.id_option,
    commandline_options.loglevel_option,
    mongo_db_option,
    commandline_options.name_option,
    commandline_options.pdb_option,
    commandline_options.print_config_option,
    commandline_options.priority_option,
    commandline_options.queue_option,
    s3_option,
    sql_option,
    tiny_db_option,
    commandline_options.unobserved_option,
]
