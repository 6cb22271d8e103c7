"""ConfigSummary: a config plus what happened to it (added, modified, typechanged, docs)."""

from sacred.utils import iter_prefixes, join_paths

__all__ = ["ConfigSummary"]


class ConfigSummary(dict):
    """The result of evaluating a config scope: the config itself (as a dict) and

    * ``added``: dotted paths of entries that only came from the fixed values;
    * ``modified``: paths whose value the fixed values changed (and their parents);
    * ``typechanged``: ``{path: (old_type, new_type)}``;
    * ``ignored_fallbacks``: attempts to assign to a fallback (ingredient) entry;
    * ``docs``: ``{path: doc string}`` from comments in the config scopes.
    """

    def __init__(self, added=(), modified=(), typechanged=(), ignored_fallbacks=(), docs=()):
        super().__init__()
        self.added = set(added)
        self.modified = set(modified)
        self.typechanged = dict(typechanged)
        self.ignored_fallbacks = set(ignored_fallbacks)
        self.docs = dict(docs)
        self.ensure_coherence()

    def update_from(self, config_mod, path=""):
        """Merge another summary (at ``path``); an entry stays added only if added in both."""
        self.added &= {join_paths(path, a) for a in config_mod.added}
        self._merge_rest(config_mod, path)

    def update_add(self, config_mod, path=""):
        """Merge another summary (at ``path``), taking the union of the added entries."""
        self.added |= {join_paths(path, a) for a in config_mod.added}
        self._merge_rest(config_mod, path)

    def _merge_rest(self, config_mod, path):
        self.modified |= {join_paths(path, m) for m in config_mod.modified}
        self.typechanged.update({join_paths(path, k): v for k, v in config_mod.typechanged.items()})
        self.ignored_fallbacks |= {join_paths(path, f) for f in config_mod.ignored_fallbacks}
        # an ingredient's "seed" doc would only repeat the experiment's
        self.docs.update(
            {join_paths(path, k): v for k, v in config_mod.docs.items() if not path or k != "seed"}
        )
        self.ensure_coherence()

    def ensure_coherence(self):
        """Mark parents of changed entries as modified and keep the three sets disjoint."""
        prefixes = set()
        for path in (*self.added, *self.modified, *self.typechanged):
            prefixes.update(iter_prefixes(path))
        self.modified |= prefixes
        typechanged = set(self.typechanged)
        self.added -= typechanged
        self.modified -= typechanged
        self.modified -= self.added
