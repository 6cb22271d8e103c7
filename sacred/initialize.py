"""The configuration process: from an experiment, updates and named configs to a ``Run``.

One ``Scaffold`` per ingredient holds that ingredient's part of the configuration while
it is assembled. The phases (see ``create_run``) are: distribute config updates, evaluate
named configs, evaluate the config scopes (deepest ingredients first), draw the seeds,
and finally hand the config to the captured functions.
"""

import os
from collections import OrderedDict, defaultdict
from copy import copy, deepcopy

from sacred.settings import SETTINGS
from sacred.utils import (
    ConfigAddedError,
    NamedConfigNotFoundError,
    convert_to_nested_dict,
    create_basic_stream_logger,
    get_by_dotted_path,
    is_prefix,
    iter_prefixes,
    iterate_flattened,
    join_paths,
    recursive_update,
    rel_path,
    set_by_dotted_path,
)

__all__ = ("Scaffold", "create_run")

_CONFIG_FILE_EXTENSIONS = (".json", ".pickle", ".yaml", ".yml")


class Scaffold:
    """The configuration of one ingredient while the configuration process runs."""

    def __init__(
        self,
        config_scopes,
        subrunners,
        path,
        captured_functions,
        commands,
        named_configs,
        config_hooks,
        generate_seed,
    ):
        self.config_scopes = config_scopes
        self.named_configs = named_configs
        self.subrunners = subrunners
        self.path = path
        self.generate_seed = generate_seed
        self.config_hooks = config_hooks
        self.config_updates = {}
        self.named_configs_to_use = []
        self.config = {}
        self.fallback = None
        self.presets = {}
        self.fixture = None
        self.logger = None
        self.seed = None
        self.rnd = None
        self._captured_functions = captured_functions
        self.commands = commands
        self.config_mods = None
        self.summaries = []
        self.captured_args = {
            join_paths(cf.prefix, n)
            for cf in self._captured_functions
            for n in cf.signature.arguments
        }
        self.captured_args.add("__doc__")

    def set_up_seed(self, rnd=None):
        """Choose this scaffold's seed (from the config, the parent's rnd or at random)."""
        from sacred.randomness import create_deferred_rnd, deferred_seed

        if self.seed is not None:
            return
        self.seed = self.config.get("seed")
        if self.seed is None:
            self.seed = deferred_seed(rnd)
        self.rnd = create_deferred_rnd(self.seed)
        if self.generate_seed:
            self.config["seed"] = self.seed
        if "seed" in self.config and "seed" in self.config_mods.added:
            # an update of the seed is a modification, not a new entry
            self.config_mods.modified.add("seed")
            self.config_mods.added.discard("seed")
        # sub-ingredients draw their seeds from ours, so one root seed decides everything
        for subrunner in reversed(list(self.subrunners.values())):
            subrunner.set_up_seed(self.rnd)

    def gather_fallbacks(self):
        """The read-only view of logger and sub-ingredient configs that config scopes see."""
        from sacred.config.utils import dogmatize

        fallback = {"_log": self.logger}
        for sr_path, subrunner in self.subrunners.items():
            if self.path and is_prefix(self.path, sr_path):
                path = sr_path[len(self.path) :].strip(".")
            else:
                path = sr_path
            set_by_dotted_path(fallback, path, subrunner.config)
        self.fallback = dogmatize(fallback)
        self.fallback.revelation()

    def run_named_config(self, config_name):
        """Evaluate one named config (or config file) and return its values as plain dicts."""
        from sacred.config.utils import undogmatize

        if os.path.isfile(config_name):
            from sacred.config.config_dict import ConfigDict
            from sacred.config.config_files import load_config_file

            nc = ConfigDict(load_config_file(config_name))
        else:
            if config_name not in self.named_configs:
                raise NamedConfigNotFoundError(
                    named_config=join_paths(self.path, config_name),
                    available_named_configs=tuple(self.named_configs.keys()),
                )
            nc = self.named_configs[config_name]
        cfg = nc(
            fixed=self.get_config_updates_recursive(),
            preset=self.presets,
            fallback=self.fallback,
        )
        return undogmatize(cfg)

    def set_up_config(self):
        """Evaluate the config scopes with the updates fixed; returns the config."""
        from sacred.config.utils import chain_evaluate_config_scopes

        self.config, self.summaries = chain_evaluate_config_scopes(
            self.config_scopes,
            fixed=self.config_updates,
            preset=self.config,
            fallback=self.fallback,
        )
        self.get_config_modifications()
        return self.config

    def run_config_hooks(self, config, command_name, logger):
        """Updates from all config hooks, followed by this scaffold's own config updates."""
        final_cfg_updates = {}
        for hook in self.config_hooks:
            cfg_upup = hook(deepcopy(config), command_name, logger)
            if cfg_upup is None:
                continue
            if not isinstance(cfg_upup, dict):
                raise TypeError(
                    f"config hook {getattr(hook, '__name__', hook)} must return a dict or "
                    f"None, but returned {type(cfg_upup).__name__}"
                )
            recursive_update(final_cfg_updates, cfg_upup)
        recursive_update(final_cfg_updates, self.config_updates)
        return final_cfg_updates

    def get_config_modifications(self):
        from sacred.config.config_summary import ConfigSummary

        self.config_mods = ConfigSummary(
            added={key for key, _ in iterate_flattened(self.config_updates)}
        )
        for cfg_summary in self.summaries:
            self.config_mods.update_from(cfg_summary)

    def get_config_updates_recursive(self):
        """This scaffold's updates plus those of its sub-ingredients at relative paths."""
        config_updates = copy(self.config_updates)
        for sr_path, subrunner in self.subrunners.items():
            if not is_prefix(self.path, sr_path):
                continue
            update = subrunner.get_config_updates_recursive()
            if update:
                config_updates[rel_path(self.path, sr_path)] = update
        return config_updates

    def get_fixture(self):
        """This scaffold's config plus all sub-ingredient configs at relative paths."""
        if self.fixture is not None:
            return self.fixture

        def get_fixture_recursive(runner):
            for sr_path, subrunner in runner.subrunners.items():
                subrunner.get_fixture()
                get_fixture_recursive(subrunner)
                sub_fix = copy(subrunner.config)
                sub_path = sr_path
                if is_prefix(self.path, sub_path):
                    sub_path = sr_path[len(self.path) :].strip(".")
                set_by_dotted_path(self.fixture, sub_path, sub_fix)

        self.fixture = copy(self.config)
        get_fixture_recursive(self)
        return self.fixture

    def finalize_initialization(self, run):
        """Give every captured function its logger, rnd, run and (read-only) config."""
        from sacred.randomness import create_deferred_rnd, deferred_seed

        # the seed may have been changed by a config hook
        if "seed" in self.config:
            self.seed = self.config["seed"]
        self.rnd = create_deferred_rnd(self.seed)
        read_only = SETTINGS.CONFIG.READ_ONLY_CONFIG
        if read_only:
            from sacred.config.custom_containers import make_read_only
        configs_by_prefix = {}  # functions with the same prefix share one read-only copy
        for cfunc in self._captured_functions:
            cfunc.logger = self.logger.getChild(cfunc.__name__)
            cfunc.rnd = create_deferred_rnd(deferred_seed(self.rnd))
            cfunc.run = run
            prefix = cfunc.prefix
            if prefix not in configs_by_prefix:
                cfg = get_by_dotted_path(self.get_fixture(), prefix, default={})
                configs_by_prefix[prefix] = make_read_only(cfg) if read_only else cfg
            cfunc.config = configs_by_prefix[prefix]
        if not run.force:
            self._warn_about_suspicious_changes()

    def _warn_about_suspicious_changes(self):
        for add in sorted(self.config_mods.added):
            if not set(iter_prefixes(add)).intersection(self.captured_args):
                config = self.config
                if self.path:
                    add = join_paths(self.path, add)
                    config = {}
                    set_by_dotted_path(config, self.path, self.config)
                raise ConfigAddedError(add, config=config)
            self.logger.warning('Added new config entry: "%s"', add)

        for key, (type_old, type_new) in self.config_mods.typechanged.items():
            if type_old in (int, float) and type_new in (int, float):
                continue
            self.logger.warning(
                'Changed type of config entry "%s" from %s to %s',
                key,
                type_old.__name__,
                type_new.__name__,
            )

        for cfg_summary in self.summaries:
            for key in cfg_summary.ignored_fallbacks:
                self.logger.warning(
                    'Ignored attempt to set value of "%s", because it is an ingredient.', key
                )

    def __repr__(self):
        return f"<Scaffold: '{self.path}'>"


