"""The observers' command-line options and their value parsers."""

import pytest

from sacred.arg_parser import format_usage
from sacred.observers.file_storage import FileStorageObserver, file_storage_option
from sacred.observers.gcs_observer import gcs_join, gcs_option
from sacred.observers.mongo import (
    DEFAULT_MONGO_PRIORITY,
    get_pattern,
    mongo_db_option,
    parse_mongo_db_arg,
)
from sacred.observers.s3_observer import DEFAULT_S3_PRIORITY, _is_valid_bucket, s3_join, s3_option
from sacred.observers.sql import DEFAULT_SQL_PRIORITY, sql_option
from sacred.observers.tinydb_hashfs import tiny_db_option
from sacred.utils import CommandLineError


class FakeRun:
    def __init__(self):
        self.observers = []


def test_flags():
    assert file_storage_option.get_flags() == ("-F", "--file_storage")
    assert mongo_db_option.get_flags() == ("-m", "--mongo_db")
    assert sql_option.get_flags() == ("-s", "--sql")
    assert tiny_db_option.get_flags() == ("-t", "--tiny_db")
    assert s3_option.get_flags() == ("-S", "--s3")
    assert gcs_option.get_flags() == ("-G", "--gcs")
    for opt in (file_storage_option, mongo_db_option, sql_option, tiny_db_option, s3_option):
        assert opt.arg == "VALUE" and not opt.is_flag
    assert file_storage_option.get_name() == "file_storage_option"


def test_priorities():
    assert (DEFAULT_MONGO_PRIORITY, DEFAULT_SQL_PRIORITY, DEFAULT_S3_PRIORITY) == (30, 40, 20)


def _help_block(text, flag):
    """The lines of one option in a help text, from its flag line to the next option."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  {flag} "))
    end = start + 1
    while end < len(lines) and lines[end].startswith(" " * 32):
        end += 1
    return lines[start:end]


# from ``python demo.py --help`` of the original (sacred_cli_samples.txt)
ORIGINAL_HELP = """\
  -F VALUE --file_storage=VALUE  Add a file-storage observer to the experiment.
                                The value of the arguement should be the base-
                                directory to write the runs to
  -m VALUE --mongo_db=VALUE     Add a MongoDB Observer to the experiment.  The
                                argument value is the database specification.
                                Should be in the form:  `[host:port:]db_name[.c
                                ollection[:id]][!priority]`
  -S VALUE --s3=VALUE           Add a S3 File observer to the experiment.  The
                                argument value should be
                                `s3://<bucket>/path/to/exp`.
  -s VALUE --sql=VALUE          Add a SQL Observer to the experiment.  The
                                typical form is:
                                dialect://username:password@host:port/database
  -t VALUE --tiny_db=VALUE      Add a TinyDB Observer to the experiment.  The
                                argument is the path to be given to the
                                TinyDbObserver.
