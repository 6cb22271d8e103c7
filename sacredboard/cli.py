"""The ``sacredboard`` command.

sacredboard -F runs/                     a FileStorageObserver folder
sacredboard -m sacred                    MongoDB on localhost:27017, database "sacred"
sacredboard -m host:27017:db -mc runs    host, port, database and runs collection
sacredboard -mu mongodb://user:pw@host/?authSource=admin sacred
sacredboard --store sqlite:///runs.db    any sacred.store location
sacredboard                              ./runs if it exists
"""

from __future__ import annotations

import argparse
import os
import sys
import webbrowser
from typing import Optional

from sacred.store import StoreError, open_store, scheme_of
from sacredboard.__about__ import __version__

__all__ = ("main", "parse_mongo_spec", "build_parser", "serve")

PORT_TRIES = 50


def parse_mongo_spec(spec: str) -> tuple:
    """``[host:[port:]]db`` -> ``(host, port, db)``, read from the right like the original.

    An empty spec means database "sacred"; a port that is not a number is a ValueError.
    """
    host, port, db = "localhost", 27017, "sacred"
    parts = spec.split(":") if spec else []
    if parts:
        db = parts[-1] or db
    if len(parts) >= 2:
        port = int(parts[-2])
    if len(parts) >= 3:
        host = ":".join(parts[:-2])
    return host, port, db


def mongo_store_args(uri: str, db: str, collection: str) -> tuple:
    """``open_store`` location and keyword arguments for a Mongo database and runs collection."""
    base = uri.rstrip("/")
    query = ""
    if "?" in base:
        base, query = base.split("?", 1)
        base = base.rstrip("/")
        query = "?" + query
    if base.count("/") > 2:  # a database given in the URI is replaced by ``db``
        base = base.rsplit("/", 1)[0]
    location = f"{base}/{db}{query}"
    kwargs = {}
    if collection != "runs":
        kwargs["runs_collection"] = collection
    return location, kwargs


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sacredboard",
        description="A web dashboard for Sacred's runs.",
        epilog=__doc__.split("\n", 2)[2] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-m", metavar="[HOST:PORT:]DATABASE", dest="mongo", help="MongoDB to read")
    p.add_argument(
        "-mu",
        nargs=2,
        metavar=("CONNECTION_STRING", "DATABASE"),
        dest="mongo_uri",
        help="a MongoDB URI and the database name (overrides -m)",
    )
    p.add_argument("-mc", metavar="COLLECTION", dest="collection", default="runs")
    p.add_argument("-F", metavar="PATH", dest="file_storage", help="a FileStorageObserver folder")
    p.add_argument(
        "--store", metavar="LOCATION", help="any sacred.store location (sqlite:///x.db, ...)"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--port", type=int, default=5000, help="HTTP port; the next ones are tried if busy"
    )
    p.add_argument("--sub-url", default="/", help="serve under this path, e.g. /sacredboard/")
    p.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    p.add_argument("--debug", action="store_true", help="Flask debug mode (with the debugger)")
    p.add_argument(
        "--allow-write",
        action="store_true",
        help="allow deleting and editing runs when listening on a non-loopback address",
    )
    p.add_argument(
        "--dead-after",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help='heartbeat age after which a RUNNING run is "probably dead" (default 120)',
    )
    p.add_argument("--version", action="version", version=f"sacredboard {__version__}")
    return p


