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
        # lazy: keeps `from sacred import Experiment` light
        from sacred.dependencies import gather_sources_and_dependencies

        self.path = path
        self.ingredients = list(ingredients)
        self.configurations = []  # ConfigScopes and ConfigDicts, in order
        self.named_configs = {}
        self.config_hooks = []
        self.captured_functions = []
        self.pre_run_hooks = []
        self.post_run_hooks = []
        self.commands = OrderedDict()
        self.logger = None
        self.save_git_info = save_git_info
        self._is_traversing = False  # guards traverse_ingredients against cycles
        # the defining module's globals (inspect.stack() would read every source file)
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
            # without a file, the code of the experiment cannot be stored
            raise RuntimeError(
                "Defining an experiment in interactive mode! "
                "The sourcecode cannot be stored and the "
                "experiment won't be reproducible. If you still"
                " want to run it pass interactive=True"
            )
        self._info_cache = None  # see get_experiment_info

    # ------------------------------------------------------------ decorators
    @optional_kwargs_decorator
    def capture(self, function=None, prefix=None):
        """Wrap ``function`` so that arguments not passed explicitly are filled from the config."""
        # lazy: keeps `from sacred import Experiment` light
        from sacred.config.captured_function import create_captured_function

        if function in self.captured_functions:
            return function
        captured_function = create_captured_function(function, prefix=prefix)
        self.captured_functions.append(captured_function)
        return captured_function

    @optional_kwargs_decorator
    def pre_run_hook(self, func, prefix=None):
        """Capture ``func``; every run calls it (without arguments) before the command."""
        captured = self.capture(func, prefix=prefix)
        self.pre_run_hooks.append(captured)
        return captured

    @optional_kwargs_decorator
    def post_run_hook(self, func, prefix=None):
        """Capture ``func``; every successful run calls it (without arguments) afterwards."""
        captured = self.capture(func, prefix=prefix)
        self.post_run_hooks.append(captured)
        return captured

    @optional_kwargs_decorator
    def command(self, function=None, prefix=None, unobserved=False):
        """Capture ``function`` and offer it as a command (``python script.py <name>``)."""
        captured = self.capture(function, prefix=prefix)
        captured.unobserved = unobserved  # runs of unobserved commands skip the observers
        self.commands[function.__name__] = captured
        return captured

    def config(self, function):
        """Turn ``function``'s body into a config scope; returns the ``ConfigScope``."""
        # lazy: keeps `from sacred import Experiment` light
        from sacred.config.config_scope import ConfigScope

        scope = ConfigScope(function)
        self.configurations.append(scope)
        return scope

    def named_config(self, func):
        """A config scope that only applies when its name is selected (``with <name>``)."""
        # lazy: keeps `from sacred import Experiment` light
        from sacred.config.config_scope import ConfigScope

        scope = ConfigScope(func)
        self._add_named_config(func.__name__, scope)
        return scope

    def config_hook(self, func):
        """Register ``func(config, command_name, logger)``; the dict it returns updates the config."""
        spec = inspect.getfullargspec(func)
        exact = (
            spec.args == ["config", "command_name", "logger"]
            and spec.varargs is None
            and not spec.kwonlyargs
            and spec.defaults is None
        )
        if not exact:
            raise ValueError(
                "Wrong signature for config_hook. Expected: (config, command_name, logger)"
            )
        self.config_hooks.append(func)
        return func

    # ------------------------------------------------------------ methods
    def add_config(self, cfg_or_file=None, **kw_conf):
        """Add fixed config values: a dict, the name of a config file, or keyword arguments."""
        self.configurations.append(_config_dict(cfg_or_file, kw_conf))

    def add_named_config(self, name, cfg_or_file=None, **kw_conf):
        """Like ``add_config``, but only applied when ``name`` is selected."""
        self._add_named_config(name, _config_dict(cfg_or_file, kw_conf))

    def _add_named_config(self, name, conf):
        """Register ``conf``: anything callable as ``conf(fixed=, preset=, fallback=)``."""
        if name in self.named_configs:
            raise KeyError(f'Configuration name "{name}" already in use!')
        self.named_configs[name] = conf

    def add_source_file(self, filename):
        """Record an extra source file (observers store it with every run)."""
        # lazy: keeps `from sacred import Experiment` light
        from sacred.dependencies import Source

        if not os.path.isfile(filename):
            raise ValueError(f'invalid filename or file not found "{filename}"')
        self.sources.add(Source.create(filename, self.save_git_info))
        self._info_cache = None

    def add_package_dependency(self, package_name, version):
        """Record a package dependency with an explicit (PEP 440) version."""
        # lazy: keeps `from sacred import Experiment` light
        from sacred.dependencies import PEP440_VERSION_PATTERN, PackageDependency

        if not PEP440_VERSION_PATTERN.match(version):
            raise ValueError(f'Invalid Version: "{version}"')
        self.dependencies.add(PackageDependency(package_name, version))
        self._info_cache = None

    def post_process_name(self, name, ingredient):
        """The public name of a gathered command or named config (unchanged here)."""
        return name

    def gather_commands(self):
        """``(dotted name, captured function)`` of every command, ingredients in pre-order."""
        yield from self._gather("commands")

    def gather_named_configs(self):
        """``(dotted name, named config)`` of every named config, ingredients in pre-order."""
        yield from self._gather("named_configs")

    def _gather(self, attribute):
        for ingredient, _ in self.traverse_ingredients():
            for name, item in getattr(ingredient, attribute).items():
                yield self.post_process_name(join_paths(ingredient.path, name), ingredient), item

    def get_experiment_info(self):
        """Name, base_dir, sources, dependencies, repositories and main file of the experiment.

        Finding package versions is slow, so the result is cached until an ingredient gains
        a source file or a dependency. Every call returns fresh lists.
        """
        ingredients = [ing for ing, _ in self.traverse_ingredients()]
        key = (
            self.path,
            self.base_dir,
            tuple((id(i), len(i.sources), len(i.dependencies)) for i in ingredients),
        )
        if self._info_cache is None or self._info_cache[0] != key:
            self._info_cache = (key, self._describe(ingredients))
        info = self._info_cache[1]
        return dict(
            info,
            sources=list(info["sources"]),
            dependencies=list(info["dependencies"]),
            repositories=[dict(r) for r in info["repositories"]],
        )

    def _describe(self, ingredients):
        sources = sorted(set().union(*(i.sources for i in ingredients)), key=lambda s: s.filename)
        packages = set().union(*(i.dependencies for i in ingredients))
        for package in packages:
            package.fill_missing_version()
        return {
            "name": self.path,
            "base_dir": self.base_dir,
            "sources": [source.to_json(self.base_dir) for source in sources],
            "dependencies": [p.to_json() for p in sorted(packages, key=lambda p: p.name.lower())],
            "repositories": collect_repositories(sources),
            "mainfile": None if self.mainfile is None else self.mainfile.to_json(self.base_dir)[0],
        }

    def traverse_ingredients(self):
        """``(ingredient, depth)`` for this ingredient (depth 0) and everything below, pre-order.

        An ingredient that (indirectly) contains itself raises CircularDependencyError.
        """
        if self._is_traversing:  # we are our own descendant
            raise CircularDependencyError(ingredients=[self])
        self._is_traversing = True
        try:
            yield self, 0
            # the error collects the chain of ingredients on its way up
            with CircularDependencyError.track(self):
                for child in self.ingredients:
                    yield from ((ing, depth + 1) for ing, depth in child.traverse_ingredients())
        finally:
            self._is_traversing = False


def _config_dict(cfg_or_file, kw_conf):
    """A ConfigDict from exactly one of: a dict, a config file name, keyword arguments."""
    # lazy: keeps `from sacred import Experiment` light
    from sacred.config.config_dict import ConfigDict

    if cfg_or_file is None:
        if not kw_conf:
            raise ValueError("attempted to add empty config")
        return ConfigDict(kw_conf)
    if kw_conf:
        raise ValueError("cannot combine keyword config with positional argument")
    if isinstance(cfg_or_file, dict):
        return ConfigDict(cfg_or_file)
    if not isinstance(cfg_or_file, str):
        raise TypeError(f"Invalid argument type {type(cfg_or_file)}")
    if not os.path.exists(cfg_or_file):
        raise OSError(f"File not found {cfg_or_file}")
    # lazy: keeps `from sacred import Experiment` light
    from sacred.config.config_files import load_config_file

    return ConfigDict(load_config_file(os.path.abspath(cfg_or_file)))
