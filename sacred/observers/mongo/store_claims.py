"""Worker claims on runs in MongoDB (a mixin of ``MongoStore``): ``claim`` and ``claims``.

Claim number ``n`` of run ``7`` is the document ``{_id: "7:n", run_id: 7, attempt: n,
worker, at}`` of the collection named after the runs collection with its final ``runs``
replaced by ``claims`` (``claims`` beside ``runs``, ``<prefix>_claims`` beside
``<prefix>_runs``; ``<name>_claims`` beside a runs collection named otherwise), as the
journal's progress collection is named. Of all the workers inserting the same claim at once,
from any process or machine, MongoDB stores exactly one (the unique ``_id``); the others get
a DuplicateKeyError and lose. The original's tools never look at this collection; ``delete``
removes a run's claims with it. ``at`` is a naive UTC datetime (to the millisecond).

A mongomock store (tests) takes a lock of the process around the insert: mongomock checks
the key and stores the document in two steps, which threads could interleave.

Every operation is bounded by the store's ``query_timeout`` (``pymongo.timeout``, and
``maxTimeMS`` for the reads).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import threading

__all__ = ("MongoStoreClaims", "claims_collection")


_MOCK_LOCK = threading.Lock()  # claims on mongomock stores (see MongoStoreClaims.claim)


def claims_collection(runs):
    """The claims collection beside the runs collection ``runs``."""
    name = runs.name
    name = name[: -len("runs")] + "claims" if name.endswith("runs") else f"{name}_claims"
    return runs.database[name]


def _utcnow():
    now = _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)  # what MongoDB keeps


class MongoStoreClaims:
    """The ``claim``/``claims`` methods of ``MongoStore``: they use its ``runs``,
    ``_find_doc``, ``_max_time_ms`` and ``_time_limit``."""

    @property
    def claims_collection(self):
        return claims_collection(self.runs)

    @contextlib.contextmanager
    def _bounded(self):
        """Every operation inside gives up after ``query_timeout`` (a QueryError)."""
        ms = self._max_time_ms()
        import pymongo

        timeout = getattr(pymongo, "timeout", None)  # pymongo >= 4.2
        limit = timeout(ms / 1000) if ms and timeout is not None else contextlib.nullcontext()
        with self._time_limit(), limit:
            yield

    def claim(self, run_id, attempt: int, worker: str) -> bool:
        """Take claim number ``attempt`` on the run for ``worker``: True for exactly one of
        all the callers asking for the same run and attempt (see the module's docstring)."""
        import pymongo.errors

        if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
            raise ValueError(f"attempt must be an integer >= 1, not {attempt!r}")
        with self._bounded():
            run_id = self._find_doc(run_id, {"_id": 1})["_id"]  # RunNotFoundError
            doc = {
                "_id": f"{run_id}:{attempt}",
                "run_id": run_id,
                "attempt": attempt,
                "worker": str(worker),
                "at": _utcnow(),
            }
            collection = self.claims_collection
            # mongomock checks a key and then stores the document: not one step for threads.
            # Its databases live in this process, so a lock of the process makes it one.
            mock = type(collection).__module__.startswith("mongomock")
            with _MOCK_LOCK if mock else contextlib.nullcontext():
                try:
                    collection.insert_one(doc)
                except pymongo.errors.DuplicateKeyError:
                    return False  # another worker has it
        return True

    def claims(self, run_id) -> list:
        """``[{"attempt", "worker", "at"}, ...]`` of the run, in the order of ``attempt``."""
        from sacred.store.base import RunNotFoundError

        with self._bounded():
            try:
                run_id = self._find_doc(run_id, {"_id": 1})["_id"]
            except RunNotFoundError:
                return []
            docs = self.claims_collection.find(
                {"run_id": run_id},
                {"_id": 0, "attempt": 1, "worker": 1, "at": 1},
                max_time_ms=self._max_time_ms(),
            )
            found = [
                {"attempt": d.get("attempt"), "worker": d.get("worker", ""), "at": d.get("at")}
                for d in docs
            ]
        return sorted(found, key=lambda c: c["attempt"] if isinstance(c["attempt"], int) else 0)

    def _forget_claims(self, run_id) -> None:
        """Delete the claims of the run ``run_id`` (by ``delete``)."""
        self.claims_collection.delete_many({"run_id": run_id})
