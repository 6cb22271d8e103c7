"""Ingredient: a reusable bundle of configuration, captured functions and commands."""

import inspect
import os
import sys
from collections import OrderedDict

from sacred.utils import CircularDependencyError, join_paths, optional_kwargs_decorator

__all__ = ("Ingredient", "collect_repositories")


def collect_repositories(sources):
    """One ``{"url", "commit", "dirty"}`` dict per source file that lives in a repository."""
    return [
        {"url": s.repo, "commit": s.commit, "dirty": s.is_dirty}
        for s in sources
        if getattr(s, "repo", None)
    ]


class Ingredient:
    """Configuration scopes, captured functions and commands under a (dotted) path.

    An experiment is an ingredient too; ingredients can contain other ingredients.
    """

    def __init__(
        self,
        path,
        ingredients=(),
        interactive=False,
        _caller_globals=None,
        base_dir=None,
        save_git_info=True,
    ):
        from sacred.dependencies import gather_sources_and_dependencies

        self.path = path
        self.config_hooks = []
        self.configurations = []
        self.named_configs = {}
        self.ingredients = list(ingredients)
        self.logger = None
        self.captured_functions = []
        self.post_run_hooks = []
        self.pre_run_hooks = []
        self._is_traversing = False
        self.commands = OrderedDict()
        self.save_git_info = save_git_info
        # sys._getframe is what inspect.stack()[1][0] gives, without reading every source file
        if _caller_globals is None:
            _caller_globals = sys._getframe(1).f_globals
        if base_dir is None:
            base_dir = os.path.dirname(_caller_globals.get("__file__", "."))
        self.base_dir = os.path.abspath(base_dir)
        self.doc = _caller_globals.get("__doc__", "")
        (self.mainfile, self.sources, self.dependencies) = gather_sources_and_dependencies(
            _caller_globals, save_git_info, self.base_dir
        )
        if self.mainfile is None and not interactive:
            raise RuntimeError(
                "Defining an experiment in interactive mode! "
                "The sourcecode cannot be stored and the "
                "experiment won't be reproducible. If you still"
                " want to run it pass interactive=True"
            )
        self._info_cache = None

    # ------------------------------------------------------------ decorators
    @optional_kwargs_decorator
    def capture(self, function=None, prefix=None):
        """Make ``function`` a captured function: its free parameters come from the config."""
        from sacred.config.captured_function import create_captured_function

        if function in self.captured_functions:
            return function
        captured_function = create_captured_function(function, prefix=prefix)
        self.captured_functions.append(captured_function)
        return captured_function

    @optional_kwargs_decorator
    def pre_run_hook(self, func, prefix=None):
        """Capture ``func`` and run it (without arguments) right before the main function."""
        cf = self.capture(func, prefix=prefix)
        self.pre_run_hooks.append(cf)
        return cf

    @optional_kwargs_decorator
    def post_run_hook(self, func, prefix=None):
        """Capture ``func`` and run it (without arguments) right after the main function."""
        cf = self.capture(func, prefix=prefix)
        self.post_run_hooks.append(cf)
        return cf

    @optional_kwargs_decorator
    def command(self, function=None, prefix=None, unobserved=False):
        """Register a command that can be run from the command line (``python x.py name``)."""
        captured_f = self.capture(function, prefix=prefix)
        captured_f.unobserved = unobserved
        self.commands[function.__name__] = captured_f
        return captured_f

    def config(self, function):
        """Add a config scope; returns the ``ConfigScope`` (not the function)."""
        from sacred.config.config_scope import ConfigScope

        self.configurations.append(ConfigScope(function))
        self._info_cache = None
        return self.configurations[-1]

    def named_config(self, func):
        """Register a config scope that is only used when selected by name."""
        from sacred.config.config_scope import ConfigScope

        config_scope = ConfigScope(func)
        self._add_named_config(func.__name__, config_scope)
        return config_scope

    def config_hook(self, func):
        """Register ``func(config, command_name, logger) -> dict`` to update the config."""
        argspec = inspect.getfullargspec(func)
        args = ["config", "command_name", "logger"]
        if not (
            argspec.args == args
            and argspec.varargs is None
            and not argspec.kwonlyargs
            and argspec.defaults is None
        ):
            raise ValueError(
                "Wrong signature for config_hook. Expected: (config, command_name, logger)"
            )
        self.config_hooks.append(func)
        return self.config_hooks[-1]

    # ------------------------------------------------------------ methods
    def add_config(self, cfg_or_file=None, **kw_conf):
        """Add a configuration entry from a dict, a file name or keyword arguments."""
        self.configurations.append(self._create_config_dict(cfg_or_file, kw_conf))

    def add_named_config(self, name, cfg_or_file=None, **kw_conf):
        """Add a named configuration from a dict, a file name or keyword arguments."""
        self._add_named_config(name, self._create_config_dict(cfg_or_file, kw_conf))

    def _add_named_config(self, name, conf):
        """Register ``conf``: anything callable as ``conf(fixed=, preset=, fallback=)``."""
        if name in self.named_configs:
            raise KeyError(f'Configuration name "{name}" already in use!')
        self.named_configs[name] = conf

    @staticmethod
    def _create_config_dict(cfg_or_file, kw_conf):
        from sacred.config.config_dict import ConfigDict

        if cfg_or_file is not None and kw_conf:
            raise ValueError("cannot combine keyword config with positional argument")
        if cfg_or_file is None:
            if not kw_conf:
                raise ValueError("attempted to add empty config")
            return ConfigDict(kw_conf)
        if isinstance(cfg_or_file, dict):
            return ConfigDict(cfg_or_file)
        if isinstance(cfg_or_file, str):
            if not os.path.exists(cfg_or_file):
                raise OSError(f"File not found {cfg_or_file}")
            from sacred.config.config_files import load_config_file

            return ConfigDict(load_config_file(os.path.abspath(cfg_or_file)))
        raise TypeError(f"Invalid argument type {type(cfg_or_file)}")

    def add_source_file(self, filename):
        """Store this file as a source of the experiment (and copy it with the run)."""
        from sacred.dependencies import Source

        if not os.path.isfile(filename):
            raise ValueError(f'invalid filename or file not found "{filename}"')
        self.sources.add(Source.create(filename, self.save_git_info))
        self._info_cache = None

    def add_package_dependency(self, package_name, version):
        """Record a package dependency with an explicit (PEP 440) version."""
        from sacred.dependencies import PEP440_VERSION_PATTERN, PackageDependency

        if not PEP440_VERSION_PATTERN.match(version):
            raise ValueError(f'Invalid Version: "{version}"')
        self.dependencies.add(PackageDependency(package_name, version))
        self._info_cache = None

    def post_process_name(self, name, ingredient):
        """Hook to adjust the names of commands and named configs (Experiment strips its own)."""
        return name

    def gather_commands(self):
        """Yield ``(dotted command name, captured function)`` for all ingredients, pre-order."""
        for ingredient, _ in self.traverse_ingredients():
            for command_name, command in ingredient.commands.items():
                cmd_name = join_paths(ingredient.path, command_name)
                yield self.post_process_name(cmd_name, ingredient), command

    def gather_named_configs(self):
        """Yield ``(dotted name, named config)`` for all ingredients, pre-order."""
        for ingredient, _ in self.traverse_ingredients():
            for config_name, config in ingredient.named_configs.items():
                config_name = join_paths(ingredient.path, config_name)
                yield self.post_process_name(config_name, ingredient), config

    def get_experiment_info(self):
        """Name, base_dir, sources, dependencies, repositories and main file of the experiment.

        The result is cached (finding versions is slow) and recomputed when an ingredient
        gains a source file or a dependency; every call returns fresh lists.
        """
        ingredients = [ing for ing, _ in self.traverse_ingredients()]
        key = (
            self.path,
            self.base_dir,
            tuple((id(i), len(i.sources), len(i.dependencies)) for i in ingredients),
        )
        if self._info_cache is None or self._info_cache[0] != key:
            dependencies = set()
            sources = set()
            for ing in ingredients:
                dependencies |= ing.dependencies
                sources |= ing.sources
            for dep in dependencies:
                dep.fill_missing_version()
            sorted_sources = sorted(sources, key=lambda s: s.filename)
            mainfile = None
            if self.mainfile is not None:
                mainfile = self.mainfile.to_json(self.base_dir)[0]
            info = dict(
                name=self.path,
                base_dir=self.base_dir,
                sources=[s.to_json(self.base_dir) for s in sorted_sources],
                dependencies=[
                    d.to_json() for d in sorted(dependencies, key=lambda d: d.name.lower())
                ],
                repositories=collect_repositories(sorted_sources),
                mainfile=mainfile,
            )
            self._info_cache = (key, info)
        info = self._info_cache[1]
        return dict(
            info,
            sources=list(info["sources"]),
            dependencies=list(info["dependencies"]),
            repositories=[dict(r) for r in info["repositories"]],
        )

    def traverse_ingredients(self):
        """Yield ``(ingredient, depth)`` for this ingredient and all sub-ingredients, pre-order.

        Raises CircularDependencyError if an ingredient contains itself (indirectly).
        """
        if self._is_traversing:
            raise CircularDependencyError(ingredients=[self])
        self._is_traversing = True
        try:
            yield self, 0
            with CircularDependencyError.track(self):
                for ingredient in self.ingredients:
                    for ingred, depth in ingredient.traverse_ingredients():
                        yield ingred, depth + 1
        finally:
            self._is_traversing = False
