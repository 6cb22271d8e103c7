"""Files outside the store, Host and Origin checks, and the module layout of the app.

Run 9 of ``fresh_dir`` is a copy of run 1 whose run.json lists files outside the store (see
``tests/sacred/store/test_store_paths.py``): ``../../secret.txt``, absolute paths, symbolic
links to a file outside and through a run folder entry that links to a folder outside.
"""

import ast
import io
import os
import warnings
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest

from sacred.store import open_store
from sacredboard import guards, tensorboard
from sacredboard.app import create_app
from tests.sacred.store.test_store_paths import BAD_ARTIFACTS, BAD_RESOURCES, BAD_SOURCES, craft

SECRET = b"TOP SECRET: outside the store\n"


@pytest.fixture
def crafted(fresh_dir):
    """(basedir, secret, outside folder) with run 9 crafted; the secret is ``<basedir>/../``."""
    basedir = Path(fresh_dir)
    secret = basedir.parent / "secret.txt"
    secret.write_bytes(SECRET)
    outside = basedir.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    craft(basedir, secret, outside, source="1", target="9")
    return basedir, secret, outside


@pytest.fixture
def crafted_client(crafted):
    return create_app(open_store(str(crafted[0]))).test_client()


def _file_urls(secret):
    def name(n):
        return quote(str(secret) if n == "SECRET_ABS" else n, safe="")

    for route in ("file", "fileview"):
        for n in BAD_ARTIFACTS:
            yield f"/api/{route}/9/artifact/{name(n)}"
        for n in BAD_SOURCES:
            yield f"/api/{route}/9/source/{name(n)}"
        for n in BAD_RESOURCES:
            yield f"/api/{route}/9/resource/{name(n)}"


def test_file_routes_refuse_files_outside_the_store(crafted, crafted_client):
    _, secret, _ = crafted
    listed = crafted_client.get("/api/run/9").get_json()["data"][0]["object"]["artifacts"]
    assert {"name": "../../secret.txt"} in listed
    urls = list(_file_urls(secret))
    assert len(urls) == 20
    for url in urls:
        resp = crafted_client.get(url)
        assert resp.status_code in (403, 404), url
        assert SECRET not in resp.data, url
        if resp.is_json:
            message = resp.get_json()["errorMessage"]
            assert "\n" not in message and "Traceback" not in message
    resp = crafted_client.get("/api/file/9/artifact/" + quote("../../secret.txt", safe=""))
    assert resp.status_code == 403
    assert resp.get_json()["errorMessage"] == (
        "Refused: artifact '../../secret.txt' of run 9 lies outside the run's folder"
    )
    # the run's own files are served as before
    assert crafted_client.get("/api/file/9/artifact/model.txt").data == b"weights\n"
    resp = crafted_client.get("/api/diff?a=9&b=1&what=source:evil.py")
    assert resp.status_code == 403 and SECRET not in resp.data


def test_zips_refuse_runs_that_list_files_outside(crafted_client):
    for url in ("/api/artifacts/9", "/api/sources/9"):
        resp = crafted_client.get(url)
        assert resp.status_code == 403, url
        assert SECRET not in resp.data
        assert "lies outside" in resp.get_json()["errorMessage"]
    # a run that lists only its own files still zips
    zipped = zipfile.ZipFile(io.BytesIO(crafted_client.get("/api/artifacts/1").data))
    assert zipped.namelist() == ["model.txt"]


def test_delete_leaves_files_outside_the_store(crafted, crafted_client):
    basedir, secret, outside = crafted
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resp = crafted_client.delete("/api/run/9")
    assert secret.read_bytes() == SECRET
    assert (outside / "secret.txt").read_bytes() == SECRET
    assert resp.status_code == 200
    assert not (basedir / "9").exists()
    assert caught and all("left alone" in str(w.message) for w in caught)
    # the files run 1 shares with the deleted copy are still there
    assert crafted_client.get("/api/file/1/artifact/model.txt").data == b"weights\n"
    assert crafted_client.get("/api/file/1/source/conftest.py").status_code == 200


# ---------------------------------------------------------------------- Host and Origin
@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "localhost:5000",
        "127.0.0.1",
        "127.0.0.1:5000",
        "127.1.2.3:5000",
        "[::1]:5000",
        "[::1]",
        "::1",
        "LOCALHOST:5000",
    ],
)
def test_loopback_hosts(host):
    assert guards.is_loopback(host)


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1.evil.example",
        "127.0.0.1.evil.example:5000",
        "127.evil.example",
        "localhost.evil.example",
        "evil.example",
        "127.1",
        "0x7f.0.0.1",
        "127.0.0.1:abc",
        "127.0.0.1:",
        "[::1]evil:5000",
        "[::2]:5000",
        "[::1",
        "::ffff:127.0.0.1",
        "0.0.0.0",
        "",
    ],
)
def test_hosts_that_are_not_loopback(host):
    assert not guards.is_loopback(host)


