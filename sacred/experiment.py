"""The Experiment: the central ingredient that can be run, from Python or the command line."""

import os.path
import sys
from collections import OrderedDict
from typing import List, Optional, Sequence

from sacred import commandline_options
from sacred.commandline_options import CLIOption
from sacred.commands import print_config, print_dependencies, print_named_configs, save_config
from sacred.ingredient import Ingredient
from sacred.observers.file_storage import file_storage_option
from sacred.observers.mongo import mongo_db_option
from sacred.observers.s3_observer import s3_option
from sacred.observers.sql import sql_option
from sacred.observers.tinydb_hashfs import tiny_db_option
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
    """The central class for each experiment in Sacred.

    It manages the configuration, the main function, captured methods, observers,
    commands, and further ingredients.
    """

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
        from sacred.host_info import check_additional_host_info

        self.additional_host_info = additional_host_info or []
        check_additional_host_info(self.additional_host_info)
        self.additional_cli_options = additional_cli_options or []
        self.all_cli_options = gather_command_line_options() + list(self.additional_cli_options)
        caller_globals = sys._getframe(1).f_globals
        if name is None:
            if interactive:
                raise RuntimeError("name is required in interactive mode.")
            mainfile = caller_globals.get("__file__")
            if mainfile is None:
                raise RuntimeError(
                    "No main-file found. Are you running in "
                    "interactive mode? If so please provide a "
                    "name and set interactive=True."
                )
            name = os.path.basename(mainfile)
            if name.endswith(".py"):
                name = name[:-3]
            elif name.endswith(".pyc"):
                name = name[:-4]
        super().__init__(
            path=name,
            ingredients=ingredients,
            interactive=interactive,
            base_dir=base_dir,
            _caller_globals=caller_globals,
            save_git_info=save_git_info,
        )
        self.default_command = None
        self.command(print_config, unobserved=True)
        self.command(print_dependencies, unobserved=True)
        self.command(save_config, unobserved=True)
        self.command(print_named_configs(self), unobserved=True)
        self.observers = []
        self.current_run = None
        self.captured_out_filter = None
        """Filter function to be applied to captured output of a run"""
        self.option_hooks = []

    # =========================== Decorators ==================================

    def main(self, function):
        """Decorator to define the main function of the experiment (the default command)."""
        captured = self.command(function)
        self.default_command = captured.__name__
        return captured

    def automain(self, function):
        """Like ``main``, but also runs the command line right away if the file is the script.

        It must therefore be the last thing in the file.
        """
        captured = self.main(function)
        if function.__module__ == "__main__":
            # Ensure that automain is not used in interactive mode.
            import inspect

            main_filename = inspect.getfile(function)
            if main_filename == "<stdin>" or (
                main_filename.startswith("<ipython-input-") and main_filename.endswith(">")
            ):
                raise RuntimeError(
                    "Cannot use @ex.automain decorator in interactive mode. Use @ex.main instead."
                )

            self.run_commandline()
        return captured

    def option_hook(self, function):
        """Register ``function(options)``: it sees (and may change) the options of each run."""
        from sacred.config.signature import Signature

        sig = Signature(function)
        if "options" not in sig.arguments:
            raise KeyError(
                "option_hook functions must have an argument called 'options', "
                f"but got {sig.arguments}"
            )
        self.option_hooks.append(function)
        return function

    # =========================== Public Interface ============================

    def get_usage(self, program_name=None):
        """Get the commandline usage string for this experiment."""
        from sacred.arg_parser import format_usage, printable_usage

        program_name = os.path.relpath(program_name or sys.argv[0] or "Dummy", self.base_dir)
        commands = OrderedDict(self.gather_commands())
        long_usage = format_usage(program_name, self.doc, commands, self.all_cli_options)
        # internal usage is a workaround because docopt cannot handle spaces
        # in program names. So for parsing we use 'dummy' as the program name.
        # for printing help etc. we want to use the actual program name.
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
    ) -> Run:
        """Run the main function (or the given command) and return the Run object."""
        run = self._create_run(
            command_name=command_name,
            config_updates=config_updates,
            named_configs=named_configs,
            info=info,
            meta_info=meta_info,
            options=options,
        )
        run()
        return run

    def run_commandline(self, argv=None) -> Optional[Run]:
        """Run the command line interface of this experiment (``argv`` defaults to sys.argv).

        Bad input prints a short error and exits with code 1; ``help`` exits with code 0.
        """
        from docopt import DocoptExit, docopt

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

        err = self._check_command(cmd_name)
        if not args["help"] and err:
            print(short_usage)
            print(err)
            sys.exit(1)

        if self._handle_help(args, usage, short_usage):
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
            if run is not None:
                debug = run.debug
            else:
                # the run was not built: take the flag from the command line
                debug = args.get("--debug", False)

            if debug:
                # Debug: Don't change behavior, just re-raise exception
                raise
            elif run is not None and run.pdb:
                # Print exception and attach pdb debugger
                import pdb
                import traceback

                traceback.print_exception(*sys.exc_info())
                pdb.post_mortem()
            else:
                _print_error(e, short_usage)
                sys.exit(1)

    def open_resource(self, filename, mode="r"):
        """Open a file and also save it as a resource (needs a running experiment)."""
        assert self.current_run is not None, "Can only be called during a run."
        return self.current_run.open_resource(filename, mode)

    def add_resource(self, filename):
        """Add a file as a resource (needs a running experiment)."""
        assert self.current_run is not None, "Can only be called during a run."
        self.current_run.add_resource(filename)

    def add_artifact(self, filename, name=None, metadata=None, content_type=None):
        """Add a file as an artifact (needs a running experiment)."""
        assert self.current_run is not None, "Can only be called during a run."
        self.current_run.add_artifact(filename, name, metadata, content_type)

    @property
    def info(self):
        """Access the info-dict for storing custom information (only during a run)."""
        return self.current_run.info

    def log_scalar(self, name, value, step=None):
        """Add a new measurement of a scalar metric to the current run."""
        # Method added in change https://github.com/chovanecm/sacred/issues/4
        # The same as Run.log_scalar
        self.current_run.log_scalar(name, value, step)

    def post_process_name(self, name, ingredient):
        if ingredient == self:
            # Removes the experiment's path (prefix) from the names
            # of the gathered items. This means that, for example,
            # 'experiment.print_config' becomes 'print_config'.
            return name[len(self.path) + 1 :]
        return name

    def get_default_options(self):
        """Get a dictionary of default options as used with run.

        Returns
        -------
        dict
            A dictionary containing option keys of the form '--beat_interval'.
            Their values are boolean if the option is a flag, otherwise None or
            its default value.
        """
        return {
            opt.get_flag(): (False if opt.is_flag else None)
            for opt in sorted(self.all_cli_options, key=lambda o: o.get_flag())
        }

    # =========================== Internal Interface ==========================

    def _create_run(
        self,
        command_name=None,
        config_updates=None,
        named_configs=(),
        info=None,
        meta_info=None,
        options=None,
    ):
        from sacred.initialize import create_run

        command_name = command_name or self.default_command
        if command_name is None:
            raise RuntimeError(
                "No command found to be run. Specify a command or define a main function."
            )

        default_options = self.get_default_options()
        if options:
            default_options.update(options)
        options = default_options

        # call option hooks
        for oh in self.option_hooks:
            oh(options=options)

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

        run.meta_info["command"] = command_name
        run.meta_info["options"] = options
        run.meta_info["named_configs"] = list(named_configs)
        if config_updates is not None:
            run.meta_info["config_updates"] = config_updates

        if meta_info:
            run.meta_info.update(meta_info)

        options_list = self.all_cli_options
        for option in options_list:
            option_value = options.get(option.get_flag(), False)
            if option_value:
                option.apply(option_value, run)

        self.current_run = run
        return run

    def _check_command(self, cmd_name):
        commands = dict(self.gather_commands())
        if cmd_name is not None and cmd_name not in commands:
            return (
                f'Error: Command "{cmd_name}" not found. '
                f"Available commands are: {', '.join(commands.keys())}"
            )

        if cmd_name is None:
            return (
                "Error: No command found to be run. Specify a command"
                f" or define main function. Available commands"
                f" are: {', '.join(commands.keys())}"
            )

    def _handle_help(self, args, usage, short_usage):
        if args["help"] or args["--help"]:
            if args["COMMAND"] is None:
                print(usage)
                return True
            from sacred.commands import help_for_command

            commands = dict(self.gather_commands())
            if args["COMMAND"] not in commands:
                print(short_usage)
                print(
                    f'Error: Command "{args["COMMAND"]}" not found. '
                    f"Available commands are: {', '.join(commands.keys())}"
                )
                sys.exit(1)
            print(help_for_command(commands[args["COMMAND"]]))
            return True
        return False


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
    """Get a sorted list of all CommandLineOption subclasses."""
    if filter_disabled is None:
        filter_disabled = not SETTINGS.COMMAND_LINE.SHOW_DISABLED_OPTIONS

    options = list(commandline_options.gather_legacy_options(filter_disabled))
    options += DEFAULT_COMMAND_LINE_OPTIONS

    return sorted(options, key=commandline_options.get_name)


DEFAULT_COMMAND_LINE_OPTIONS = [
    s3_option,
    commandline_options.pdb_option,
    commandline_options.debug_option,
    file_storage_option,
    commandline_options.loglevel_option,
    mongo_db_option,
    sql_option,
    commandline_options.capture_option,
    commandline_options.help_option,
    commandline_options.print_config_option,
    commandline_options.name_option,
    commandline_options.id_option,
    commandline_options.priority_option,
    commandline_options.unobserved_option,
    commandline_options.queue_option,
    commandline_options.force_option,
    commandline_options.comment_option,
    tiny_db_option,
    commandline_options.enforce_clean_option,
    commandline_options.beat_interval_option,
]
