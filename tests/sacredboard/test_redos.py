"""One regular expression no longer freezes the dashboard (issue 13, ReDoS).

Python's ``re`` holds the GIL while it backtracks, so ``config.b regex "(a+)+$"`` on a run
with ``b = "a" * 34 + "!"`` used to stop every other request for minutes. Queries match with
RE2 now (linear time). The server runs in a subprocess (threaded, on 127.0.0.1), so that a
regression fails this test by its timeouts instead of freezing the test process too.
"""

import json
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from sacred import Experiment

EVIL = "a" * 34 + "!"
GOOD = "a" * 34
PATTERNS = {  # pattern -> ids of the runs it matches (evil is run 1, good run 2)
    r"(a+)+$": [2],
    r"(a|a)*$": [1, 2],
    r"(a|aa)+$": [2],
    r"(\w+\s?)+$": [2],
    r"(.*a){25}": [1, 2],
}
ANSWER_WITHIN = 1.0  # seconds for the other requests while a regex query runs
QUERY_WITHIN = 30.0

_SERVER = textwrap.dedent(
    """
    import sys
    from werkzeug.serving import make_server
    from sacredboard.app import create_app

    server = make_server("127.0.0.1", 0, create_app(sys.argv[1]), threaded=True)
    print(server.server_port, flush=True)
    server.serve_forever()
    """
)


def _fill(observer_factory):
    for value in (EVIL, GOOD):
        ex = Experiment("redos")

        @ex.config
        def cfg():
            b = ""  # noqa: F841

        @ex.main
        def main(b):
            return len(b)

        ex.observers.append(observer_factory())
        ex.run(config_updates={"b": value}, options={"--capture": "sys"})


def _file(tmp_path):
    from sacred.observers import FileStorageObserver

    _fill(lambda: FileStorageObserver(str(tmp_path / "runs")))
    return str(tmp_path / "runs")


def _sqlite(tmp_path):
    pytest.importorskip("sqlalchemy")
    from sacred.observers import SqlObserver

    url = f"sqlite:///{tmp_path / 'runs.db'}"
    _fill(lambda: SqlObserver(url))
    return url


@pytest.fixture(params=["file", "sqlite"])
def server_url(request, tmp_path):
    location = {"file": _file, "sqlite": _sqlite}[request.param](tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER, location],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        port = proc.stdout.readline().strip()
        assert port.isdigit(), "the server did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _get(url, timeout):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def _ids(body):
    return sorted(int(row["id"]) for row in body["data"])


def test_other_requests_are_answered_while_a_regex_query_runs(server_url):
    assert _ids(_get(server_url + "/api/run?length=5", QUERY_WITHIN)) == [1, 2]  # warm
    results, errors = {}, []

    def regex_queries():
        try:
            for pattern in PATTERNS:
                query = urllib.parse.quote(f"config.b regex {json.dumps(pattern)}")
                results[pattern] = _get(f"{server_url}/api/run?q={query}", QUERY_WITHIN)
        except Exception as e:  # reported below
            errors.append(e)

    worker = threading.Thread(target=regex_queries, daemon=True)
    worker.start()
    slowest = 0.0
    for _ in range(10):
        start = time.perf_counter()
        try:
            body = _get(server_url + "/api/run/2", ANSWER_WITHIN)
        except OSError as e:  # a socket timeout: the server is frozen
            pytest.fail(f"a request was not answered within {ANSWER_WITHIN} s: {e}")
        slowest = max(slowest, time.perf_counter() - start)
        assert body["data"][0]["id"] == "2"
        time.sleep(0.02)
    assert slowest < ANSWER_WITHIN
    worker.join(QUERY_WITHIN * len(PATTERNS))
    assert not worker.is_alive() and not errors, errors
    for pattern, expected in PATTERNS.items():
        assert _ids(results[pattern]) == expected, pattern
        assert results[pattern]["recordsFiltered"] == len(expected)


def test_a_regex_needing_backtracking_is_a_400(server_url):
    query = urllib.parse.quote('config.b regex "(a+)\\\\1"')
    with pytest.raises(urllib.error.HTTPError) as info:
        _get(f"{server_url}/api/run?q={query}", QUERY_WITHIN)
    assert info.value.code == 400
    message = json.loads(info.value.read())["errorMessage"]
    assert message.splitlines()[0] == (
        "unsupported regular expression: backreferences (\\1, (?P=name)) are not supported "
        "(queries match with RE2, in linear time)"
    )


def test_a_query_the_database_stopped_is_a_400_with_its_reason(fresh_dir, monkeypatch):
    from sacred.store import QueryError, open_store
    from sacredboard.app import create_app

    store = open_store(fresh_dir)

    def stopped(*args, **kwargs):
        raise QueryError("the database stopped the query after 10 s (query_timeout)")

    monkeypatch.setattr(store, "_select_summaries", stopped)
    monkeypatch.setattr(store, "count", stopped)
    answer = create_app(store).test_client().get("/api/run?q=config.b%20regex%20%22a%22")
    assert answer.status_code == 400
    assert "stopped the query after 10 s" in answer.get_json()["errorMessage"]
