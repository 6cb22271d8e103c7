"""The sacredboard command and the TensorBoard launcher, with real processes and sockets."""

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from sacred.store import open_store
from sacredboard import tensorboard
from sacredboard.app import create_app
from sacredboard.cli import main, mongo_store_args, parse_mongo_spec

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("", ("localhost", 27017, "sacred")),
        ("database_name", ("localhost", 27017, "database_name")),
        ("789:db_name", ("localhost", 789, "db_name")),
        ("anotherhost:789:db_name", ("anotherhost", 789, "db_name")),
    ],
)
def test_mongo_spec_is_read_from_the_right(spec, expected):
    assert parse_mongo_spec(spec) == expected


def test_mongo_spec_with_a_bad_port():
    with pytest.raises(ValueError):
        parse_mongo_spec("bla:bla:bla")


def test_mongo_store_locations():
    assert mongo_store_args("mongodb://h:1", "db", "runs") == ("mongodb://h:1/db", {})
    assert mongo_store_args("mongodb://u:p@h/?authSource=admin", "sacred", "runs") == (
        "mongodb://u:p@h/sacred?authSource=admin",
        {},
    )
    assert mongo_store_args("mongodb://h/other", "db", "exp_runs") == (
        "mongodb://h/db",
        {"runs_collection": "exp_runs"},
    )
    assert mongo_store_args("mongodb://h", "db", "default.runs") == (
        "mongodb://h/db",
        {"runs_collection": "default.runs"},
    )


def test_no_source_and_no_runs_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["--no-browser"]) == 1
    err = capsys.readouterr().err
    assert "Must specify either a mongodb instance or a path to a file storage." in err
    assert "sacredboard -F path/to/runs" in err


def test_missing_folder_and_bad_port_spec(tmp_path, capsys):
    assert main(["-F", str(tmp_path / "nope"), "--no-browser"]) == 1
    assert "There is no FileStorageObserver folder" in capsys.readouterr().err
    assert main(["-m", "bla:bla:bla", "--no-browser"]) == 1
    assert "the port must be a number" in capsys.readouterr().err
    assert main(["-F", str(tmp_path), "--store", "x", "--no-browser"]) == 1


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read_port(proc, timeout=30):
    deadline = time.time() + timeout
    lines = []
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Starting sacredboard on port "):
            return int(line.split()[-1]), lines
    raise AssertionError("server did not start: " + "".join(lines))


def test_server_serves_runs_folder_and_skips_a_busy_port(filled_dir, tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    os.symlink(filled_dir, tmp_path / "runs")  # no source given: ./runs is served
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sacredboard", "--port", str(port), "--no-browser"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        got, lines = _read_port(proc)
        assert got != port and port < got < port + 50
        with urllib.request.urlopen(f"http://127.0.0.1:{got}/api/run?length=1") as resp:
            assert b'"recordsTotal": 8' in resp.read()
        assert any("reading FileStore('runs')" in line for line in lines)
    finally:
        proc.terminate()
        proc.wait(10)
        busy.close()


def _fake_tensorboard(tmp_path, banner):
    script = tmp_path / "fake_tensorboard"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys, time\n"
        f"sys.stderr.write({banner!r} + '\\n')\n"
        "sys.stderr.write(' '.join(sys.argv[1:]) + '\\n')\n"
        "sys.stderr.flush()\n"
        "time.sleep(60)\n"
    )
    script.chmod(0o755)
    return str(script)


def test_tensorboard_start_redirects_to_its_port(filled_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(
        tensorboard,
        "TENSORBOARD_BINARY",
        _fake_tensorboard(tmp_path, "TensorBoard 2.16 at http://localhost:6123/ (Press CTRL+C)"),
    )
    client = create_app(open_store(filled_dir)).test_client()
    try:
        resp = client.post("/tensorboard/start/1/0")
        assert resp.status_code == 303
        assert resp.headers["Location"] == "http://localhost:6123"
        assert len(tensorboard._running) == 1
        args = tensorboard._running[0].args
        base_dir = open_store(filled_dir).get(1)["experiment"]["base_dir"]
        assert args[1:4] == ["--logdir", os.path.join(base_dir, "logs"), "--host"]
        assert client.post("/tensorboard/start/1/5").status_code == 404
        assert client.post("/tensorboard/start/6/0").status_code == 404
    finally:
        stop = client.post("/tensorboard/stop")
    assert stop.data == b"Stopping tensorboard"
    assert tensorboard._running == []


def test_tensorboard_missing_or_failing(filled_dir, tmp_path, monkeypatch):
    client = create_app(open_store(filled_dir)).test_client()
    monkeypatch.setattr(tensorboard, "TENSORBOARD_BINARY", "no-such-tensorboard-binary")
    resp = client.post("/tensorboard/start/1/0")
    assert resp.status_code == 503
    assert b"Tensorboard not found on your system. Please install tensorflow first" in resp.data
    monkeypatch.setattr(
        tensorboard,
        "TENSORBOARD_BINARY",
        _fake_tensorboard(
            tmp_path, "TensorBoard attempted to bind to port 6006, but it was already in use"
        ),
    )
    resp = client.post("/tensorboard/start/1/0")
    assert resp.status_code == 503 and b"did not start" in resp.data
    assert tensorboard._running == []


def test_parse_port():
    assert tensorboard.parse_port("TensorBoard 1.2 at http://host:6007 (Press CTRL+C)") == 6007
    assert tensorboard.parse_port("nothing here") is None


def test_without_flask_the_dashboard_says_which_extra_to_install(tmp_path):
    import subprocess
    import sys

    (tmp_path / "runs").mkdir()
    code = (
        "import sys; sys.modules['flask'] = None\n"
        "from sacredboard.cli import main\n"
        f"sys.exit(main(['-F', {str(tmp_path / 'runs')!r}, '--no-browser']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 1
    assert out.stderr == (
        'Sacredboard needs flask, which is not installed: pip install "sacred[board]"\n'
    )


LOCALE_SCRIPT = """
import locale, sys
calls = []
real = locale.setlocale
def recording(category, value=None):
    if value is not None:
        calls.append((category, value))
    return real(category, value)
locale.setlocale = recording
import sacredboard.cli
print("import:", calls)
sacredboard.cli.serve = lambda *a, **k: None  # stop before serving
sacredboard.cli.main(["-F", sys.argv[1], "--no-browser"])
print("command:", calls == [(locale.LC_TIME, "")])
"""


def test_the_command_formats_times_in_the_server_locale(tmp_path):
    # the original sets the whole locale at import; here the command sets LC_TIME only
    proc = subprocess.run(
        [sys.executable, "-c", LOCALE_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "import: []" in proc.stdout, proc.stderr
    assert "command: True" in proc.stdout, proc.stderr
