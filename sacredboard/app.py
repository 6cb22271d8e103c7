"""The Flask app factory."""

from __future__ import annotations

import os
from typing import Optional

from flask import Flask

from sacred.store import RunStore, open_store
from sacredboard import api, files, views
from sacredboard.guards import is_loopback
from sacredboard.proxy import ReverseProxied

__all__ = ("create_app", "DEFAULT_DEAD_AFTER")

DEFAULT_DEAD_AFTER = 120.0

# no inline scripts anywhere: a <script> that ends up in a page cannot run
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'self'"
)


def create_app(
    store,
    *,
    host: str = "127.0.0.1",
    allow_write: Optional[bool] = None,
    dead_after: float = DEFAULT_DEAD_AFTER,
    sub_url: str = "",
    search_spaces: Optional[dict] = None,
    labwatch=None,
    debug: bool = False,
    location=None,
) -> Flask:
    """A Sacredboard app over ``store`` (a RunStore or anything ``open_store`` accepts).

    ``host`` is the address the server listens on: unless it is a loopback address,
    deleting and editing runs and starting TensorBoard are refused unless ``allow_write`` is
    true (see ``sacredboard.guards`` for the Host and Origin checks). ``dead_after`` is
    the heartbeat age (seconds) after which a RUNNING run counts as probably dead.
    ``search_spaces`` maps names to search-space definitions shown on their pages;
    ``labwatch`` is where Labwatch keeps its definitions (a folder, an SQL URL or a MongoDB
    database; by default the store's location when ``store`` is given as one).
    ``location`` is the path or URL the store was opened from (by default ``store`` when
    given as one), for the ``sacred rerun`` line of a run's page.
    """
    if location is None and isinstance(store, (str, os.PathLike)):
        location = store
    if not isinstance(store, RunStore):
        if labwatch is None and isinstance(store, str):
            labwatch = store
        store = open_store(store)
    if labwatch is None and getattr(store, "scheme", "") == "file":
        labwatch = getattr(store, "basedir", None)
    if not dead_after > 0:
        raise ValueError("dead_after must be a positive number of seconds")
    app = Flask(__name__)
    app.config.update(
        SACREDBOARD_STORE=store,
        SACREDBOARD_HOST=host,
        SACREDBOARD_ALLOW_WRITE=is_loopback(host) if allow_write is None else bool(allow_write),
        SACREDBOARD_DEAD_AFTER=float(dead_after),
        SACREDBOARD_SEARCH_SPACES=dict(search_spaces or {}),
        SACREDBOARD_LABWATCH=labwatch,
        SACREDBOARD_LOCATION=location,
        JSON_SORT_KEYS=False,
    )
    app.debug = debug
    app.register_blueprint(api.bp)
    app.register_blueprint(files.bp)
    app.register_blueprint(views.bp)

    @app.after_request
    def _security_headers(resp):
        resp.headers.setdefault("Content-Security-Policy", _CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault("Cache-Control", "no-cache")
        return resp

    app.wsgi_app = ReverseProxied(app.wsgi_app, sub_url or "")
    return app