def get_configuration(scaffolding):
    """The global config: the root's keys at top level, each ingredient's at its path."""
    config = {}
    for sc_path, scaffold in reversed(list(scaffolding.items())):
        if not scaffold.config:
            continue
        if sc_path:
            # a copy, so that nested ingredients do not end up in their parent's config
            set_by_dotted_path(config, sc_path, dict(scaffold.config))
        else:
            config.update(scaffold.config)
    return config


def initialize_logging(experiment, scaffolding, log_level=None):
    if experiment.logger is None:
        root_logger = create_basic_stream_logger()
    else:
        root_logger = experiment.logger

    for sc_path, scaffold in scaffolding.items():
        if sc_path:
            scaffold.logger = root_logger.getChild(sc_path)
        else:
            scaffold.logger = root_logger

    # set the log level of the root logger (i.e. for all loggers of this run)
    if log_level is not None:
        try:
            lvl = int(log_level)
        except ValueError:
            lvl = log_level
        try:
            root_logger.setLevel(lvl)
        except (ValueError, TypeError) as e:
            from sacred.utils import CommandLineError

            raise CommandLineError(
                f"Invalid log level {log_level!r}: use a number (0 - 50) or one of "
                "DEBUG, INFO, WARNING, ERROR, CRITICAL."
            ) from e

    return root_logger, root_logger.getChild(experiment.path)


