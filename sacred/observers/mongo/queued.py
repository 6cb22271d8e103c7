"""The MongoObserver behind a ``QueueObserver``: events delivered from a background thread."""

import warnings

from sacred.observers.mongo.driver import backend_errors
from sacred.observers.mongo.observer import DEFAULT_MONGO_PRIORITY, MongoObserver
from sacred.observers.queue import QueueObserver
from sacred.utils import ObserverError

__all__ = ("QueueCompatibleMongoObserver", "QueuedMongoObserver")


class QueueCompatibleMongoObserver(MongoObserver):
    """A MongoObserver for ``QueueObserver``: errors are raised so the queue retries."""

    _raise_errors = True

    def log_metrics(self, metric_name, metrics_values, info):
        """Append the points of one metric (the queue splits log_metrics per metric)."""
        with self._lock:
            self._metric_docs.push(
                self.run_entry["_id"],
                metric_name,
                metrics_values,
                info,
                self.METRIC_DOCUMENT_BUDGET,
            )

    def final_save(self, attempts=1):
        try:
            self._try(lambda: self._flush_run(upsert=True))
            return True
        except backend_errors() as e:
            raise ObserverError(f"Warning: saving to MongoDB failed! ({e})") from e

    def _final(self, event, kwargs, attempts):
        self.final_save(attempts)


class QueuedMongoObserver(QueueObserver):
    """A ``QueueObserver`` around a ``QueueCompatibleMongoObserver`` (same arguments)."""

    @classmethod
    def create(cls, *args, **kwargs):
        warnings.warn(
            "QueuedMongoObserver.create(...) is deprecated. "
            "Please use QueuedMongoObserver(...) instead.",
            DeprecationWarning,
            stacklevel=1,  # attributed to sacred, so Python hides it as the original's
        )
        return cls(*args, **kwargs)

    def __init__(
        self,
        interval: float = 20.0,
        retry_interval: float = 10.0,
        url=None,
        db_name: str = "sacred",
        collection: str = "runs",
        overwrite=None,
        priority: int = DEFAULT_MONGO_PRIORITY,
        client=None,
        **kwargs,
    ):
        queue_kwargs = {k: kwargs.pop(k) for k in ("join_timeout", "failure_dir") if k in kwargs}
        super().__init__(
            QueueCompatibleMongoObserver(
                url=url,
                db_name=db_name,
                collection=collection,
                overwrite=overwrite,
                priority=priority,
                client=client,
                **kwargs,
            ),
            interval=interval,
            retry_interval=retry_interval,
            **queue_kwargs,
        )