def _location(args, err) -> Optional[tuple]:
    """(location, kwargs) of the store to open, or None with a message printed."""
    given = [
        x for x in (args.mongo is not None or args.mongo_uri, args.file_storage, args.store) if x
    ]
    if len(given) > 1:
        err("Give only one of -m/-mu, -F and --store.")
        return None
    if args.mongo_uri:
        if args.mongo is not None:
            err("Both -m and -mu given: using -mu.")
        uri, db = args.mongo_uri
        return mongo_store_args(uri, db, args.collection)
    if args.mongo is not None:
        try:
            host, port, db = parse_mongo_spec(args.mongo)
        except ValueError:
            err(f"-m {args.mongo}: the port must be a number ([HOST:PORT:]DATABASE).")
            return None
        return mongo_store_args(f"mongodb://{host}:{port}", db, args.collection)
    if args.file_storage:
        return os.path.expanduser(args.file_storage), {}
    if args.store:
        return args.store, {}
    if os.path.isdir("runs"):
        return "runs", {}
    err(
        "Must specify either a mongodb instance or a path to a file storage.\n"
        "There is no ./runs folder here. Point sacredboard at your runs, e.g.\n"
        "  sacredboard -F path/to/runs          (FileStorageObserver folder)\n"
        "  sacredboard -m sacred                (MongoDB database on localhost)\n"
        "  sacredboard --store sqlite:///runs.db"
    )
    return None


def _bind(app, host: str, port: int, tries: int):
    from werkzeug.serving import make_server

    last = None
    for candidate in range(port, port + tries):
        try:
            return make_server(host, candidate, app, threaded=True), candidate
        except (OSError, SystemExit) as e:  # werkzeug exits when the port is taken
            last = e
    raise OSError(f"no free port in {port}..{port + tries - 1}: {last}")


def _has_gui() -> bool:
    """Whether a graphical browser can be opened (never a text browser in this terminal)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def serve(app, host: str, port: int, tries: int = PORT_TRIES, open_browser: bool = False):
    server, port = _bind(app, host, port, tries)
    print(f"Starting sacredboard on port {port}", flush=True)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown}:{port}"
    print(f"Open {url}", flush=True)
    if open_browser and _has_gui():
        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def use_the_server_locale() -> None:
    """Times in the run table in the server's locale (``LC_TIME``), as the original, which
    sets the whole locale at import. Here only the command does, and only ``LC_TIME``: an
    ``import sacredboard`` changes nothing in the importing process."""
    import locale

    try:
        locale.setlocale(locale.LC_TIME, "")
    except locale.Error:  # a locale the system does not have: the C locale's format
        pass


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    use_the_server_locale()

    def err(message):
        print(message, file=sys.stderr)

    found = _location(args, err)
    if found is None:
        return 1
    location, kwargs = found
    try:
        from sacredboard.app import create_app  # lazy: Flask loads only to serve, not for --help
    except ImportError as e:
        if e.name not in ("flask", "werkzeug", "jinja2"):
            raise
        err(f'Sacredboard needs {e.name}, which is not installed: pip install "sacred[board]"')
        return 1
    try:
        store = open_store(location, **kwargs)
    except (StoreError, TypeError) as e:
        err(f"Cannot open {location}: {e}")
        return 1
    if args.dead_after <= 0:
        err("--dead-after must be positive")
        return 1
    app = create_app(
        store,
        host=args.host,
        allow_write=True if args.allow_write else None,
        dead_after=args.dead_after,
        sub_url=args.sub_url,
        labwatch=location if scheme_of(location) not in ("mongodb", "mongodb+srv") else None,
        debug=args.debug,
        location=location if isinstance(location, str) else None,
    )
    print(f"Sacredboard {__version__} reading {store!r}", flush=True)
    if not app.config["SACREDBOARD_ALLOW_WRITE"]:
        print(f"Listening on {args.host}: deleting and editing runs are disabled (--allow-write).")
    if args.debug:
        from werkzeug.serving import run_simple

        server, port = _bind(app, args.host, args.port, PORT_TRIES)
        server.server_close()
        print(f"Starting sacredboard on port {port}", flush=True)
        run_simple(args.host, port, app, use_debugger=True, use_reloader=False, threaded=True)
        return 0
    serve(app, args.host, args.port, open_browser=not args.no_browser)
    return 0


if __name__ == "__main__":
    sys.exit(main())