"""


@pytest.mark.parametrize(
    "option, flag",
    [
        (file_storage_option, "-F"),
        (mongo_db_option, "-m"),
        (s3_option, "-S"),
        (sql_option, "-s"),
        (tiny_db_option, "-t"),
    ],
)
def test_help_text_matches_the_original(option, flag):
    ours = format_usage("demo.py", "doc", None, [option])
    assert _help_block(ours, flag) == _help_block(ORIGINAL_HELP, flag)


def test_gcs_help_text():
    ours = format_usage("demo.py", "doc", None, [gcs_option])
    assert _help_block(ours, "-G") == [
        "  -G VALUE --gcs=VALUE          Add a Google Cloud Storage File observer to the",
        "                                experiment.  The argument value should be",
        "                                `gs://<bucket>/path/to/exp`.",
    ]


def test_file_storage_option_appends_observer(tmp_path):
    run = FakeRun()
    file_storage_option.apply(str(tmp_path / "runs"), run)
    assert run.observers == [FileStorageObserver(str(tmp_path / "runs"))]
    assert not (tmp_path / "runs").exists()  # nothing is created before the run starts


# ----------------------------------------------------------------- mongo
@pytest.mark.parametrize(
    "spec, kwargs",
    [
        ("foo", {"db_name": "foo"}),
        ("bar.baz", {"db_name": "bar", "collection": "baz"}),
        ("localhost:28017", {"url": "localhost:28017"}),
        ("localhost:28017:foo", {"url": "localhost:28017", "db_name": "foo"}),
        (
            "localhost:28017:foo.bar!17",
            {"url": "localhost:28017", "db_name": "foo", "collection": "bar", "priority": 17},
        ),
        ("foo!-3", {"db_name": "foo", "priority": -3}),
        (
            "db.example.com:27017:my_db.runs:12",
            {
                "url": "db.example.com:27017",
                "db_name": "my_db",
                "collection": "runs",
                "overwrite": 12,
            },
        ),
        ("127.0.0.1:27017", {"url": "127.0.0.1:27017"}),
        ("foo:12", {"url": "foo:12"}),
        ("_x#%&'()+-;=@[]^_{}", {"db_name": "_x#%&'()+-;=@[]^_{}"}),
    ],
)
def test_parse_mongo_db_arg(spec, kwargs):
    assert parse_mongo_db_arg(spec) == kwargs


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "1foo",
        "foo.",
        "foo.bar.baz",
        "foo:bar",
        "foo!x",
        "a" * 65,
        "localhost:port:foo",
    ],
)
def test_malformed_mongo_spec_is_a_clean_error(spec):
    with pytest.raises(CommandLineError) as excinfo:
        parse_mongo_db_arg(spec)
    message = str(excinfo.value)
    assert repr(spec) in message
    assert "[host:port:]db_name[.collection[:id]][!priority]" in message


def test_mongo_option_rejects_malformed_spec_before_needing_pymongo():
    run = FakeRun()
    with pytest.raises(CommandLineError):
        mongo_db_option.apply("not a spec", run)
    assert run.observers == []


def test_get_pattern_names_the_parts():
    import re

    g = re.match(get_pattern(), "h:1:d.c:2!3").groupdict()
    assert (
        g["host2"],
        g["port2"],
        g["db_name"],
        g["collection"],
        g["overwrite"],
        g["priority"],
    ) == (
        "h",
        "1",
        "d",
        "c",
        "2",
        "3",
    )


# ----------------------------------------------------------------- s3 / gcs
@pytest.mark.parametrize(
    "name", ["abc", "my-bucket", "my.bucket.name", "a1b2c3", "a" * 63, "bucket-1.example"]
)
def test_valid_bucket_names(name):
    assert _is_valid_bucket(name)


@pytest.mark.parametrize(
    "name",
    [
        "ab",
        "a" * 64,
        "MyBucket",
        "my_bucket",
        "-bucket",
        "bucket-",
        "my..bucket",
        ".bucket",
        "bucket.",
        "my.-bucket",
        "192.168.1.1",
        "buck et",
    ],
)
def test_invalid_bucket_names(name):
    assert not _is_valid_bucket(name)


@pytest.mark.parametrize(
    "value", ["bucket/path", "s3://", "s3:/bucket/path", "s3://bucket", "gs://b/p"]
)
def test_s3_option_rejects_bad_locations(value):
    run = FakeRun()
    with pytest.raises(CommandLineError, match="s3://<bucket>/path/to/exp"):
        s3_option.apply(value, run)
    assert run.observers == []


def test_s3_option_rejects_bad_bucket_names():
    with pytest.raises(CommandLineError) as excinfo:
        s3_option.apply("s3://Bad_Bucket/exp", FakeRun())
    assert str(excinfo.value) == (
        "Invalid S3 location 's3://Bad_Bucket/exp': "
        "Your chosen bucket name doesn't follow AWS bucket naming rules"
    )
    assert isinstance(excinfo.value, ValueError)  # the original raised ValueError


@pytest.mark.parametrize("value", ["bucket/path", "gs://", "s3://bucket/path"])
def test_gcs_option_rejects_bad_locations(value):
    with pytest.raises(CommandLineError, match="gs://<bucket>/path/to/exp"):
        gcs_option.apply(value, FakeRun())


def test_joins_use_forward_slashes():
    assert s3_join("base", "1", "run.json") == "base/1/run.json"
    assert s3_join("base/", "_sources") == "base/_sources"
    assert gcs_join("base", "1", "cout.txt") == "base/1/cout.txt"
