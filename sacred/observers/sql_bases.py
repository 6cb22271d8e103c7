"""The SqlObserver's tables under the original's module path: the same objects as in
``sacred.observers.sql.schema``, where they are defined (this module imports SQLAlchemy)."""

from sacred.observers.sql.schema import (  # noqa: F401 (re-exported)
    STATUSES,
    Artifact,
    Base,
    Dependency,
    EpochDateTime,
    Experiment,
    Host,
    Metric,
    MetricChunk,
    OutputChunk,
    Repository,
    Resource,
    Run,
    Source,
    __all__,
    experiment_dependency_association,
    experiment_repository_association,
    experiment_source_association,
    next_run_id,
    pack_points,
    run_resource_association,
    unpack,
    upgrade_schema,
)
