"""Files of the MongoObserver in GridFS: sources, resources, artifacts, the ones waiting to be
stored, and the content type of artifacts (``mimetype_detector``, public through
``sacred.observers.mongo``).
"""

import os

from sacred.dependencies import get_digest
from sacred.observers.checkpoints import is_checkpoint, replace_copy
from sacred.observers.mongo.driver import ignore_errors

_MIME_TYPES_FILE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "data", "mime.types"
)
_mime_types = None


def mimetype_detector(filename):
    """The content type of ``filename`` from ``sacred/data/mime.types`` (None if unknown)."""
    global _mime_types
    import mimetypes

    if _mime_types is None:
        _mime_types = mimetypes.MimeTypes(filenames=[_MIME_TYPES_FILE])
    mime, encoding = _mime_types.guess_type(os.fspath(filename), strict=False)
    if encoding is not None:  # compressed: the content is the compressed stream
        return {
            "gzip": "application/gzip",
            "bzip2": "application/x-bzip2",
            "xz": "application/x-xz",
            "compress": "application/x-compress",
            "br": "application/x-brotli",
        }.get(encoding, mime)
    return mime


def detect_content_type(filename):
    """``mimetype_detector(filename)``, saying on stdout what it found (as the original)."""
    mime_type = mimetype_detector(filename)
    if mime_type is not None:
        print(f"Added {mime_type} as content-type of artifact {filename}.")
    else:
        print(f"Failed to detect content-type automatically for artifact {filename}.")
    return mime_type


class GridFsFiles:
    """Stores the files of runs in GridFS (``where.fs``; artifact names use ``where.runs``).

    Sources and resources are kept once per ``(filename, md5)``; each artifact is a new file
    named ``artifact://<runs collection>/<run id>/<name>``.
    """

    def __init__(self, where):
        self.where = where

    def save_sources(self, ex_info, copies=None) -> list:
        """``[[name, file id], ...]`` of the experiment's sources, stored if new.

        ``copies`` maps source names to files to read instead (kept by a journal).
        """
        fs = self.where.fs
        base_dir = ex_info["base_dir"]
        source_info = []
        for source_name, md5 in ex_info["sources"]:
            abs_path = os.path.join(base_dir, source_name)
            read_path = (copies or {}).get(source_name, abs_path)
            file = fs.find_one({"filename": abs_path, "md5": md5})
            if file:
                _id = file._id
            else:
                md5 = md5 or get_digest(read_path)
                with open(read_path, "rb") as f:
                    _id = fs.put(f, filename=abs_path, md5=md5)
            source_info.append([source_name, _id])
        return source_info

    def store_resource(self, filename, name=None) -> list:
        """Store the file ``filename`` as resource ``name``; returns ``[name, md5]``."""
        fs = self.where.fs
        name = name or filename
        md5hash = get_digest(filename)
        if not fs.exists(filename=name, md5=md5hash):
            with open(filename, "rb") as f:
                fs.put(f, filename=name, md5=md5hash)
        return [name, md5hash]

    def store_artifact(self, run_id, name, filename, metadata, content_type) -> dict:
        """Store the file ``filename`` as artifact ``name``; returns ``{"name", "file_id"}``."""
        db_filename = f"artifact://{self.where.runs.name}/{run_id}/{name}"
        with open(filename, "rb") as f:
            file_id = self.where.fs.put(
                f, filename=db_filename, metadata=metadata, content_type=content_type
            )
        return {"name": name, "file_id": file_id}


class PendingFiles:
    """Resources and artifacts not stored yet, in the order of their events.

    Each has a private ``copy`` of the file (or None) when its storing may have to wait for
    MongoDB: the content at the time of the event is what gets stored.
    """

    def __init__(self):
        self.items = []  # ("resource", (filename, copy)) | ("artifact", (name, ..., copy))

    def __bool__(self):
        return bool(self.items)

    def add_resource(self, filename, copy):
        self.items.append(("resource", (filename, copy)))

    def add_artifact(self, name, filename, metadata, content_type, copy):
        self.items.append(("artifact", (name, filename, metadata, content_type, copy)))

    def add_checkpoint(self, name, filename, metadata, content_type, spool):
        """A checkpoint: it replaces a checkpoint of its name that is still waiting (only the
        newest is stored), taking over that one's copy with the new content; else it gets
        ``spool(filename)`` (a copy, or None)."""
        copy = None
        for i in range(len(self.items) - 1, -1, -1):
            kind, args = self.items[i]
            if kind == "artifact" and args[0] == name and is_checkpoint(args[2]):
                del self.items[i]
                copy = replace_copy(args[-1], filename) if args[-1] else None
                break
        if copy is None:
            copy = spool(filename)
        self.add_artifact(name, filename, metadata, content_type, copy)

    def keep_copies(self, make_copy):
        """Give every file without a copy one (``make_copy(path)``), if it can be made."""
        for i, (kind, args) in enumerate(self.items):
            if args[-1] is None:  # keep the file's content as it is now
                source = args[0] if kind == "resource" else args[1]
                try:
                    self.items[i] = (kind, (*args[:-1], make_copy(source)))
                except OSError:
                    pass

    def store(self, store_resource, store_artifact):
        """Store them in order with the callbacks; a file leaves the list once stored.

        ``store_resource(path, name)``, ``store_artifact(name, path, metadata, content_type)``.
        """
        while self.items:
            kind, args = self.items[0]
            if kind == "resource":
                store_resource(args[1] or args[0], args[0])
            else:
                name, filename, metadata, content_type, copy = args
                store_artifact(name, copy or filename, metadata, content_type)
            self.items.pop(0)
            if args[-1]:
                ignore_errors(os.remove, args[-1])

    def events(self) -> list:
        """``(event name, kwargs, copy)`` of the files not stored yet (for the journal)."""
        records = []
        for kind, args in self.items:
            if kind == "resource":
                # the original path: the name under which the resource is known
                records.append(("resource_event", {"filename": args[0]}, args[1]))
            else:
                name, filename, metadata, content_type, copy = args
                kwargs = {
                    "name": name,
                    "filename": filename,
                    "metadata": metadata,
                    "content_type": content_type,
                }
                records.append(("artifact_event", kwargs, copy))
        return records
