"""The lists of a record that live in tables of their own (an experiment's sources,
dependencies and repositories; a run's artifacts and resources), read for many runs in one
statement: one round trip instead of five, which is most of the cost of ``SqlStore.get``
on a database server.

``read_parts(conn, t, run_ids, experiment_ids)`` gives ``(experiments, artifacts,
resources)``: ``{experiment_id: {"sources", "dependencies", "repositories"}}``,
``{run_id: [(run_id, filename), ...]}`` and ``{run_id: [(run_id, filename, md5sum), ...]}``,
each list in the order of its rows' ids (dependencies by name, then id).
"""

from __future__ import annotations

import itertools

import sqlalchemy as sa

from sacred.observers.sql.store_keys import in_batches

__all__ = ("read_parts",)

SOURCE, DEPENDENCY, REPOSITORY, ARTIFACT, RESOURCE = range(5)


def _branch(kind, owner, a, b, dirty, order, from_, where):
    return (
        sa.select(
            sa.literal(kind, sa.Integer).label("kind"),
            sa.cast(owner, sa.String).label("owner"),
            sa.cast(a, sa.String).label("a"),
            sa.cast(b, sa.String).label("b") if b is not None else _null(sa.String, "b"),
            dirty.label("dirty") if dirty is not None else _null(sa.Boolean, "dirty"),
            order.label("ord"),
        )
        .select_from(from_)
        .where(where)
    )


def _null(type_, name):
    return sa.cast(sa.null(), type_).label(name)


def _statement(t, run_ids, experiment_ids):
    es, ed, er = t.ex_sources.c, t.ex_deps.c, t.ex_repos.c
    src, dep, repo = t.source.c, t.dependency.c, t.repository.c
    art, rr, res = t.artifact.c, t.run_resources.c, t.resource.c
    # kind, owner column, a, b, dirty, order, tables, the ids the owner is one of
    parts = [
        (SOURCE, es.experiment_id, src.filename, src.md5sum, None, src.source_id,
         t.ex_sources.join(t.source), experiment_ids),
        (DEPENDENCY, ed.experiment_id, dep.name, dep.version, None, dep.dependency_id,
         t.ex_deps.join(t.dependency), experiment_ids),
        (REPOSITORY, er.experiment_id, repo.url, repo.commit, repo.dirty, repo.repository_id,
         t.ex_repos.join(t.repository), experiment_ids),
        (ARTIFACT, art.run_id, art.filename, None, None, art.artifact_id, t.artifact, run_ids),
        (RESOURCE, rr.run_id, res.filename, res.md5sum, None, res.resource_id,
         t.run_resources.join(t.resource), run_ids),
    ]  # fmt: skip
    return sa.union_all(
        *[
            _branch(kind, owner, a, b, dirty, order, tables, owner.in_(ids))
            for kind, owner, a, b, dirty, order, tables, ids in parts
            if ids
        ]
    )


def read_parts(conn, t, run_ids, experiment_ids):
    experiment_ids = [i for i in experiment_ids if i is not None]
    experiments = {
        i: {"sources": [], "dependencies": [], "repositories": []} for i in experiment_ids
    }
    by_kind = {kind: [] for kind in range(5)}
    pairs = itertools.zip_longest(in_batches(run_ids), in_batches(experiment_ids), fillvalue=[])
    for runs, exps in pairs:
        for row in conn.execute(_statement(t, runs, exps)):
            by_kind[row.kind].append(row)
    by_experiment = {str(i): i for i in experiment_ids}  # owners come back as text

    def key_of(row):
        return (row.a, row.ord) if row.kind == DEPENDENCY else (row.ord,)

    for kind, name, convert in (
        (SOURCE, "sources", lambda r: [r.a, r.b]),
        (DEPENDENCY, "dependencies", lambda r: f"{r.a}=={r.b}"),
        (REPOSITORY, "repositories", lambda r: {"url": r.a, "commit": r.b, "dirty": r.dirty}),
    ):
        for row in sorted(by_kind[kind], key=key_of):
            experiments[by_experiment[row.owner]][name].append(convert(row))
    artifacts, resources = {}, {}
    for row in sorted(by_kind[ARTIFACT], key=key_of):
        artifacts.setdefault(row.owner, []).append((row.owner, row.a))
    for row in sorted(by_kind[RESOURCE], key=key_of):
        resources.setdefault(row.owner, []).append((row.owner, row.a, row.b))
    return experiments, artifacts, resources
