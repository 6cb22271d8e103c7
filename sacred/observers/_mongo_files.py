"""Files of the MongoObserver in GridFS: sources, resources, artifacts and the content type
of artifacts (``mimetype_detector``, public through ``sacred.observers.mongo``).
"""

import os

_mime_types = None


def mimetype_detector(filename):
    """The content type of ``filename`` from ``sacred/data/mime.types`` (None if unknown)."""
    global _mime_types
    import mimetypes

    if _mime_types is None:
        path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "mime.types")
        _mime_types = mimetypes.MimeTypes(filenames=[path])
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


class _MongoFiles:
    """Part of ``MongoObserver``: storing sources, resources and artifacts in GridFS."""

    def _sync_files(self):
        while self._pending_files:
            kind, args = self._pending_files[0]
            if kind == "resource":
                self._store_resource(args[1] or args[0], name=args[0])
            else:
                name, filename, metadata, content_type, copy = args
                self._store_artifact(name, copy or filename, metadata, content_type)
            self._pending_files.pop(0)
            if args[-1]:
                self._ignore_errors(os.remove, args[-1])

    def save_sources(self, ex_info):
        from sacred.dependencies import get_digest

        base_dir = ex_info["base_dir"]
        source_info = []
        for source_name, md5 in ex_info["sources"]:
            abs_path = os.path.join(base_dir, source_name)
            file = self.fs.find_one({"filename": abs_path, "md5": md5})
            if file:
                _id = file._id
            else:
                md5 = md5 or get_digest(abs_path)
                with open(abs_path, "rb") as f:
                    _id = self.fs.put(f, filename=abs_path, md5=md5)
            source_info.append([source_name, _id])
        return source_info

    def _store_resource(self, filename, name=None):
        from sacred.dependencies import get_digest

        name = name or filename
        md5hash = get_digest(filename)
        if not self.fs.exists(filename=name, md5=md5hash):
            with open(filename, "rb") as f:
                self.fs.put(f, filename=name, md5=md5hash)
        resource = [name, md5hash]
        if resource not in [list(r) for r in self.run_entry["resources"]]:
            self.run_entry["resources"].append(resource)
            self._dirty.add("resources")

    def _store_artifact(self, name, filename, metadata, content_type):
        db_filename = f"artifact://{self.runs.name}/{self.run_entry['_id']}/{name}"
        with open(filename, "rb") as f:
            file_id = self.fs.put(
                f, filename=db_filename, metadata=metadata, content_type=content_type
            )
        self.run_entry["artifacts"].append({"name": name, "file_id": file_id})
        self._dirty.add("artifacts")

    @staticmethod
    def _try_to_detect_content_type(filename):
        mime_type = mimetype_detector(filename)
        if mime_type is not None:
            print(f"Added {mime_type} as content-type of artifact {filename}.")
        else:
            print(f"Failed to detect content-type automatically for artifact {filename}.")
        return mime_type
