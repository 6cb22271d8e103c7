"""``ObjectStore``: the read side of what the S3 and Google Cloud Storage observers write.

It reads the FileStorageObserver layout in a bucket (see ``layout``) through a ``Bucket``
(see ``bucket``): ``S3Store`` and ``GcsStore`` only give the bucket. Filtering and sorting
are the base class's, in Python, over records made of ``run.json``, ``config.json`` and
``info.json``.

Listing the runs is one paged listing of every key below ``basedir`` (a thousand keys a
request, at most ``bucket.MAX_LIST_PAGES`` pages). It gives each object's version (ETag,
generation), so a store object keeps the JSON it read and reads again only what changed
since: a dashboard's second query costs the listing alone. Objects are read several at a
time (``READERS``).

Every name a run lists is used only below the prefix that may hold it: an artifact below
``<basedir>/<id>/``, a source copy below ``<basedir>/_sources/``, a resource copy below
``<basedir>/_resources/``. A name with an empty, ``.`` or ``..`` part, a backslash, or an
absolute path is refused in one line (``OutsideStoreError``), and never read or removed.

Writing: ``delete``, ``import_run`` (run ids claimed with a conditional write, like the
observers do) and ``update_meta`` (a conditional write of run.json; a running observer keeps
what was set, see ``ObjectStoreObserver``).

Workers' claims: claim ``n`` of run ``7`` is the object ``<basedir>/7/.claims/<n>.json``,
created on condition that it does not exist (S3 ``If-None-Match: *``, GCS
``ifGenerationMatch=0``): of all workers asking, the server lets exactly one create it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import posixpath
import re
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

from sacred.observers import _jsonio
from sacred.observers.object_store.bucket import Bucket, MissingObject
from sacred.observers.object_store.layout import (
    DATE_KEYS,
    RESOURCES,
    SOURCES,
    STATE_FILES,
    clean_name,
    dir_prefix,
    json_text,
)
from sacred.store.base import (
    OutsideStoreError,
    RunNotFoundError,
    RunStore,
    StoreError,
    decode_stored,
    merge_meta,
    metric_summary,
    to_naive_utc,
)

__all__ = ("ObjectStore", "split_location")

READERS = 8  # objects read at once
_RECORD_FILES = ("run.json", "config.json", "info.json")
_MAX_ID_ATTEMPTS = 1000
_MAX_META_ATTEMPTS = 20
CLAIMS = ".claims"  # below a run's prefix: the claims of workers (see the top)
_BAD_JSON = (ValueError, RecursionError)  # what json.loads raises for a crafted file


def split_location(location, scheme: str, prefix: Optional[str] = None) -> tuple:
    """``"<scheme>://bucket/some/prefix"`` -> ``("bucket", "some/prefix")``; ``prefix=``
    gives the prefix instead (not both). StoreError for anything else."""
    text = str(location)
    match = re.match(rf"(?i){re.escape(scheme)}://([^/]+)(?:/(.*))?$", text)
    if match is None:
        raise StoreError(
            f"{text!r} is no {scheme}:// location: give {scheme}://<bucket>/<prefix>, the "
            "bucket and the basedir its observer wrote to."
        )
    bucket, basedir = match.group(1), (match.group(2) or "").rstrip("/")
    if prefix is not None:
        if basedir:
            raise StoreError(
                f"Give the prefix in the location ({text!r}) or with prefix=, not both."
            )
        basedir = str(prefix).rstrip("/")
    return bucket, basedir


def _is_run_name(name: str) -> bool:
    return name.isascii() and name.isdigit() and str(int(name)) == name


def _listed_artifacts(run: dict) -> list:
    return [a.get("name") if isinstance(a, dict) else a for a in _list(run.get("artifacts"))]


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _pairs(value) -> list:
    """The ``[name, stored]`` entries of a sources or resources list."""
    return [e for e in _list(value) if isinstance(e, list) and len(e) == 2]


def _sources_of(run: dict) -> list:
    experiment = run.get("experiment")
    return _pairs(experiment.get("sources") if isinstance(experiment, dict) else None)


def _as_list(seq):
    if hasattr(seq, "dtype") and seq.dtype.kind == "M":  # numpy datetimes
        return seq.astype("datetime64[us]").tolist()
    return seq.tolist() if hasattr(seq, "tolist") else list(seq)


def _valid_metrics(metrics) -> dict:
    """The well-formed metrics of a parsed metrics.json (others are left out)."""
    if not isinstance(metrics, dict):
        raise ValueError("metrics.json is not an object")
    return {
        name: m
        for name, m in metrics.items()
        if isinstance(m, dict)
        and all(isinstance(m.get(f), list) for f in ("steps", "timestamps", "values"))
    }


class ObjectStore(RunStore):
    """Runs in a bucket, below ``basedir``, as the S3 and GCS observers write them."""

    KIND = "object store"  # in messages: "S3", "Google Cloud Storage"

    def __init__(self, bucket: Bucket, basedir: str):
        self._bucket = bucket
        self.basedir = basedir.rstrip("/")
        self._base = dir_prefix(self.basedir)
        self._lock = threading.Lock()
        self._texts = {}  # key -> (version, bytes) of the run.json/config.json/info.json read
        self._summaries = {}  # key of a metrics.json -> (version, metric summaries)
        with self._errors(f"reaching the bucket {bucket.name!r}"):
            exists = bucket.bucket_exists()
        if not exists:
            raise StoreError(f"There is no {self.KIND} bucket {bucket.name!r} at {bucket.address}")

    @property
    def location(self) -> str:
        return f"{self.scheme}://{self._bucket.name}/{self.basedir}"

    def __repr__(self):
        return f"{type(self).__name__}({self.location!r})"

    @contextlib.contextmanager
    def _errors(self, doing):
        """Errors of the client library as one-line StoreErrors naming the server."""
        try:
            yield
        except (StoreError, MissingObject):
            raise
        except Exception as e:
            message = str(e).strip().splitlines()[0] if str(e).strip() else ""
            raise StoreError(
                f"{self.KIND} at {self._bucket.address}: {doing} failed: "
                f"{type(e).__name__}: {message}"
            ) from None

    # ------------------------------------------------------------------ keys
    def _name(self, run_id) -> str:
        name = str(run_id).strip()
        if name.isascii() and name.isdigit():
            name = str(int(name))
        if not _is_run_name(name):
            raise RunNotFoundError(f"There is no run {run_id!r} in {self.location}")
        return name

    def _run_prefix(self, name) -> str:
        return f"{self._base}{name}/"

    def _key(self, name, file) -> str:
        return f"{self._base}{name}/{file}"

    def _copy_key(self, stored, folder, what) -> str:
        """The key of a source or resource copy: only below ``<basedir>/<folder>/``."""
        rel = None
        if isinstance(stored, str):
            if folder == RESOURCES:  # listed by their whole key
                rel = (
                    clean_name(stored[len(self._base) :]) if stored.startswith(self._base) else None
                )
            else:  # sources: relative to basedir
                rel = clean_name(stored)
        if rel is None or not rel.startswith(folder + "/"):
            raise OutsideStoreError(
                f"Refused: {what} lies outside {self.location.rstrip('/')}/{folder}"
            )
        return self._base + rel

    # ------------------------------------------------------------------ reading objects
    def _read_many(self, keys) -> dict:
        """``{key: bytes or None (missing)}``, read several at a time."""
        keys = list(keys)

        def one(key):
            try:
                return self._bucket.read(key)[0]
            except MissingObject:
                return None

        with self._errors("reading runs"):
            if len(keys) <= 1:
                return {k: one(k) for k in keys}
            with ThreadPoolExecutor(min(READERS, len(keys))) as pool:
                return dict(zip(keys, pool.map(one, keys)))

    def _cached(self, wanted: dict) -> dict:
        """``{key: bytes or None}`` for ``{key: version}``: read only what changed."""
        with self._lock:
            texts = self._texts
            out = {k: texts[k][1] for k, v in wanted.items() if v and texts.get(k, ("",))[0] == v}
        fetched = self._read_many(k for k in wanted if k not in out)
        with self._lock:
            for key, data in fetched.items():
                if data is not None and wanted[key]:
                    self._texts[key] = (wanted[key], data)
        out.update(fetched)
        return out

    def _listing(self) -> dict:
        """``{run name: {file: version}}`` of the files records are made of, for every run."""
        runs = {}
        base = self._base
        with self._errors(f"listing {self.location}"):
            for key, version in self._bucket.list(base):
                name, sep, file = key[len(base) :].partition("/")
                if sep and file in STATE_FILES and _is_run_name(name):
                    runs.setdefault(name, {})[file] = version
        return runs

    def _record(self, name, run, config=None, info=None, cout=None) -> dict:
        """A record from the bytes of a run's files (ValueError if run.json is no object)."""
        run = json.loads(run)
        if not isinstance(run, dict):
            raise ValueError("run.json is not an object")
        record = {"_id": int(name)}
        record.update(run)
        record["_id"] = int(name)
        for key in DATE_KEYS:
            if key in record:
                record[key] = to_naive_utc(record[key])
        record["config"] = json.loads(config) if config is not None else {}
        record["info"] = json.loads(info) if info is not None else {}
        decode_stored(record)
        record["artifacts"] = [
            a if isinstance(a, dict) else {"name": a} for a in _list(record.get("artifacts"))
        ]
        if cout is not None:
            record["captured_out"] = cout.decode("utf-8", errors="replace")
        return record

    def _run_json(self, run_id) -> dict:
        """The parsed run.json of a run (RunNotFoundError if there is none)."""
        name = self._name(run_id)
        data = self._read_many([self._key(name, "run.json")])[self._key(name, "run.json")]
        if data is None:
            raise RunNotFoundError(f"There is no run {run_id!r} in {self.location}")
        try:
            run = json.loads(data)
        except _BAD_JSON as e:
            raise StoreError(f"Run {run_id!r} in {self.location} cannot be read: {e}") from None
        if not isinstance(run, dict):
            raise StoreError(f"Run {run_id!r} in {self.location}: run.json is no object")
        return run

    # ------------------------------------------------------------------ RunStore
    def _scan(self, need_metrics=False):
        listing = self._listing()
        names = sorted((n for n, files in listing.items() if "run.json" in files), key=int)
        wanted = {
            self._key(n, f): listing[n][f] for n in names for f in _RECORD_FILES if f in listing[n]
        }
        texts = self._cached(wanted)
        with self._lock:  # runs removed since: their texts are kept no longer
            self._texts = {k: v for k, v in self._texts.items() if k in wanted}
        summaries = self._metric_summaries(listing, names) if need_metrics else {}
        for name in names:
            key = self._key(name, "run.json")
            try:
                record = self._record(
                    name,
                    texts[key],
                    texts.get(self._key(name, "config.json")),
                    texts.get(self._key(name, "info.json")),
                )
            except (*_BAD_JSON, TypeError):  # TypeError: gone since the listing
                continue
            yield record, (summaries.get(name, {}) if need_metrics else None)

    def _metric_summaries(self, listing, names) -> dict:
        """``{run name: metric summaries}``, kept per version of metrics.json."""
        wanted = {
            self._key(n, "metrics.json"): listing[n]["metrics.json"]
            for n in names
            if "metrics.json" in listing[n]
        }
        with self._lock:
            known = {
                k: self._summaries[k][1]
                for k, v in wanted.items()
                if v and self._summaries.get(k, ("",))[0] == v
            }
        for key, data in self._read_many(k for k in wanted if k not in known).items():
            try:
                metrics = _valid_metrics(json.loads(data)) if data is not None else {}
            except _BAD_JSON:
                metrics = {}
            known[key] = {n: metric_summary(m["values"]) for n, m in metrics.items()}
        with self._lock:
            self._summaries = {k: (wanted[k], known[k]) for k in wanted if wanted[k]}
        return {n: known.get(self._key(n, "metrics.json"), {}) for n in names}

    def get(self, run_id) -> dict:
        name = self._name(run_id)
        keys = [self._key(name, f) for f in (*_RECORD_FILES, "cout.txt")]
        texts = self._read_many(keys)
        if texts[keys[0]] is None:
            raise RunNotFoundError(f"There is no run {run_id!r} in {self.location}")
        try:
            return self._record(name, *(texts[k] for k in keys[:3]), cout=texts[keys[3]] or b"")
        except _BAD_JSON as e:
            raise StoreError(f"Run {run_id!r} in {self.location} cannot be read: {e}") from None

    def _read_metrics(self, run_id, names=None) -> dict:
        name = self._name(run_id)
        data = self._read_many([self._key(name, "metrics.json")])[self._key(name, "metrics.json")]
        if data is None:
            self._run_json(run_id)  # RunNotFoundError if the run is not there either
            return {}
        try:
            metrics = _valid_metrics(json.loads(data))
        except _BAD_JSON as e:
            raise StoreError(f"metrics.json of run {run_id!r} cannot be read: {e}") from None
        return metrics if names is None else {n: m for n, m in metrics.items() if n in names}

    # ------------------------------------------------------------------ files
    def _open(self, key):
        with self._errors(f"reading {key}"):
            return self._bucket.open(key)

    def artifacts(self, run_id) -> list:
        return _listed_artifacts(self._run_json(run_id))

    def open_artifact(self, run_id, name):
        run = self._run_json(run_id)
        if not isinstance(name, str) or name not in _listed_artifacts(run):
            raise RunNotFoundError(f"Run {run_id!r} has no artifact {name!r}")
        if clean_name(name) is None:
            prefix = self._run_prefix(self._name(run_id))
            raise OutsideStoreError(
                f"Refused: artifact {name!r} of run {run_id!r} lies outside the run's prefix "
                f"{self._bucket.name}/{prefix}"
            )
        return self._open(self._run_prefix(self._name(run_id)) + name)

    def sources(self, run_id) -> list:
        return [entry[0] for entry in _sources_of(self._run_json(run_id))]

    def open_source(self, run_id, name):
        for entry in _sources_of(self._run_json(run_id)):
            if entry[0] == name:
                where = f"source {name!r} of run {run_id!r}"
                return self._open(self._copy_key(entry[1], SOURCES, where))
        raise RunNotFoundError(f"Run {run_id!r} has no source {name!r}")

    def resources(self, run_id) -> list:
        return [entry[0] for entry in _pairs(self._run_json(run_id).get("resources"))]

    def open_resource(self, run_id, name):
        for entry in _pairs(self._run_json(run_id).get("resources")):
            if entry[0] == name:
                where = f"resource {name!r} of run {run_id!r}"
                return self._open(self._copy_key(entry[1], RESOURCES, where))
        raise RunNotFoundError(f"Run {run_id!r} has no resource {name!r}")

    # ------------------------------------------------------------------ claims (workers)
    def _claim_key(self, run_id, attempt) -> str:
        return self._key(self._name(run_id), f"{CLAIMS}/{int(attempt)}.json")

    def claim(self, run_id, attempt: int, worker: str) -> bool:
        self._run_json(run_id)  # RunNotFoundError if there is no such run
        key = self._claim_key(run_id, attempt)
        now = _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)
        data = json.dumps({"attempt": int(attempt), "worker": str(worker), "at": now.isoformat()})
        with self._errors(f"claiming run {run_id!r}"):
            if self._bucket.exists(key):  # taken (and no write for servers that ignore
                return False  # conditions, such as the GCS emulator)
            written = self._bucket.put(
                key, data.encode("utf-8"), "application/json", if_absent=True, strict=True
            )
        return written is not None

    def claims(self, run_id) -> list:
        prefix = self._key(self._name(run_id), f"{CLAIMS}/")
        with self._errors(f"listing the claims of run {run_id!r}"):
            keys = [key for key, _ in self._bucket.list(prefix)]
        found = []
        for key, data in self._read_many(keys).items():
            stem = key[len(prefix) :]
            stem = stem[: -len(".json")] if stem.endswith(".json") else ""
            if not (stem.isascii() and stem.isdigit()) or data is None:
                continue
            try:
                claim = json.loads(data)
                at = _dt.datetime.fromisoformat(claim["at"])
                worker = str(claim.get("worker", ""))
            except (*_BAD_JSON, KeyError, TypeError, AttributeError):
                at, worker = None, ""  # damaged: it still counts as taken
            found.append({"attempt": int(stem), "worker": worker, "at": at})
        return sorted(found, key=lambda c: c["attempt"])

    # ------------------------------------------------------------------ writing
    def delete(self, run_id) -> None:
        """Remove every object below the run's prefix (run.json first: the run is gone for
        every reader at once), and the copies of sources and resources no other run lists
        (a listed copy outside ``_sources``/``_resources`` is left alone, with a warning)."""
        name = self._name(run_id)
        run = self._run_json(run_id)
        prefix = self._run_prefix(name)
        with self._errors(f"deleting run {run_id!r}"):
            keys = [key for key, _ in self._bucket.list(prefix)]
            self._bucket.delete([self._key(name, "run.json")])
            self._bucket.delete([k for k in keys if k != self._key(name, "run.json")])
        others = self._other_runs(name)
        used = {k for r in others for k in self._copy_keys(_sources_of(r), SOURCES)}
        used |= {k for r in others for k in self._copy_keys(_pairs(r.get("resources")), RESOURCES)}
        unused = []
        for entries, folder, kind in (
            (_sources_of(run), SOURCES, "source copy"),
            (_pairs(run.get("resources")), RESOURCES, "resource copy"),
        ):
            for entry in entries:
                try:
                    key = self._copy_key(entry[1], folder, f"{kind} {entry[1]!r} of run {run_id!r}")
                except OutsideStoreError as e:
                    warnings.warn(f"{e}; left alone", stacklevel=2)
                    continue
                if key not in used:
                    unused.append(key)
        with self._errors(f"deleting the copies of run {run_id!r}"):
            self._bucket.delete(sorted(set(unused)))
        with self._lock:
            self._texts = {k: v for k, v in self._texts.items() if not k.startswith(prefix)}

    def _copy_keys(self, entries, folder) -> list:
        keys = []
        for entry in entries:
            try:
                keys.append(self._copy_key(entry[1], folder, "a copy"))
            except OutsideStoreError:
                pass
        return keys

    def _other_runs(self, name) -> list:
        """The parsed run.json of every run but ``name``."""
        listing = self._listing()
        wanted = {
            self._key(n, "run.json"): files["run.json"]
            for n, files in listing.items()
            if n != name and "run.json" in files
        }
        runs = []
        for data in self._cached(wanted).values():
            try:
                run = json.loads(data) if data is not None else None
            except _BAD_JSON:
                continue
            if isinstance(run, dict):
                runs.append(run)
        return runs

    def update_meta(self, run_id, updates: dict) -> dict:
        """Merge ``updates`` into ``meta`` of run.json, written on condition that it did not
        change since it was read (else read again). A running observer keeps what is set
        here (see ``ObjectStoreObserver``)."""
        name = self._name(run_id)
        key = self._key(name, "run.json")
        for _ in range(_MAX_META_ATTEMPTS):
            try:
                with self._errors(f"reading run {run_id!r}"):
                    data, version = self._bucket.read(key, versioned=True)
            except MissingObject:
                raise RunNotFoundError(f"There is no run {run_id!r} in {self.location}") from None
            try:
                run = json.loads(data)
            except _BAD_JSON as e:
                raise StoreError(f"Run {run_id!r} in {self.location} cannot be read: {e}") from None
            if not isinstance(run, dict):
                raise StoreError(f"Run {run_id!r} in {self.location}: run.json is no object")
            meta = merge_meta(run.get("meta"), updates)
            run["meta"] = meta
            text = _jsonio.dumps(run).encode("utf-8")
            with self._errors(f"writing run {run_id!r}"):
                written = self._bucket.put(key, text, "text/json", if_version=version)
            if written is not None:
                return meta
        raise StoreError(f"run.json of run {run_id!r} changes all the time; try again")

    def import_run(
        self, record, metrics=None, artifacts=None, sources=None, resources=None, new_id=False
    ):
        """Write a run in the observers' layout; returns its id (an int).

        run.json is written first, on condition that it does not exist yet (the observers
        claim ids so), then the other files. An artifact whose name would leave the run's
        prefix (``../x``, an absolute path) or take one of the run's own files is not written
        (with a warning).
        """
        artifacts = _writable_artifacts(artifacts or {})
        run = {
            k: v for k, v in record.items() if k not in ("_id", "config", "info", "captured_out")
        }
        for key in DATE_KEYS:
            if isinstance(run.get(key), _dt.datetime):
                run[key] = run[key].isoformat()
        names = _listed_artifacts(run)
        run["artifacts"] = names + [n for n in artifacts if n not in names]
        with self._errors("importing a run"):
            experiment = run.get("experiment")
            if sources is not None and isinstance(experiment, dict):
                run["experiment"] = dict(
                    experiment,
                    sources=[
                        [n, self._put_copy(sources[n], n, SOURCES) if n in sources else s]
                        for n, s in _sources_of(run)
                    ],
                )
            if resources is not None and run.get("resources"):
                run["resources"] = [
                    [
                        fn,
                        self._base + self._put_copy(resources[fn], fn, RESOURCES)
                        if fn in resources
                        else ref,
                    ]
                    for fn, ref in _pairs(run.get("resources"))
                ]
            name = self._claim(record.get("_id"), new_id, json_text(run).encode("utf-8"))
            files = {"config.json": json_text(record.get("config", {}))}
            if record.get("info"):
                files["info.json"] = json_text(record["info"])
            files["cout.txt"] = record.get("captured_out") or ""
            if metrics is not None:
                files["metrics.json"] = json_text(_metrics_for_json(metrics))
            for file, text in files.items():
                content_type = "text/plain" if file == "cout.txt" else "text/json"
                self._bucket.put(self._key(name, file), text.encode("utf-8"), content_type)
            for art_name, content in artifacts.items():
                self._bucket.put(self._key(name, art_name), content)
        return int(name)

    def _claim(self, wanted, new_id, run_text: bytes) -> str:
        """Write run.json of a new run (if absent); returns the run's name."""

        def claim(name):
            if self._bucket.prefix_exists(self._run_prefix(name)):
                return False
            key = self._key(name, "run.json")
            return self._bucket.put(key, run_text, "text/json", if_absent=True) is not None

        if not new_id and wanted is not None and str(wanted).isascii() and str(wanted).isdigit():
            name = str(int(str(wanted)))
            if not claim(name):
                raise StoreError(
                    f"Run {name} already exists in {self.location}; import it under a new id "
                    "instead (new_id=True, or --new-ids on the command line)."
                )
            return name
        subdirs = self._bucket.subdirs(self._base)
        candidate = max((int(d) for d in subdirs if _is_run_name(d)), default=0) + 1
        for _ in range(_MAX_ID_ATTEMPTS):
            if claim(str(candidate)):
                return str(candidate)
            candidate += 1
        raise StoreError(f"Could not claim a new run id in {self.location}")

    def _put_copy(self, content: bytes, filename: str, folder: str) -> str:
        """Store a source or resource copy as the observers do; returns its key below
        ``basedir``."""
        base_name = posixpath.basename(str(filename).replace("\\", "/"))
        stem, ext = posixpath.splitext(base_name)
        rel = f"{folder}/{stem}_{hashlib.md5(content).hexdigest()}{ext}"
        if not self._bucket.exists(self._base + rel):
            self._bucket.put(self._base + rel, content)
        return rel


def _metrics_for_json(metrics) -> dict:
    out = {}
    for name, m in metrics.items():
        out[name] = {
            "steps": _as_list(m["steps"]),
            "timestamps": [
                t.isoformat() if hasattr(t, "isoformat") else t for t in _as_list(m["timestamps"])
            ],
            "values": _as_list(m["values"]),
        }
    return out


def _writable_artifacts(artifacts) -> dict:
    """The artifacts ``import_run`` may write below a new run's prefix (see there)."""
    out = {}
    for name, content in artifacts.items():
        clean = clean_name(name)
        if clean is None or clean.split("/")[0] in STATE_FILES:
            warnings.warn(
                f"Artifact {name!r} is not written: it would not be an object of its own below "
                "the run's prefix",
                stacklevel=3,
            )
            continue
        out[name] = content
    return out
