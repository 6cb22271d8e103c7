"""The JSON API on a FileStorageObserver folder filled by real runs (see conftest)."""

import datetime
import io
import json
import os
import re
import zipfile

import pytest

from sacred.store import open_store
from sacredboard.app import create_app


def ids(resp):
    assert resp.status_code == 200, resp.data
    return [int(r["id"]) for r in resp.get_json()["data"]]


def tree(*filters, kind="and"):
    return json.dumps({"type": kind, "filters": list(filters)})


# ------------------------------------------------------------------ /api/run
def test_run_list_is_a_datatables_envelope(client):
    resp = client.get("/api/run?draw=7&start=0&length=3&sort=_id")
    body = resp.get_json()
    assert body["draw"] == 7
    assert body["recordsTotal"] == 8
    assert body["recordsFiltered"] == 8
    assert [r["id"] for r in body["data"]] == ["1", "2", "3"]
    row = body["data"][0]
    for key in (
        "id experiment_name command status is_alive start_time heartbeat heartbeat_diff "
        "hostname artifacts sources result"
    ).split():
        assert key in row
    assert row["experiment_name"] == "train"
    assert row["command"] == "main"
    assert row["result"] == 0.25
    (artifact,) = row["artifacts"]
    source = next(f for f in row["sources"] if f["filename"] == "conftest.py")
    if "mongo" in repr(client.application.config["SACREDBOARD_STORE"]).lower():
        # MongoDB: the GridFS ids, as the original
        assert re.fullmatch("[0-9a-f]{24}", artifact["file_id"])
        assert re.fullmatch("[0-9a-f]{24}", source["file_id"])
    else:
        assert artifact["file_id"] == "1/artifact/model.txt"
        assert source["file_id"] == "1/source/conftest.py"
    assert artifact["filename"] == "model.txt"
    assert client.get("/api/file/" + artifact["file_id"]).data == b"weights\n"
    assert b"def fill" in client.get("/api/file/" + source["file_id"]).data
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", row["start_time_iso"])
    start = datetime.datetime.strptime(row["start_time_iso"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert row["start_time"] == start.strftime("%X %x")  # the original's (server locale)


def test_default_order_is_the_stores_and_the_page_asks_for_last_activity(client):
    assert ids(client.get("/api/run")) == [1, 2, 3, 4, 5, 6, 7, 8]  # as the original: by id
    assert ids(client.get("/api/run?sort=-heartbeat"))[:2] == [7, 6]  # 7 beat just now


def test_paging_and_datatables_order(client):
    query = "start=2&length=2&order[0][column]=1&order[0][dir]=desc&columns[1][name]=id"
    assert ids(client.get("/api/run?" + query)) == [6, 5]
    by_host = "order[0][column]=3&order[0][dir]=asc&columns[3][name]=hostname"
    assert client.get("/api/run?" + by_host).status_code == 200
    assert client.get("/api/run?order[0][column]=9").status_code == 400


def test_property_filter_prefixes_and_operators(client):
    x = {"field": "config.x", "operator": ">=", "value": 300}
    assert ids(client.get("/api/run?sort=_id&queryFilter=" + tree(x))) == [3, 4]
    body = client.get("/api/run?queryFilter=" + tree(x)).get_json()
    assert body["recordsFiltered"] == 2 and body["recordsTotal"] == 2  # as the original
    assert body["runs_total"] == 8
    leading_dot = {"field": ".experiment.name", "operator": "==", "value": "other"}
    assert ids(client.get("/api/run?queryFilter=" + tree(leading_dot))) == [6]
    regex = {"field": ".experiment.name", "operator": "regex", "value": "^oth"}
    assert ids(client.get("/api/run?queryFilter=" + tree(regex))) == [6]
    either = tree(
        {"field": "config.lr", "operator": "==", "value": 0.5},
        {"field": ".result", "operator": "==", "value": "ok"},
        kind="or",
    )
    assert ids(client.get("/api/run?sort=_id&queryFilter=" + either)) == [5, 6]
    nested = json.dumps(
        {
            "type": "and",
            "filters": [
                json.loads(either),
                {"field": ".status", "operator": "!=", "value": "FAILED"},
            ],
        }
    )
    assert ids(client.get("/api/run?queryFilter=" + nested)) == [6]


def test_status_pseudo_values_and_configurable_threshold(client):
    running = {"field": "status", "operator": "==", "value": "RUNNING"}
    dead = {"field": "status", "operator": "==", "value": "DEAD"}
    assert ids(client.get("/api/run?queryFilter=" + tree(running))) == [7]
    assert ids(client.get("/api/run?queryFilter=" + tree(dead))) == [8]
    assert ids(client.get("/api/run?status=PROBABLY_DEAD,FAILED&sort=_id")) == [5, 8]
    # with a two-hour threshold run 8 is alive again
    assert ids(client.get("/api/run?status=RUNNING&sort=_id&dead_after=7200")) == [7, 8]
    body = client.get("/api/run?dead_after=7200").get_json()
    assert body["dead_after"] == 7200
    states = {r["id"]: r["live_state"] for r in client.get("/api/run").get_json()["data"]}
    assert states["8"] == "PROBABLY_DEAD" and states["7"] == "RUNNING"
    assert client.get("/api/run?status=,").get_json()["data"] == []
    assert client.get("/api/run?status=ZOMBIE").status_code == 400


def test_text_query_and_metric_columns(client):
    resp = client.get(
        "/api/run?q=metrics.loss.min < 0.4&cols=config.lr,metrics.loss.min&sort=metrics.loss.min"
    )
    assert ids(resp) == [1, 2]
    row = resp.get_json()["data"][0]
    assert row["columns"] == {"config.lr": 0.1, "metrics.loss.min": 0.25}
    desc = client.get("/api/run?cols=metrics.loss.last&sort=-metrics.loss.last&length=2")
    assert ids(desc) == [4, 3]
    assert desc.get_json()["data"][0]["columns"]["metrics.loss.last"] == pytest.approx(0.6)


def test_bad_filters_are_errors_not_code(client):
    resp = client.get("/api/run?q=__import__('os').system('echo hi')")
    assert resp.status_code == 400
    assert resp.get_json()["errorCode"] == 400
    resp = client.get("/api/run?queryFilter={not json")
    assert resp.status_code == 400
    assert "queryFilter is not valid JSON" in resp.get_json()["errorMessage"]
    weird = {"field": "config.x", "operator": "$where", "value": "1"}
    assert client.get("/api/run?queryFilter=" + tree(weird)).status_code == 400
    code = {"field": ".experiment.name", "operator": "==", "value": "'; drop table runs; --"}
    assert ids(client.get("/api/run?queryFilter=" + tree(code))) == []


# ------------------------------------------------------------------ one run
def test_single_run_has_the_whole_object(client):
    body = client.get("/api/run/1").get_json()
    assert body["recordsTotal"] == 1 and body["data"][0]["id"] == "1"
    obj = body["data"][0]["object"]
    assert obj["config"]["lr"] == 0.1
    assert "<script>window.__pwned = 1</script>" in obj["captured_out"]
    assert obj["info"]["tensorflow"] == {"logdirs": ["logs"]}
    assert obj["experiment"]["name"] == "train"
    failed = client.get("/api/run/5").get_json()["data"][0]["object"]
    assert "RuntimeError: diverged" in "".join(failed["fail_trace"])


def test_missing_run_is_404_with_the_original_shape(client):
    resp = client.get("/api/run/999")
    assert resp.status_code == 404
    body = resp.get_json()
    assert body["errorCode"] == 404
    assert body["errorMessage"].startswith("Couldn't find resource:")


def test_metric_route(client):
    body = client.get("/api/run/2/metric/loss").get_json()
    assert body["name"] == "loss" and body["run_id"] == 2
    assert body["steps"] == [0, 1, 2, 3]
    assert body["values"] == pytest.approx([1.2, 0.6, 0.4, 0.3])
    assert all(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", t) for t in body["strtimestamps"]
    )
    assert len(body["timestamps"]) == 4 and body["timestamps"][0] > 1.7e9
    assert client.get("/api/run/2/metric/nope").status_code == 404
    listing = client.get("/api/run/2/metrics").get_json()
    assert [m["name"] for m in listing] == ["acc", "loss"]
    assert listing[1]["count"] == 4 and listing[1]["min"] == pytest.approx(0.3)


def test_long_metrics_are_downsampled_keeping_extremes(fresh_dir):
    store = open_store(fresh_dir)
    record = {k: v for k, v in store.get(1).items() if k not in ("_id", "artifacts")}
    n = 50_000
    values = [((i * 7919) % 1000) / 10.0 for i in range(n)]
    values[31_337] = -5.0
    values[42_000] = 500.0
    stamps = ["2026-01-01T00:00:00"] * n
    new_id = store.import_run(
        record, metrics={"big": {"steps": list(range(n)), "timestamps": stamps, "values": values}}
    )
    client = create_app(store).test_client()
    body = client.get(f"/api/run/{new_id}/metric/big?width=200").get_json()
    assert 2 < len(body["values"]) <= 200
    assert min(body["values"]) == -5.0 and max(body["values"]) == 500.0
    assert body["steps"][0] == 0 and body["steps"][-1] == n - 1
    assert 31_337 in body["steps"] and 42_000 in body["steps"]


# ------------------------------------------------------------------ writing
def test_delete_run(fresh_dir):
    client = create_app(open_store(fresh_dir)).test_client()
    resp = client.delete("/api/run/3")
    assert resp.status_code == 200
    assert resp.data == b"DELETED run 3"
    assert client.get("/api/run/3").status_code == 404
    assert not os.path.exists(os.path.join(fresh_dir, "3"))
    assert client.delete("/api/run/3").status_code == 404


def test_delete_on_every_store(fresh_store):
    client = create_app(fresh_store).test_client()
    assert client.delete("/api/run/4").data == b"DELETED run 4"
    assert client.get("/api/run/4").status_code == 404
    assert ids(client.get("/api/run?sort=_id&status=COMPLETED")) == [1, 2, 3, 6]
    assert client.get("/api/run/3/metric/loss").status_code == 200


def test_annotations_on_every_store(fresh_store):
    client = create_app(fresh_store).test_client()
    resp = client.put("/api/run/2/annotations", json={"tags": ["x", "lr"], "notes": "n"})
    assert resp.status_code == 200, resp.data
    assert resp.get_json() == {"tags": ["x", "lr"], "notes": "n"}
    assert client.get("/api/run/2").get_json()["data"][0]["tags"] == ["x", "lr"]
    # changed: only the tags are sent, the notes stay
    resp = client.put("/api/run/2/annotations", json={"tags": ["best"]})
    assert resp.get_json() == {"tags": ["best"], "notes": "n"}
    meta = fresh_store.get(2)["meta"]
    assert (meta["tags"], meta["notes"], meta["command"]) == (["best"], "n", "main")
    # the table filters on them, on every backend
    assert ids(client.get('/api/run?sort=_id&q=meta.tags == ["best"]')) == [2]
    assert ids(client.get('/api/run?sort=_id&q=meta.notes =~ "^n$"')) == [2]
    # cleared: the keys are removed from the record
    resp = client.put("/api/run/2/annotations", json={"tags": [], "notes": ""})
    assert resp.get_json() == {"tags": [], "notes": ""}
    assert {"tags", "notes"}.isdisjoint(fresh_store.get(2)["meta"])
    assert ids(client.get("/api/run?sort=_id&q=meta.tags exists")) == []
    assert client.put("/api/run/99/annotations", json={"notes": "x"}).status_code == 404


def test_writing_is_refused_off_loopback_unless_allowed(fresh_dir):
    store = open_store(fresh_dir)
    client = create_app(store, host="0.0.0.0").test_client()
    resp = client.delete("/api/run/3")
    assert resp.status_code == 403
    assert "--allow-write" in resp.get_json()["errorMessage"]
    resp = client.put("/api/run/3/annotations", json={"notes": "x"})
    assert resp.status_code == 403
    assert client.post("/tensorboard/start/1/0").status_code == 403
    assert client.post("/tensorboard/stop").status_code == 403
    assert os.path.exists(os.path.join(fresh_dir, "3", "run.json"))
    allowed = create_app(store, host="0.0.0.0", allow_write=True).test_client()
    assert allowed.delete("/api/run/3").status_code == 200


def test_writes_need_a_loopback_host_header_on_loopback(fresh_dir):
    client = create_app(open_store(fresh_dir)).test_client()
    resp = client.delete("/api/run/3", headers={"Host": "evil.example:5000"})
    assert resp.status_code == 403 and "may not change runs" in resp.get_json()["errorMessage"]
    assert client.get("/api/run/3").status_code == 200
    assert client.delete("/api/run/3", headers={"Host": "127.0.0.1:5000"}).status_code == 200


def test_tags_and_notes_are_stored_in_the_run_record(fresh_dir):
    client = create_app(open_store(fresh_dir)).test_client()
    note = "<script>alert(1)</script> looks good"
    resp = client.put(
        "/api/run/2/annotations", json={"tags": ["best", " best ", "lr"], "notes": note}
    )
    assert resp.status_code == 200
    assert resp.get_json() == {"tags": ["best", "lr"], "notes": note}
    with open(os.path.join(fresh_dir, "2", "run.json")) as f:
        meta = json.load(f)["meta"]
    assert meta["tags"] == ["best", "lr"] and meta["notes"] == note
    row = client.get("/api/run/2").get_json()["data"][0]
    assert row["tags"] == ["best", "lr"] and row["notes"] == note
    # a fresh store (new process) reads them too, and the table can filter on them
    fresh = create_app(open_store(fresh_dir)).test_client()
    assert ids(fresh.get('/api/run?q=meta.notes =~ "good"')) == [2]
    bad = client.put("/api/run/2/annotations", json={"tags": "best"})
    assert bad.status_code == 400 and "list of strings" in bad.get_json()["errorMessage"]
    assert client.put("/api/run/2/annotations", data="x").status_code == 400
    assert client.put("/api/run/99/annotations", json={"notes": ""}).status_code == 404


# ------------------------------------------------------------------ files
def test_file_view_download_and_zip(client):
    view = client.get("/api/fileview/1/artifact/model.txt")
    assert view.status_code == 200 and b"weights" in view.data
    down = client.get("/api/file/1/artifact/model.txt")
    assert down.data == b"weights\n"
    assert "attachment" in down.headers["Content-Disposition"]
    source = client.get("/api/file/1/source/conftest.py")
    assert b"def fill(basedir, tmp_path):" in source.data
    zipped = client.get("/api/artifacts/1")
    assert zipped.headers["Content-Disposition"].endswith("run1_artifact.zip")
    with zipfile.ZipFile(io.BytesIO(zipped.data)) as zf:
        assert zf.read("model.txt") == b"weights\n"
    with zipfile.ZipFile(io.BytesIO(client.get("/api/sources/1").data)) as zf:
        assert "conftest.py" in zf.namelist()


@pytest.mark.parametrize(
    "path",
    [
        "/api/file/1/artifact/../../2/run.json",
        "/api/file/1/artifact/..%2F..%2Frun.json",
        "/api/file/1/artifact/run.json",
        "/api/fileview/1/artifact/config.json",
        "/api/file/1/source/../../../../etc/passwd",
        "/api/file/1/source/%2Fetc%2Fpasswd",
        "/api/file/1/secret/model.txt",
        "/api/file/2/artifact/model.txt",
    ],
)
def test_only_files_of_the_run_are_served(client, path):
    resp = client.get(path)
    assert resp.status_code == 404
    assert b"root:" not in resp.data and b'"status"' not in resp.data


def test_file_view_escapes_html_and_binary(fresh_dir, tmp_path):
    store = open_store(fresh_dir)
    record = {k: v for k, v in store.get(1).items() if k not in ("_id", "artifacts")}
    new_id = store.import_run(
        record, artifacts={"evil.html": b"<script>alert(1)</script>", "blob.bin": bytes(range(256))}
    )
    client = create_app(store).test_client()
    view = client.get(f"/api/fileview/{new_id}/artifact/evil.html")
    assert b"<script>alert(1)</script>" not in view.data
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in view.data
    assert "script-src 'self'" in view.headers["Content-Security-Policy"]
    down = client.get(f"/api/file/{new_id}/artifact/evil.html?inline=1")
    assert "attachment" in down.headers["Content-Disposition"]  # never shown inline
    assert down.headers["Content-Security-Policy"].startswith("sandbox")
    binary = client.get(f"/api/fileview/{new_id}/artifact/blob.bin")
    assert b"Binary data" in binary.data and b"Length: 256" in binary.data
    assert b"0x00 0x01 0x02" in binary.data


# ------------------------------------------------------------------ export
def test_csv_and_json_export_follow_filters_columns_and_sort(client):
    x = {"field": "config.x", "operator": ">=", "value": 300}
    resp = client.get(
        "/api/export?format=csv&sort=-_id&cols=config.lr,metrics.loss.min&queryFilter=" + tree(x)
    )
    assert resp.headers["Content-Disposition"] == "attachment; filename=runs.csv"
    lines = resp.data.decode().splitlines()
    assert lines[0].split(",")[-2:] == ["config.lr", "metrics.loss.min"]
    assert [line.split(",")[0] for line in lines[1:]] == ["4", "3"]
    assert lines[1].split(",")[-2:] == ["0.01", "0.6"]
    data = client.get("/api/export?format=json&sort=_id&status=FAILED").get_json()
    assert [r["id"] for r in data] == ["5"] and data[0]["live_state"] == "FAILED"
    assert client.get("/api/export?format=xml").status_code == 400


def test_csv_cells_cannot_become_formulas(fresh_dir):
    client = create_app(open_store(fresh_dir)).test_client()
    client.put("/api/run/2/annotations", json={"notes": '=HYPERLINK("http://x")'})
    text = client.get("/api/export?format=csv&sort=_id").data.decode()
    assert "'=HYPERLINK" in text


# ------------------------------------------------------------------ several runs
def test_compare_lists_differing_config_keys(client):
    body = client.get("/api/compare?ids=1,3,6").get_json()
    assert [r["id"] for r in body["runs"]] == ["1", "3", "6"]
    diff = {row["key"]: row for row in body["config_diff"]}
    assert diff["lr"]["values"] == {"1": 0.1, "3": 0.01, "6": None}
    assert diff["lr"]["missing"] == ["6"]
    assert diff["x"]["values"] == {"1": 250, "3": 300, "6": 2}
    assert "seed" in diff and "layers" in diff
    same = client.get("/api/compare?ids=1,2").get_json()["config_diff"]
    assert [row["key"] for row in same] == ["seed"]
    assert body["metrics"] == {"1": ["acc", "loss"], "3": ["acc", "loss"], "6": []}
    assert client.get("/api/compare").status_code == 400


def test_side_by_side_diff_of_output_and_sources(client):
    rows = client.get("/api/diff?a=1&b=3&what=captured_out").get_json()["rows"]
    assert rows[0] == {
        "op": "replace",
        "left": [[1, "training with lr=0.1"]],
        "right": [[1, "training with lr=0.01"]],
    }
    assert rows[1]["op"] == "equal"
    src = client.get("/api/diff?a=1&b=2&what=source:conftest.py").get_json()["rows"]
    assert [r["op"] for r in src] == ["equal"]
    assert client.get("/api/diff?a=1&b=2&what=eval").status_code == 400


def test_seed_groups_and_bands(client):
    groups = client.get('/api/groups?q=experiment.name == "train"&status=COMPLETED').get_json()
    by_runs = {tuple(g["run_ids"]): g for g in groups}
    assert set(by_runs) == {("1", "2"), ("3", "4")}
    g = by_runs[("1", "2")]
    assert g["seeds"] == [1, 2] and g["count"] == 2
    assert g["result"]["mean"] == pytest.approx((0.25 + 0.3) / 2)
    assert g["result"]["min"] == pytest.approx(0.25) and g["result"]["max"] == pytest.approx(0.3)
    band = client.get("/api/groups/metric?ids=1,2&name=loss").get_json()
    assert band["steps"] == [0, 1, 2, 3] and band["runs"] == 2
    assert band["mean"][0] == pytest.approx(1.1)
    assert band["min"][0] == pytest.approx(1.0) and band["max"][0] == pytest.approx(1.2)
    assert band["std"][0] == pytest.approx(0.1)


def test_points_for_parallel_coordinates(client):
    body = client.get(
        "/api/points?status=COMPLETED&fields=config.lr,metrics.loss.min&list_metrics=1"
    ).get_json()
    assert body["ids"] == ["1", "2", "3", "4", "6"]
    assert body["columns"]["config.lr"] == [0.1, 0.1, 0.01, 0.01, None]
    assert body["columns"]["metrics.loss.min"][:4] == pytest.approx([0.25, 0.3, 0.5, 0.6])
    assert body["metric_names"] == ["acc", "loss"]
    default = client.get("/api/points?status=COMPLETED").get_json()
    assert "config.lr" in default["fields"] and "config.seed" not in default["fields"]


def test_search_space_pages_read_the_runs(client, any_store):
    spaces = client.get("/api/search_spaces").get_json()
    assert spaces == [{"name": "space", "runs": 1, "defined": False}]
    report = client.get("/api/search_space/space").get_json()
    assert report["total"] == 1 and report["counts"] == {"COMPLETED": 1}
    assert report["curve"] == []  # its result "ok" is no cost
    assert client.get("/api/search_space/nothing").status_code == 404


def test_settings_and_pages(client):
    assert client.get("/api/settings").get_json()["dead_after"] == 120
    resp = client.get("/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/runs")
    page = client.get("/runs")
    assert page.status_code == 200
    assert b'data-dead-after="120.0"' in page.data and b"probably dead" in page.data
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    for path in ("/compare", "/analysis", "/search_spaces", "/search_space/space"):
        assert client.get(path).status_code == 200
    evil = client.get("/search_space/%3Cscript%3Eevil()%3C%2Fscript%3E").data
    assert b"<script>evil()" not in evil and b"&lt;script&gt;evil()" in evil


def test_sub_url_and_proxy_headers(filled_dir):
    client = create_app(open_store(filled_dir), sub_url="/board/").test_client()
    assert ids(client.get("/board/api/run?sort=_id&length=1")) == [1]
    page = client.get("/board/runs")
    assert b'href="/board/static/sacredboard.css"' in page.data
    assert b'data-root="/board"' in page.data
    plain = create_app(open_store(filled_dir)).test_client()
    proxied = plain.get("/sb/runs", headers={"X-Script-Name": "/sb"})
    assert b'data-root="/sb"' in proxied.data


def test_output_tail_from_an_offset(fresh_dir):
    client = create_app(open_store(fresh_dir)).test_client()
    first = client.get("/api/run/7/output").get_json()
    assert first == {
        "offset": 0,
        "length": 7,
        "next": 7,
        "text": "step 1\n",
        "live_state": "RUNNING",
    }
    with open(os.path.join(fresh_dir, "7", "cout.txt"), "a") as f:
        f.write("step 2\n")
    more = client.get("/api/run/7/output?offset=7").get_json()
    assert more["text"] == "step 2\n" and more["length"] == 14
    # an offset past the end (the output was replaced) sends everything again
    assert client.get("/api/run/7/output?offset=99").get_json()["offset"] == 0


def test_the_detail_carries_a_bounded_tail_and_the_rest_comes_in_pages(fresh_dir):
    from sacredboard.api import OUTPUT_PAGE, OUTPUT_TAIL

    lines = [f"line {i:07d}\n" for i in range(300_000)]  # 4.2 MB of output
    with open(os.path.join(fresh_dir, "7", "cout.txt"), "w") as f:
        f.writelines(lines)
    whole = "".join(lines)
    client = create_app(open_store(fresh_dir)).test_client()
    answer = client.get("/api/run/7")
    assert len(answer.data) < 2 * OUTPUT_TAIL
    obj = answer.get_json()["data"][0]["object"]
    assert obj["captured_out"] == whole[-OUTPUT_TAIL:]
    assert obj["captured_out_length"] == len(whole)
    assert obj["captured_out_offset"] == len(whole) - OUTPUT_TAIL
    assert obj["captured_out_truncated"] is True
    pages, offset = [], 0
    while offset < obj["captured_out_offset"]:
        page = client.get(f"/api/run/7/output?offset={offset}").get_json()
        assert len(page["text"]) <= OUTPUT_PAGE and page["length"] == len(whole)
        pages.append(page["text"])
        offset = page["next"]
    assert "".join(pages)[: obj["captured_out_offset"]] == whole[: obj["captured_out_offset"]]
    small = client.get("/api/run/7/output?offset=10&limit=5").get_json()
    assert (small["text"], small["next"]) == (whole[10:15], 15)
