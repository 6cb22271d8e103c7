"""Files of a run (blueprint ``files``): artifacts, sources and resources, one at a time,
viewed in a page, or all of a kind as a zip."""

from __future__ import annotations

import datetime as _dt
import io
import mimetypes
import posixpath
import re
import zipfile

from flask import Blueprint, render_template, request, send_file

from sacred.store import OutsideStoreError, RunNotFoundError, StoreError
from sacredboard.errors import install_error_handlers
from sacredboard.guards import refuse_writes
from sacredboard.requests_util import run_id_of, store

bp = Blueprint("files", __name__)
install_error_handlers(bp)
bp.before_request(refuse_writes)  # GET only here; any other method passes the guards

_INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
_OBJECT_ID = re.compile(r"[0-9a-f]{24}")


_KINDS = ("artifact", "source", "resource")


def _gridfs_id(file_id: str):
    """The ObjectId of a GridFS file id (24 hex digits) of a MongoDB store, or None."""
    if getattr(store(), "fs", None) is None or not _OBJECT_ID.fullmatch(file_id):
        return None
    from bson import ObjectId

    return ObjectId(file_id)


def _read_gridfs(oid):
    """(content, name, mimetype) of a file of the store's GridFS (the original's file ids)."""
    import gridfs.errors

    try:
        f = store().fs.get(oid)
    except gridfs.errors.NoFile:
        raise RunNotFoundError(f"no file {str(oid)!r}") from None
    data = f.read()
    name = _display_name(f.filename or str(oid))
    return data, name, mimetypes.guess_type(name)[0] or "binary/octet-stream"


def _display_name(stored: str) -> str:
    """``artifact://runs/14/model.txt`` or ``/home/u/train.py`` -> its last part."""
    return posixpath.basename(stored.replace("\\", "/")) or "file"


def _read_file(file_id: str):
    """``<run>/<kind>/<name>`` -> (content, name, mimetype); only files recorded for that run.

    On a MongoDB store, a GridFS id (as in the rows' ``file_id`` there) names a file too.
    """
    oid = _gridfs_id(file_id)
    if oid is not None:
        return _read_gridfs(oid)
    parts = file_id.split("/", 2)
    if len(parts) != 3 or parts[1] not in _KINDS or not parts[2]:
        raise RunNotFoundError(f"no file {file_id!r} (ids look like 3/artifact/model.txt)")
    rid, kind, name = run_id_of(parts[0]), parts[1], parts[2]
    s = store()
    listed = {"artifact": s.artifacts, "source": s.sources, "resource": s.resources}[kind](rid)
    if name not in listed:
        raise RunNotFoundError(f"run {parts[0]} has no {kind} {name!r}")
    opener = {"artifact": s.open_artifact, "source": s.open_source, "resource": s.open_resource}
    try:
        with opener[kind](rid, name) as stream:
            data = stream.read()
    except OSError as e:
        raise RunNotFoundError(f"{kind} {name!r} of run {parts[0]} cannot be read: {e}") from None
    return data, name, mimetypes.guess_type(name)[0] or "binary/octet-stream"


@bp.route("/api/file/<path:file_id>")
def file_download(file_id):
    data, name, mime = _read_file(file_id)
    inline = request.args.get("inline") == "1" and mime in _INLINE_TYPES
    resp = send_file(
        io.BytesIO(data),
        mimetype=mime,
        as_attachment=not inline,
        download_name=posixpath.basename(name),
    )
    resp.headers["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'"
    return resp


@bp.route("/api/fileview/<path:file_id>")
def file_view(file_id):
    data, name, mime = _read_file(file_id)
    text = None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return render_template(
        "file_view.html",
        name=name,
        file_id=file_id,
        text=text,
        image=mime in _INLINE_TYPES,
        length=len(data),
        first_bytes=" ".join(f"0x{b:02x}" for b in data[:10]),
    )


def _safe_arcname(name: str) -> str:
    parts = [
        p
        for p in posixpath.normpath(name.replace("\\", "/")).split("/")
        if p not in ("", ".", "..")
    ]
    return "/".join(parts) or "file"


def _zip_entry(arcname: str, f):
    """A zip entry dated by the file's GridFS upload date (as the original), else now."""
    when = getattr(f, "upload_date", None)
    if isinstance(when, _dt.datetime):
        if when.tzinfo is not None:
            when = when.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        if when.year >= 1980:
            info = zipfile.ZipInfo(arcname, date_time=when.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            return info
    return arcname


def _zip(run_id: str, kind: str, suffix: str):
    s = store()
    rid = run_id_of(run_id)
    names = s.artifacts(rid) if kind == "artifact" else s.sources(rid)
    opener = s.open_artifact if kind == "artifact" else s.open_source
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in names:
            try:
                with opener(rid, name) as f:
                    zf.writestr(_zip_entry(_safe_arcname(name), f), f.read())
            except OutsideStoreError:
                raise  # a 403 for the whole zip: the run lists a file outside the store
            except (OSError, StoreError):
                continue  # a file that is gone is left out
    buf.seek(0)
    return send_file(
        buf,
        mimetype="application/zip",
        as_attachment=True,
        download_name=f"run{run_id}_{suffix}.zip",
    )


@bp.route("/api/artifacts/<run_id>")
def artifacts_zip(run_id):
    return _zip(run_id, "artifact", "artifact")


@bp.route("/api/sources/<run_id>")
def sources_zip(run_id):
    return _zip(run_id, "source", "source")