def create_scaffolding(experiment, sorted_ingredients):
    scaffolding = OrderedDict()
    for ingredient in sorted_ingredients[:-1]:
        scaffolding[ingredient] = Scaffold(
            config_scopes=ingredient.configurations,
            subrunners=OrderedDict(
                [(scaffolding[m].path, scaffolding[m]) for m in ingredient.ingredients]
            ),
            path=ingredient.path,
            captured_functions=ingredient.captured_functions,
            commands=ingredient.commands,
            named_configs=ingredient.named_configs,
            config_hooks=ingredient.config_hooks,
            generate_seed=False,
        )

    scaffolding[experiment] = Scaffold(
        experiment.configurations,
        subrunners=OrderedDict(
            [(scaffolding[m].path, scaffolding[m]) for m in experiment.ingredients]
        ),
        path="",
        captured_functions=experiment.captured_functions,
        commands=experiment.commands,
        named_configs=experiment.named_configs,
        config_hooks=experiment.config_hooks,
        generate_seed=True,
    )

    scaffolding_ret = OrderedDict([(sc.path, sc) for sc in scaffolding.values()])
    if len(scaffolding_ret) != len(scaffolding):
        raise ValueError(
            "The pathes of the ingredients are not unique. "
            f"{[s.path for s in scaffolding.values()]}"
        )
    return scaffolding_ret


def gather_ingredients_topological(ingredient):
    """All ingredients, deepest first (the experiment itself last)."""
    sub_ingredients = defaultdict(int)
    for sub_ing, depth in ingredient.traverse_ingredients():
        sub_ingredients[sub_ing] = max(sub_ingredients[sub_ing], depth)
    return sorted(sub_ingredients, key=lambda x: -sub_ingredients[x])


def get_config_modifications(scaffolding):
    from sacred.config.config_summary import ConfigSummary

    config_modifications = ConfigSummary()
    for sc_path, scaffold in scaffolding.items():
        config_modifications.update_add(scaffold.config_mods, path=sc_path)
    return config_modifications


def get_command(scaffolding, command_path):
    path, _, command_name = command_path.rpartition(".")
    if path not in scaffolding:
        raise KeyError(f'Ingredient for command "{command_path}" not found.')

    if command_name in scaffolding[path].commands:
        return scaffolding[path].commands[command_name]
    if path:
        raise KeyError(f'Command "{command_name}" not found in ingredient "{path}"')
    raise KeyError(f'Command "{command_name}" not found')


def find_best_match(path, prefixes):
    """The longest scaffold path that is a prefix of ``path`` ("" for the root)."""
    for pre in prefixes:
        if is_prefix(pre, path):
            return pre
    return ""


def distribute_presets(prefixes, scaffolding, config_updates):
    for path, value in iterate_flattened(config_updates):
        scaffold_name = find_best_match(path, prefixes)
        scaff = scaffolding[scaffold_name]
        set_by_dotted_path(scaff.presets, rel_path(scaffold_name, path), value)


def distribute_config_updates(prefixes, scaffolding, config_updates):
    for path, value in iterate_flattened(config_updates):
        if path in scaffolding and path:
            # an update that names an ingredient itself: only a (possibly empty) dict fits
            if value == {}:
                continue
            raise ConfigAddedError(path, config={})
        scaffold_name = find_best_match(path, prefixes)
        scaff = scaffolding[scaffold_name]
        set_by_dotted_path(scaff.config_updates, rel_path(scaffold_name, path), value)


