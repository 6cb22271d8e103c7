"""Reliability of the MongoObserver: database errors after the start never fail the run.

The observer keeps what it could not write (file copies included), retries with the next
event, and tries the final save up to 10 (completed) / 3 (interrupted) / 1 (failed) times.
What still could not be written goes to ``failure_dir`` (default ``./sacred_failures``) as
``sacred_mongo_fail_<id>_XXXX.pickle`` (the run document, like the original) and ``.jsonl``
(the events, see ``sacred.observers.queue``); a WARNING names them. Replay the events with
``sacred.observers.mongo.replay_failure_file(path, MongoObserver(...))``.
"""

import logging
import os
import pickle
import shutil
import tempfile
import time

# the messages keep the logger of the public module
logger = logging.getLogger("sacred.observers.mongo")


def _backend_errors():
    """The exceptions that mean "MongoDB did not take it" (retry later)."""
    import gridfs.errors
    import pymongo.errors

    return (pymongo.errors.PyMongoError, gridfs.errors.GridFSError, OSError)


class _MongoReliability:
    """Part of ``MongoObserver``: outages, retries, the final save and the failure files."""

    def _try(self, func):
        try:
            func()
        except _backend_errors() as e:
            self._needs_full_save = True
            self._cout_synced = None
            if self._cout_file is not None:
                self._cout_file.length = None
            if self._raise_errors:
                raise
            self._on_error(e)
            return False
        if self._outage:
            self._outage = False
            logger.warning("MongoObserver: MongoDB is reachable again; the run is up to date.")
        return True

    def _on_error(self, e):
        for i, (kind, args) in enumerate(self._pending_files):
            if args[-1] is None:  # keep the file's content as it is now
                source = args[0] if kind == "resource" else args[1]
                try:
                    self._pending_files[i] = (kind, (*args[:-1], self._spool(source, True)))
                except OSError:
                    pass
        self._retry_after = time.monotonic() + self.retry_interval
        if not self._outage:
            self._outage = True
            logger.warning(
                "MongoObserver: writing to MongoDB at %s failed (%s: %s). The run goes on; "
                "the observer keeps the data and tries again.",
                self._address(),
                type(e).__name__,
                e,
            )

    def final_save(self, attempts):
        """Write everything, trying ``attempts`` times; True when it worked."""
        deadline = time.monotonic() + self.final_save_timeout
        for i in range(attempts):
            self._retry_after = 0.0
            if self._try(lambda: self._sync(upsert=True)):
                return True
            if i < attempts - 1 and time.monotonic() < deadline:
                time.sleep(self.retry_delay)
            else:
                break
        return False

    def _final(self, event, kwargs, attempts):
        if self._start_kwargs is None:
            return  # the start failed (and failed the run): there is no run to save
        if self.final_save(attempts):
            return
        self._write_failure_files(event, kwargs)

    def _write_failure_files(self, event, kwargs):
        from sacred.observers.queue import write_event_file

        run_id = self.run_entry.get("_id")
        directory = os.path.abspath(self.failure_dir or "sacred_failures")
        prefix = f"sacred_mongo_fail_{run_id}_"
        records = [("started_event", self._start_kwargs, {"delivered": True})]
        for kind, args in self._pending_files:
            if kind == "resource":
                # the original path: the name under which the resource is known
                records.append(("resource_event", {"filename": args[0]}))
            else:
                name, filename, metadata, content_type, copy = args
                records.append(
                    (
                        "artifact_event",
                        {
                            "name": name,
                            "filename": copy or filename,
                            "metadata": metadata,
                            "content_type": content_type,
                        },
                    )
                )
        if self._pending_metrics:
            records.append(("log_metrics", {"metrics_by_name": self._pending_metrics, "info": {}}))
        if self._last_beat is not None:
            records.append(("heartbeat_event", self._last_beat))
        records.append((event, kwargs))
        path = write_event_file(records, directory, prefix)
        pickle_path = path[: -len(".jsonl")] + ".pickle"
        with open(pickle_path, "wb") as f:
            pickle.dump(self.run_entry, f)
        logger.warning(
            "Warning: saving to MongoDB failed! Stored experiment entry in %s and the events "
            "in %s; write them to MongoDB later with "
            "sacred.observers.mongo.replay_failure_file(%r, MongoObserver(...)).",
            pickle_path,
            path,
            path,
        )
        self.failure_file = path

    def _spool(self, filename, force=False):
        """A private copy of a file whose storing may have to wait (None when not needed)."""
        if not (self._outage or force):
            return None
        if self._spool_dir is None:
            directory = os.path.abspath(self.failure_dir or "sacred_failures")
            os.makedirs(directory, exist_ok=True)
            self._spool_dir = tempfile.mkdtemp(
                prefix=f"sacred_mongo_files_{self.run_entry.get('_id')}_", dir=directory
            )
        copy = os.path.join(
            self._spool_dir, f"{len(os.listdir(self._spool_dir))}_{os.path.basename(filename)}"
        )
        shutil.copyfile(filename, copy)
        return copy


def replay_failure_file(path, observer):
    """Write the events of a ``sacred_mongo_fail_*.jsonl`` file with ``observer``.

    ``observer`` is a MongoObserver for the database the run belongs to; the run is looked
    up by its id and completed. Returns the number of events replayed.
    """
    from sacred.observers.queue import replay

    return replay(path, observer)
