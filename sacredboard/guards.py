"""Who may change runs: the loopback rule, the write switch and the same-origin check.

Every request that is not GET, HEAD or OPTIONS changes something (deleting a run, saving
tags and notes, starting or stopping TensorBoard), and the app passes each of them through
``write_refused`` before its route runs (``refuse_writes``, a ``before_request`` hook):

- a request made by a page of another site is refused: ``Sec-Fetch-Site`` is
  ``cross-site`` or ``same-site``, or an ``Origin`` is sent whose host and port differ from
  the request's ``Host`` (browsers send both with every such request they make);
- on a loopback address, the server accepts them only for a loopback ``Host`` (``localhost``,
  an IPv4 address in 127.0.0.0/8, ``[::1]``, each with or without a port), so that a page of
  another site whose name now resolves to 127.0.0.1 (DNS rebinding) changes nothing;
- on any other address, they are refused unless the server was started with
  ``--allow-write`` (``SACREDBOARD_ALLOW_WRITE``).
"""

from __future__ import annotations

import ipaddress
from typing import Optional
from urllib.parse import urlsplit

from flask import Response, current_app, request

from sacredboard.requests_util import error

__all__ = ("SAFE_METHODS", "is_loopback", "cross_site", "write_refused", "refuse_writes")

#: methods that change nothing; every other one passes ``write_refused``
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_IPV6_LOOPBACK = ipaddress.IPv6Address("::1")


def split_host(host: str) -> Optional[tuple]:
    """``(name, port or None)`` of a ``Host`` header or a listening address (``localhost``,
    ``127.0.0.1:5000``, ``[::1]:5000``, a bare ``::1``); None if it is malformed."""
    host = (host or "").strip()
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            return None
        name, rest = host[1:end], host[end + 1 :]
    elif host.count(":") > 1:  # a bare IPv6 address (as given to --host)
        name, rest = host, ""
    else:
        name, sep, port = host.partition(":")
        rest = sep + port
    port = None
    if rest:
        digits = rest[1:]
        if not (rest[0] == ":" and digits.isascii() and digits.isdigit()):
            return None
        port = int(digits)
    if not name:
        return None
    return name.lower(), port


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a Host header or an address, with or without a port) is exactly
    ``localhost``, an IPv4 address in 127.0.0.0/8 or ``::1``; ``127.0.0.1.evil.example``
    is not."""
    split = split_host(host)
    if split is None:
        return False
    name = split[0]
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if address.version == 4:
        return address.is_loopback
    return address == _IPV6_LOOPBACK


def _authority(host: str, scheme: str) -> Optional[tuple]:
    split = split_host(host)
    if split is None:
        return None
    name, port = split
    return name, None if port == _DEFAULT_PORTS.get(scheme) else port


def cross_site() -> Optional[str]:
    """Why this request comes from a page of another site, None if it does not seem to."""
    site = (request.headers.get("Sec-Fetch-Site") or "").strip().lower()
    if site in ("cross-site", "same-site"):
        return f"Sec-Fetch-Site: {site}"
    origin = request.origin
    if origin is not None:
        try:
            parts = urlsplit(origin)
            theirs = _authority(parts.netloc, parts.scheme.lower()) if parts.netloc else None
        except ValueError:
            theirs = None
        ours = _authority(request.host, request.scheme)
        if theirs is None or ours is None or theirs != ours:
            return f"Origin: {origin}"
    return None


def write_refused() -> Optional[Response]:
    """None if this request may change runs, else the 403 response saying why."""
    why = cross_site()
    if why is not None:
        return error(403, f"Refused: a page of another site ({why}) may not change runs.")
    host = current_app.config["SACREDBOARD_HOST"]
    if is_loopback(host) and not is_loopback(request.host):
        # a page of another site whose name now resolves to 127.0.0.1 (DNS rebinding)
        return error(403, f"Refused: requests for {request.host!r} may not change runs.")
    if current_app.config["SACREDBOARD_ALLOW_WRITE"]:
        return None
    return error(
        403,
        f"Sacredboard listens on {host} (not only this computer), so deleting and editing "
        "runs and starting TensorBoard are disabled. Restart it with --allow-write to allow "
        "them.",
    )


def refuse_writes() -> Optional[Response]:
    """The app's ``before_request`` hook: ``write_refused`` for every method but GET,
    HEAD and OPTIONS."""
    if request.method in SAFE_METHODS:
        return None
    return write_refused()