def get_scaffolding_and_config_name(named_config, scaffolding):
    if os.path.exists(named_config):
        path, cfg_name = "", named_config
    else:
        path, _, cfg_name = named_config.rpartition(".")
        if path not in scaffolding:
            if named_config.lower().endswith(_CONFIG_FILE_EXTENSIONS):
                raise NamedConfigNotFoundError(
                    named_config=named_config,
                    message="Config file or named config not found:",
                    available_named_configs=tuple(scaffolding[""].named_configs.keys()),
                )
            raise KeyError(f'Ingredient for named config "{named_config}" not found')
    scaff = scaffolding[path]
    return scaff, cfg_name


def create_run(
    experiment,
    command_name,
    config_updates=None,
    named_configs=(),
    force=False,
    log_level=None,
):
    """Run the whole configuration process and return the (not yet started) ``Run``."""
    from sacred.run import Run

    sorted_ingredients = gather_ingredients_topological(experiment)
    scaffolding = create_scaffolding(experiment, sorted_ingredients)
    # all non-empty scaffold paths, deepest first, for the longest-prefix match
    prefixes = sorted(
        [s for s in scaffolding if s != ""], reverse=True, key=lambda p: len(p.split("."))
    )

    # --------- configuration process -------------------
    root_logger, run_logger = initialize_logging(experiment, scaffolding, log_level)

    # Phase 1: Config updates
    config_updates = config_updates or {}
    config_updates = convert_to_nested_dict(config_updates)
    distribute_config_updates(prefixes, scaffolding, config_updates)

    # Phase 2: Named Configs
    for ncfg in named_configs:
        scaff, cfg_name = get_scaffolding_and_config_name(ncfg, scaffolding)
        scaff.gather_fallbacks()
        ncfg_updates = scaff.run_named_config(cfg_name)
        global_updates = {}
        for ncfg_key, value in iterate_flattened(ncfg_updates):
            set_by_dotted_path(global_updates, join_paths(scaff.path, ncfg_key), value)
        distribute_presets(prefixes, scaffolding, global_updates)
        for ncfg_key, value in iterate_flattened(global_updates):
            set_by_dotted_path(config_updates, ncfg_key, value)

    distribute_config_updates(prefixes, scaffolding, config_updates)

    # Phase 3: Normal config scopes
    for scaffold in scaffolding.values():
        scaffold.gather_fallbacks()
        scaffold.set_up_config()
        if scaffold.config_hooks:
            config = get_configuration(scaffolding)
            config_hook_updates = scaffold.run_config_hooks(config, command_name, run_logger)
            recursive_update(scaffold.config, config_hook_updates)

    # Phase 4: finalize seeding (root first, sub-ingredients draw from their parent)
    for scaffold in reversed(list(scaffolding.values())):
        scaffold.set_up_seed()

    config = get_configuration(scaffolding)
    config_modifications = get_config_modifications(scaffolding)

    # ----------------------------------------------------
    experiment_info = experiment.get_experiment_info()
    host_info = _get_host_info(experiment)
    main_function = get_command(scaffolding, command_name)
    pre_runs = [pr for ing in sorted_ingredients for pr in ing.pre_run_hooks]
    post_runs = [pr for ing in sorted_ingredients for pr in ing.post_run_hooks]

    run = Run(
        config,
        config_modifications,
        main_function,
        copy(experiment.observers),
        root_logger,
        run_logger,
        experiment_info,
        host_info,
        pre_runs,
        post_runs,
        experiment.captured_out_filter,
    )

    if hasattr(main_function, "unobserved"):
        run.unobserved = main_function.unobserved

    run.force = force

    for scaffold in scaffolding.values():
        scaffold.finalize_initialization(run=run)

    return run


def _get_host_info(experiment):
    """Host info, cached per experiment (it only changes with the settings or environment)."""
    from sacred.host_info import get_host_info, host_info_gatherers

    additional = getattr(experiment, "additional_host_info", None)
    env_keys = tuple(SETTINGS.HOST_INFO.CAPTURED_ENV)
    key = (
        SETTINGS.HOST_INFO.INCLUDE_CPU_INFO,
        SETTINGS.HOST_INFO.INCLUDE_GPU_INFO,
        env_keys,
        tuple(os.environ.get(k) for k in env_keys),
        tuple(id(g) for g in additional or ()),
        tuple(host_info_gatherers.items()),
    )
    cache = getattr(experiment, "_host_info_cache", None)
    if cache is None or cache[0] != key:
        cache = (key, get_host_info(additional))
        try:
            experiment._host_info_cache = cache
        except AttributeError:
            pass
    return {k: copy(v) for k, v in cache[1].items()}
