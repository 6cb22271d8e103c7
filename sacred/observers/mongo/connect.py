"""How the readers connect to a MongoDB URL: a short wait for the server, then one line.

pymongo waits 30 s for a server before its first operation fails with a long traceback. A
reader (``open_store("mongodb://...")``, ``sacred runs``, Sacredboard) waits
``SACRED_MONGO_TIMEOUT`` seconds (5 by default) instead, unless the URL or the keyword
arguments set ``serverSelectionTimeoutMS``, and checks the server once (``ping``) when the
store is opened, so that an unreachable server is a ``StoreError`` naming the URL and the
reason. A MongoObserver given a URL waits as long for its first contact
(``first_contact_timeout``), and then only briefly while the server stays away (see
``sacred.observers.mongo.failure``); its client keeps pymongo's settings otherwise.
"""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qsl, urlsplit

from sacred.store.base import StoreError

__all__ = (
    "TIMEOUT_ENV",
    "DEFAULT_TIMEOUT",
    "connect",
    "shown_url",
    "masked_url",
    "first_contact_timeout",
)

TIMEOUT_ENV = "SACRED_MONGO_TIMEOUT"
DEFAULT_TIMEOUT = 5.0  # seconds
_OPTION = "serverselectiontimeoutms"


def _default_timeout() -> float:
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise StoreError(f"{TIMEOUT_ENV} must be a number of seconds, not {text!r}")
    return seconds


def _given_timeout(url: str, kwargs: dict):
    """``serverSelectionTimeoutMS`` from the keyword arguments or the URL (seconds), or None."""
    for key, value in kwargs.items():
        if key.lower() == _OPTION and value is not None:
            return float(value) / 1000
    for key, value in parse_qsl(urlsplit(url).query):
        if key.lower() == _OPTION:
            try:
                return float(value) / 1000
            except ValueError:
                return None  # pymongo says what is wrong with it
    return None


def first_contact_timeout(url, kwargs: dict):
    """Seconds an observer waits for the server of ``url`` at its first contact:
    ``SACRED_MONGO_TIMEOUT``, or None when the URL or ``kwargs`` set
    ``serverSelectionTimeoutMS`` (the client's own setting applies)."""
    if _given_timeout(str(url or ""), kwargs) is not None:
        return None
    return _default_timeout()


def shown_url(url: str) -> str:
    """The URL without its query and password, for messages."""
    url = url.split("?", 1)[0]
    return re.sub(r"^([a-z+]+://[^:/@]*):[^@/]*@", r"\1:***@", url)


def _reason(error) -> str:
    """pymongo's message without its timeouts and topology description."""
    text = str(error).split(", Timeout:", 1)[0]
    text = re.sub(r" \(configured timeouts: [^)]*\)", "", text)
    return text.strip() or type(error).__name__


def connect(pymongo, url: str, **kwargs):
    """A ``pymongo.MongoClient`` for ``url`` whose server answered, or a one-line StoreError."""
    seconds = _given_timeout(url, kwargs)
    if seconds is None:
        seconds = _default_timeout()
        kwargs["serverSelectionTimeoutMS"] = int(seconds * 1000)
    where = shown_url(url)
    from pymongo import errors

    try:
        client = pymongo.MongoClient(url, **kwargs)
    except (errors.ConfigurationError, ValueError, TypeError) as e:
        raise StoreError(f"Invalid MongoDB URL {where}: {e}") from None
    try:
        client.admin.command("ping")
    except errors.ServerSelectionTimeoutError as e:
        client.close()
        raise StoreError(
            f"Cannot reach MongoDB at {where}: {_reason(e)} "
            f"(waited {seconds:g} s; {TIMEOUT_ENV} sets how long)"
        ) from None
    except errors.PyMongoError as e:
        client.close()
        raise StoreError(f"Cannot read MongoDB at {where}: {_reason(e)}") from None
    return client


def masked_url(url, database) -> str:
    """``mongodb://[user:***@]host:port[,...]/db[?options]`` of the database: from the URL
    the observer was given (its password masked), or from the client, without waiting for
    a server."""
    if url:
        text = str(url)
        scheme, _, rest = text.rpartition("://")
        hosts, _, tail = rest.partition("/")
        query = rest.partition("?")[2]
        hosts = hosts.split("?", 1)[0]
        if "@" in hosts:
            user, _, hosts = hosts.rpartition("@")
            hosts = f"{user.split(':', 1)[0]}:***@{hosts}" if ":" in user else f"{user}@{hosts}"
        location = f"{scheme or 'mongodb'}://{hosts}/{database.name}"
        return f"{location}?{query}" if query else location
    client = database.client
    try:
        nodes = sorted(client.topology_description.server_descriptions())
        hosts = ",".join(f"{h}:{p}" for h, p in nodes)
    except Exception:
        try:  # mongomock
            host, port = client.address
            hosts = f"{host}:{port}"
        except Exception:
            hosts = "localhost"
    return f"mongodb://{hosts}/{database.name}"
