"""Turn an experiment, config updates and named configs into a prepared ``Run``.

Each ingredient gets a ``Scaffold`` holding its share of the configuration. ``create_run``
walks a ``_RunPreparation`` through the configuration process: fix the updates, apply the
named configs, evaluate the config scopes (deepest ingredient first), choose the seeds,
and finally connect the captured functions to the run.
"""

import os
from copy import copy, deepcopy

from sacred.config.config_dict import ConfigDict
from sacred.config.config_files import load_config_file
from sacred.config.config_summary import ConfigSummary
from sacred.config.custom_containers import make_read_only
from sacred.config.utils import (
    chain_evaluate_config_scopes,
    check_config_depth,
    dogmatize,
    undogmatize,
)
from sacred.host_info import get_host_info, host_info_gatherers
from sacred.randomness import check_seed, create_deferred_rnd, deferred_seed
from sacred.run import Run
from sacred.settings import SETTINGS
from sacred.utils import (
    CommandLineError,
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

# a named config with one of these endings that is neither a file nor known is a missing file
_CONFIG_FILE_SUFFIXES = (".json", ".pickle", ".yaml", ".yml")


class Scaffold:
    """One ingredient's share of the configuration while a run is being prepared."""

    def __init__(self, ingredient, path, children=()):
        self.ingredient = ingredient
        self.path = path  # "" for the experiment
        self.children = list(children)  # scaffolds of the direct sub-ingredients
        self.updates = {}  # fixed values (keys relative to path): updates and named configs
        self.presets = {}  # values of the named configs applied so far
        self.config = {}
        self.summaries = []  # a ConfigSummary per evaluated config scope
        self.modifications = None  # all of them merged, plus the added update keys
        self.logger = None
        self.seed = None
        self.rnd = None

    def __repr__(self):
        return f"<Scaffold: '{self.path}'>"

    def local_key(self, path):
        """A scaffold path as this scaffold sees it (our own prefix removed)."""
        if self.path and is_prefix(self.path, path):
            return rel_path(self.path, path)
        return path

    def fixed_values(self):
        """Our fixed values plus those of the sub-ingredients below our path."""
        fixed = convert_to_nested_dict(self.updates)
        for child in self.children:
            if is_prefix(self.path, child.path):
                child_fixed = child.fixed_values()
                if child_fixed:
                    set_by_dotted_path(fixed, rel_path(self.path, child.path), child_fixed)
        return fixed

    def fallback(self):
        """The read-only names a config scope sees: ``_log`` and the sub-ingredient configs."""

        names = {"_log": self.logger}
        for child in self.children:
            set_by_dotted_path(names, self.local_key(child.path), child.config)
        fallback = dogmatize(names)
        fallback.revelation()
        return fallback

    def evaluate(self):
        """Run the config scopes with our fixed values and record what changed."""

        self.config, self.summaries = chain_evaluate_config_scopes(
            self.ingredient.configurations,
            fixed=self.updates,
            preset={},
            fallback=self.fallback(),
        )
        self.modifications = ConfigSummary(
            added={key for key, _ in iterate_flattened(self.updates)}
        )
        for summary in self.summaries:
            self.modifications.update_from(summary)

    def hook_changes(self, full_config, command_name, logger):
        """The merged results of our config hooks, with our fixed values on top."""
        changes = {}
        for hook in self.ingredient.config_hooks:
            result = hook(deepcopy(full_config), command_name, logger)
            if result is None:
                continue
            if not isinstance(result, dict):
                raise TypeError(
                    f"config hook {getattr(hook, '__name__', hook)} must return a dict or "
                    f"None, but returned {type(result).__name__}"
                )
            recursive_update(changes, result)
        return recursive_update(changes, self.updates)

    def choose_seed(self, parent_rnd=None):
        """Take the seed from the config or draw it from the parent's rnd; then seed children."""

        if self.seed is not None:
            return
        seed = self.config.get("seed")
        check_seed(seed, join_paths(self.path, "seed"))
        self.seed = deferred_seed(parent_rnd) if seed is None else seed
        self.rnd = create_deferred_rnd(self.seed)
        if not self.path:  # only the experiment puts its seed into the config
            self.config["seed"] = self.seed
        if "seed" in self.config and "seed" in self.modifications.added:
            # setting the seed changes an existing entry, it never adds one
            self.modifications.added.discard("seed")
            self.modifications.modified.add("seed")
        for child in reversed(self.children):
            child.choose_seed(self.rnd)

    def fixture(self):
        """Our config with the configs of all scaffolds below us nested in (copies)."""
        fixture = copy(self.config)
        for below in self._below():
            set_by_dotted_path(fixture, self.local_key(below.path), copy(below.config))
        return fixture

    def _below(self):
        # parents come before their children, so a parent never hides a child's config
        for child in self.children:
            yield child
            yield from child._below()

    def connect(self, run):
        """Give every captured function its logger, rnd, run and (read-only) config."""

        self.seed = self.config.get("seed", self.seed)  # a config hook may have set it
        check_seed(self.seed, join_paths(self.path, "seed"))
        self.rnd = create_deferred_rnd(self.seed)
        read_only = SETTINGS.CONFIG.READ_ONLY_CONFIG
        fixture = self.fixture()
        by_prefix = {}  # functions with the same prefix share one config object
        for func in self.ingredient.captured_functions:
            func.logger = self.logger.getChild(func.__name__)
            func.rnd = create_deferred_rnd(deferred_seed(self.rnd))
            func.run = run
            if func.prefix not in by_prefix:
                cfg = get_by_dotted_path(fixture, func.prefix, default={})
                by_prefix[func.prefix] = make_read_only(cfg) if read_only else cfg
            func.config = by_prefix[func.prefix]
        if not run.force:
            self.check_modifications()

    def check_modifications(self):
        """Refuse unused new keys; warn about used ones, type changes and ingredient writes."""
        used = {"__doc__"}
        for func in self.ingredient.captured_functions:
            used.update(join_paths(func.prefix, arg) for arg in func.signature.arguments)
        for key in sorted(self.modifications.added):
            if used.isdisjoint(iter_prefixes(key)):
                raise self._added_entry_error(key)
            self.logger.warning('Added new config entry: "%s"', key)

        for key, (old, new) in self.modifications.typechanged.items():
            if {old, new} <= {int, float}:
                continue  # numbers may switch between int and float silently
            self.logger.warning(
                'Changed type of config entry "%s" from %s to %s', key, old.__name__, new.__name__
            )

        for summary in self.summaries:
            for key in summary.ignored_fallbacks:
                self.logger.warning(
                    'Ignored attempt to set value of "%s", because it is an ingredient.', key
                )

    def _added_entry_error(self, key):
        if not self.path:
            return ConfigAddedError(key, config=self.config)
        config = {}
        set_by_dotted_path(config, self.path, self.config)
        return ConfigAddedError(join_paths(self.path, key), config=config)


def _deepest_first(experiment):
    """All ingredients ordered by their greatest depth, deepest first (experiment last)."""
    depth = {}
    for ingredient, level in experiment.traverse_ingredients():
        depth[ingredient] = max(level, depth.get(ingredient, level))
    return sorted(depth, key=depth.get, reverse=True)  # stable: ties keep traversal order


def _set_log_level(logger, level):
    """Apply a ``--loglevel`` value: a number or a level name."""
    try:
        number = int(level)
    except ValueError:
        number = level
    try:
        logger.setLevel(number)
    except (ValueError, TypeError) as e:
        raise CommandLineError(
            f"Invalid log level {level!r}: use a number (0 - 50) or one of "
            "DEBUG, INFO, WARNING, ERROR, CRITICAL."
        ) from e


class _RunPreparation:
    """The scaffolds of one ``create_run`` call and the steps performed on them."""

    def __init__(self, experiment, log_level):
        self.experiment = experiment
        self.ingredients = _deepest_first(experiment)
        self.scaffolds = self._make_scaffolds()  # by path, deepest first, root ("") last
        # paths with more parts first: the first prefix that matches is the longest one
        self._by_length = sorted(
            (path for path in self.scaffolds if path), key=lambda p: p.count("."), reverse=True
        )
        root = experiment.logger
        if root is None:
            root = create_basic_stream_logger()
        for path, scaffold in self.scaffolds.items():
            scaffold.logger = root.getChild(path) if path else root
        if log_level is not None:
            _set_log_level(root, log_level)
        self.root_logger = root
        self.run_logger = root.getChild(experiment.path)

    def _make_scaffolds(self):
        made = {}
        for ingredient in self.ingredients:  # children are made before their parents
            path = "" if ingredient is self.experiment else ingredient.path
            children = [made[sub] for sub in dict.fromkeys(ingredient.ingredients)]
            made[ingredient] = Scaffold(ingredient, path, children)
        by_path = {scaffold.path: scaffold for scaffold in made.values()}
        if len(by_path) != len(made):
            paths = [scaffold.path for scaffold in made.values()]
            raise ValueError(f"The pathes of the ingredients are not unique. {paths}")
        return by_path

    def owner(self, key):
        """The scaffold whose path is the longest prefix of a dotted key (else the root)."""
        for path in self._by_length:
            if is_prefix(path, key):
                return self.scaffolds[path]
        return self.scaffolds[""]

    def fix(self, updates):
        """Hand every updated value to its scaffold, where config scopes cannot change it."""
        for key, value in iterate_flattened(updates):
            if key and key in self.scaffolds:
                # an ingredient itself can only be "updated" with an empty dict
                if isinstance(value, dict) and not value:
                    continue
                raise ConfigAddedError(key, config={})
            owner = self.owner(key)
            set_by_dotted_path(owner.updates, rel_path(owner.path, key), value)

    def apply_named_config(self, name, updates):
        """Evaluate a named config (or config file) and merge its values into ``updates``."""
        scaffold, local_name = self._find_named_config(name)
        values = self._evaluate_named_config(scaffold, local_name)
        for key, value in iterate_flattened(values):
            key = join_paths(scaffold.path, key)
            owner = self.owner(key)
            set_by_dotted_path(owner.presets, rel_path(owner.path, key), value)
            set_by_dotted_path(updates, key, value)

    def _find_named_config(self, name):
        if os.path.exists(name):
            return self.scaffolds[""], name
        path, _, local_name = name.rpartition(".")
        if path in self.scaffolds:
            return self.scaffolds[path], local_name
        if name.lower().endswith(_CONFIG_FILE_SUFFIXES):
            raise NamedConfigNotFoundError(
                named_config=name,
                message="Config file or named config not found:",
                available_named_configs=tuple(self.experiment.named_configs),
            )
        raise KeyError(f'Ingredient for named config "{name}" not found')

    @staticmethod
    def _evaluate_named_config(scaffold, name):

        if os.path.isfile(name):
            named = ConfigDict(load_config_file(name))
        else:
            known = scaffold.ingredient.named_configs
            if name not in known:
                raise NamedConfigNotFoundError(
                    named_config=join_paths(scaffold.path, name),
                    available_named_configs=tuple(known),
                )
            named = known[name]
        values = named(
            fixed=scaffold.fixed_values(), preset=scaffold.presets, fallback=scaffold.fallback()
        )
        return undogmatize(values)

    def evaluate(self, command_name):
        """Evaluate every scaffold's config scopes (deepest first), then its config hooks.

        The fixed values are merged in last, as given: config scopes normalize what they
        produce (tuples become lists), but a tuple passed as an update stays a tuple.
        """
        for scaffold in self.scaffolds.values():
            scaffold.evaluate()
            if scaffold.ingredient.config_hooks:
                changes = scaffold.hook_changes(self.config(), command_name, self.run_logger)
            else:
                changes = scaffold.updates
            recursive_update(scaffold.config, changes)

    def choose_seeds(self):
        # the experiment seeds itself first; everything below draws from its parent
        for scaffold in reversed(self.scaffolds.values()):
            scaffold.choose_seed()

    def config(self):
        """The run's config: the experiment's keys on top, each ingredient's at its path."""
        config = {}
        for scaffold in reversed(self.scaffolds.values()):
            if not scaffold.config:
                continue
            if scaffold.path:
                # a copy, so that entries nested below stay out of the scaffold's own config
                set_by_dotted_path(config, scaffold.path, dict(scaffold.config))
            else:
                config.update(scaffold.config)
        return config

    def modifications(self):

        merged = ConfigSummary()
        for path, scaffold in self.scaffolds.items():
            merged.update_add(scaffold.modifications, path=path)
        return merged

    def command(self, name):
        """The captured function of the (possibly dotted) command name."""
        path, _, local_name = name.rpartition(".")
        if path not in self.scaffolds:
            raise KeyError(f'Ingredient for command "{name}" not found.')
        commands = self.scaffolds[path].ingredient.commands
        if local_name in commands:
            return commands[local_name]
        if path:
            raise KeyError(f'Command "{local_name}" not found in ingredient "{path}"')
        raise KeyError(f'Command "{local_name}" not found')

    def hooks(self, kind):
        """All pre- or post-run hooks, deepest ingredient first."""
        return [hook for ing in self.ingredients for hook in getattr(ing, kind)]


def create_run(
    experiment,
    command_name,
    config_updates=None,
    named_configs=(),
    force=False,
    log_level=None,
):
    """Prepare a (not yet started) ``Run`` of ``command_name``."""

    check_config_depth(config_updates or {})
    prep = _RunPreparation(experiment, log_level)
    updates = convert_to_nested_dict(config_updates or {})
    prep.fix(updates)
    # later named configs win over earlier ones; explicit updates are fixed for all of them
    for name in named_configs:
        prep.apply_named_config(name, updates)
    prep.fix(updates)
    prep.evaluate(command_name)
    prep.choose_seeds()
    main_function = prep.command(command_name)

    run = Run(
        prep.config(),
        prep.modifications(),
        main_function,
        copy(experiment.observers),
        prep.root_logger,
        prep.run_logger,
        experiment.get_experiment_info(),
        _cached_host_info(experiment),
        prep.hooks("pre_run_hooks"),
        prep.hooks("post_run_hooks"),
        experiment.captured_out_filter,
    )
    run.unobserved = getattr(main_function, "unobserved", False)
    run.force = force
    for scaffold in prep.scaffolds.values():
        scaffold.connect(run)
    return run


def _cached_host_info(experiment):
    """The host info, gathered once per experiment and settings/environment state."""

    extra = getattr(experiment, "additional_host_info", None)
    env_keys = tuple(SETTINGS.HOST_INFO.CAPTURED_ENV)
    state = (
        SETTINGS.HOST_INFO.INCLUDE_CPU_INFO,
        SETTINGS.HOST_INFO.INCLUDE_GPU_INFO,
        env_keys,
        tuple(os.environ.get(k) for k in env_keys),
        tuple(id(g) for g in extra or ()),
        tuple(host_info_gatherers.items()),
    )
    cached = getattr(experiment, "_host_info_cache", None)
    if cached is None or cached[0] != state:
        cached = (state, get_host_info(extra))
        try:
            experiment._host_info_cache = cached
        except AttributeError:  # an object that does not take new attributes
            pass
    return {key: copy(value) for key, value in cached[1].items()}
