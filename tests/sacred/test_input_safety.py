"""Bad or hostile input gets a one-line error, never a traceback, a hang or silent garbage.

Command-line values, config files and store queries are data: nothing in them runs code
(except a .pickle config file, which the user names on purpose).
"""

import re
import subprocess
import sys

import pytest

from sacred.store.query import MAX_NESTING, QueryError, parse


def _run(args, cwd=None, timeout=60):
    proc = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )
    return proc.returncode, proc.stdout, proc.stderr


# ------------------------------------------------------------------------- store queries
@pytest.mark.parametrize("rel", ["-99999999d", "+99999999d", "-99999999999999999999w"])
def test_query_relative_time_out_of_range_is_a_query_error(rel):
    with pytest.raises(QueryError, match=re.escape(f"relative time '{rel}' is out of range")):
        parse(f"start_time > {rel}")


def test_query_relative_time_in_range_still_works():
    import datetime as dt

    now = dt.datetime(2026, 1, 10)
    node = parse("start_time > -2d", now=now)
    assert node.value == dt.datetime(2026, 1, 8)


@pytest.mark.parametrize(
    "query",
    [
        "(" * 5000 + "a == 1" + ")" * 5000,
        "not " * 5000 + "a == 1",
        "a in " + "[" * 5000 + "]" * 5000,
    ],
    ids=["parentheses", "not", "lists"],
)
def test_query_nesting_is_limited(query):
    with pytest.raises(QueryError) as info:
        parse(query)
    assert str(info.value) == f"the query nests deeper than {MAX_NESTING} levels"


def test_query_nesting_up_to_the_limit_is_fine():
    depth = MAX_NESTING // 2
    assert parse("(" * depth + "not " * depth + "a == 1" + ")" * depth) is not None


def test_json_filter_tree_nesting_is_limited():
    leaf = '{"field": "a", "operator": "==", "value": 1}'
    deep = '{"type": "and", "filters": [' * 200 + leaf + "]}" * 200
    with pytest.raises(QueryError, match="nests deeper than"):
        parse(deep)
    with pytest.raises(QueryError, match="nests too deeply"):
        parse('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")


def test_cli_query_errors_are_short(tmp_path):
    rc, out, err = _run(
        ["-m", "sacred.cli", "runs", "list", str(tmp_path), "-q", "start_time > -99999999d"]
    )
    assert rc == 1
    assert err.splitlines()[0] == "sacred: error: relative time '-99999999d' is out of range"
    assert "Traceback" not in err

    rc, out, err = _run(
        ["-m", "sacred.cli", "runs", "list", str(tmp_path), "-q", "(" * 5000 + "a==1" + ")" * 5000],
        timeout=30,
    )
    assert rc == 1
    assert err == f"sacred: error: the query nests deeper than {MAX_NESTING} levels\n"
