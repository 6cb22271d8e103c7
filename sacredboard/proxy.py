"""Serving under a sub-URL or behind a reverse proxy (``--sub-url``, ``X-Script-Name``)."""

from __future__ import annotations

__all__ = ("ReverseProxied",)


class ReverseProxied:
    """WSGI middleware: mounts the app at ``script_name`` (or at ``X-Script-Name``).

    ``X-Scheme`` sets the URL scheme and ``X-Forwarded-Server`` the host, as the original did.
    """

    def __init__(self, app, script_name: str = ""):
        self.app = app
        self.script_name = "/" + script_name.strip("/") if script_name.strip("/") else ""

    def __call__(self, environ, start_response):
        script_name = environ.get("HTTP_X_SCRIPT_NAME", "") or self.script_name
        if script_name:
            script_name = "/" + script_name.strip("/")
            environ["SCRIPT_NAME"] = script_name
            path = environ.get("PATH_INFO", "")
            if path == script_name or path.startswith(script_name + "/"):
                environ["PATH_INFO"] = path[len(script_name) :] or "/"
        scheme = environ.get("HTTP_X_SCHEME", "")
        if scheme in ("http", "https"):
            environ["wsgi.url_scheme"] = scheme
        server = environ.get("HTTP_X_FORWARDED_SERVER", "")
        if server:
            environ["HTTP_HOST"] = server
        return self.app(environ, start_response)