def test_a_rebound_host_may_not_delete(fresh_dir):
    client = create_app(open_store(fresh_dir)).test_client()
    resp = client.delete("/api/run/3", headers={"Host": "127.0.0.1.evil.example"})
    assert resp.status_code == 403 and "may not change runs" in resp.get_json()["errorMessage"]
    resp = client.delete("/api/run/3", headers={"Host": "127.0.0.1.evil.example:5000"})
    assert resp.status_code == 403
    assert client.get("/api/run/3").status_code == 200


@pytest.mark.parametrize(
    "run_id, host", [(3, "127.1.2.3:5000"), (4, "[::1]:5000"), (5, "localhost:5000")]
)
def test_loopback_hosts_may_delete(fresh_dir, run_id, host):
    client = create_app(open_store(fresh_dir)).test_client()
    resp = client.delete(f"/api/run/{run_id}", headers={"Host": host})
    assert resp.status_code == 200, resp.data
    assert client.get(f"/api/run/{run_id}").status_code == 404


CROSS_SITE = [
    {"Origin": "http://evil.example"},
    {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Origin": "null"},
    {"Origin": "http://localhost:8080"},  # another server on this computer
    {"Origin": "https://localhost.evil.example"},
]


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_pages_of_other_sites_may_not_change_anything(fresh_dir, tmp_path, monkeypatch, headers):
    monkeypatch.setattr(tensorboard, "TENSORBOARD_BINARY", str(tmp_path / "never-started"))
    client = create_app(open_store(fresh_dir)).test_client()
    for method, url in [
        ("DELETE", "/api/run/3"),
        ("PUT", "/api/run/3/annotations"),
        ("POST", "/tensorboard/start/1/0"),
        ("POST", "/tensorboard/stop"),
    ]:
        resp = client.open(url, method=method, headers=headers, json={"notes": "x"})
        assert resp.status_code == 403, (method, url)
        assert "another site" in resp.get_json()["errorMessage"]
    assert client.get("/api/run/3").get_json()["data"][0]["notes"] == ""


def test_same_origin_requests_may_change_runs(fresh_dir):
    client = create_app(open_store(fresh_dir)).test_client()
    same = {"Origin": "http://localhost:5000", "Host": "localhost:5000"}
    resp = client.put("/api/run/2/annotations", json={"notes": "n"}, headers=same)
    assert resp.status_code == 200, resp.data
    fetch = {"Sec-Fetch-Site": "same-origin", "Origin": "http://127.0.0.1", "Host": "127.0.0.1:80"}
    assert client.delete("/api/run/3", headers=fetch).status_code == 200
    assert client.delete("/api/run/4", headers={"Sec-Fetch-Site": "none"}).status_code == 200


def test_tensorboard_routes_are_post_only(fresh_dir):
    client = create_app(open_store(fresh_dir)).test_client()
    assert client.get("/tensorboard/start/1/0").status_code == 405
    assert client.get("/tensorboard/stop").status_code == 405
    assert client.post("/tensorboard/stop").status_code == 200


def test_tensorboard_stop_needs_allow_write_off_loopback(fresh_dir):
    client = create_app(open_store(fresh_dir), host="0.0.0.0").test_client()
    resp = client.post("/tensorboard/stop")
    assert resp.status_code == 403 and "--allow-write" in resp.get_json()["errorMessage"]
    allowed = create_app(open_store(fresh_dir), host="0.0.0.0", allow_write=True).test_client()
    assert allowed.post("/tensorboard/stop").status_code == 200


# ---------------------------------------------------------------------- module layout
def test_no_module_imports_the_app_factory():
    """The factory imports the blueprints; the blueprints and helpers never import it."""
    package = Path(__file__).resolve().parents[2] / "sacredboard"
    offenders = []
    for path in sorted(package.glob("*.py")):
        if path.name in ("cli.py", "__init__.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [
                    f"{node.module}.{a.name}" for a in node.names if node.module
                ]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            if "sacredboard.app" in names:
                offenders.append(path.name)
    assert offenders == []
    assert os.path.exists(package / "guards.py")
