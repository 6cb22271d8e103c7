"""The original Sacredboard's JSON API, answered as the original did (issue 12, items 14-17).

The MongoDB here is written by hand in the layout of the spec (Sacred's MongoObserver: runs
with integer ids, sources as ``[name, ObjectId]`` pairs, artifacts as ``{name, file_id}``,
``info.metrics`` as ``[{id, name}]`` pointing at documents of the ``metrics`` collection; the
original Sacredboard's own metric test used run 14), never by this project's writer.
"""

import datetime as dt
import io
import json
import math
import zipfile

import pytest

mongomock = pytest.importorskip("mongomock")
gridfs = pytest.importorskip("gridfs")
from bson import ObjectId  # noqa: E402

from sacred.store import open_store  # noqa: E402
from sacredboard.app import create_app  # noqa: E402

METRIC_ID = "58ee4e2b6e9f2f3c9c2a1b14"
START = dt.datetime(2017, 3, 30, 12, 38, 40, 123000)
UPLOADED = dt.datetime(2017, 3, 30, 12, 39, 2)
STAMPS = [dt.datetime(2017, 3, 30, 12, 38, 49, 470000), dt.datetime(2017, 3, 30, 12, 38, 50, 1000)]


def _ms(t):
    return int((t - dt.datetime(1970, 1, 1)).total_seconds() * 1000)


@pytest.fixture
def original_db():
    import mongomock.gridfs

    mongomock.gridfs.enable_gridfs_integration()
    db = mongomock.MongoClient()["sacred"]
    fs = gridfs.GridFS(db)
    source_id = fs.put(b"print('train')\n", filename="/home/user/exp/train.py")
    artifact_id = fs.put(b"weights\n", filename="artifact://runs/14/model.txt")
    evil_id = fs.put(b"evil\n", filename="artifact://runs/16/../../evil.txt")
    db["fs.files"].update_one({"_id": artifact_id}, {"$set": {"uploadDate": UPLOADED}})

    def run(run_id, status, **extra):
        doc = {
            "_id": run_id,
            "experiment": {
                "name": "train",
                "base_dir": "/home/user/exp",
                "sources": [["train.py", source_id]],
                "dependencies": ["sacred==0.7.2"],
                "repositories": [],
            },
            "format": "MongoObserver-0.7.0",
            "command": "main",
            "host": {"hostname": f"host{run_id}", "python_version": "3.6.3"},
            "start_time": START + dt.timedelta(minutes=run_id),
            "heartbeat": START + dt.timedelta(minutes=run_id, seconds=30),
            "config": {"lr": 0.01 * run_id, "seed": run_id},
            "meta": {"command": "main", "options": {"UPDATE": []}},
            "status": status,
            "resources": [],
            "artifacts": [],
            "captured_out": f"output of {run_id}\n",
            "info": {},
        }
        doc.update(extra)
        db["runs"].insert_one(doc)

    run(
        14,
        "COMPLETED",
        result=0.5,
        stop_time=START + dt.timedelta(minutes=14, seconds=30),
        artifacts=[{"name": "model.txt", "file_id": artifact_id}],
        info={"metrics": [{"id": METRIC_ID, "name": "training.loss"}], "best": float("nan")},
    )
    run(15, "RUNNING")
    run(16, "FAILED", artifacts=[{"name": "../../evil.txt", "file_id": evil_id}])
    run(13, "COMPLETED", result=None, heartbeat=START + dt.timedelta(hours=2))
    db["metrics"].insert_one(
        {
            "_id": ObjectId(METRIC_ID),
            "name": "training.loss",
            "run_id": 14,
            "steps": [0, 1],
            "timestamps": STAMPS,
            "values": [2.5, 1.25],
        }
    )
    return db, {"source": str(source_id), "artifact": str(artifact_id), "evil": str(evil_id)}


@pytest.fixture
def mongo_client(original_db):
    db, _ = original_db
    return create_app(open_store(db.client, db_name="sacred")).test_client()


# ------------------------------------------------------------------------- item 14
def test_metric_by_the_id_in_info_metrics(mongo_client):
    resp = mongo_client.get(f"/api/run/14/metric/{METRIC_ID}")
    assert resp.status_code == 200, resp.data
    body = resp.get_json()
    assert body["run_id"] == 14  # the stored type: the integer, not "14"
    assert body["metric_id"] == METRIC_ID
    assert body["name"] == "training.loss"
    assert body["steps"] == [0, 1]
    assert body["values"] == [2.5, 1.25]
    assert body["strtimestamps"] == ["2017-03-30T12:38:49.470000Z", "2017-03-30T12:38:50.001000Z"]
    # the name keeps working
    by_name = mongo_client.get("/api/run/14/metric/training.loss").get_json()
    assert by_name["values"] == body["values"] and by_name["run_id"] == 14
    # an id that is not one of the run's metrics is a 404
    resp = mongo_client.get("/api/run/14/metric/58ee4e2b6e9f2f3c9c2a1b15")
    assert resp.status_code == 404
    assert resp.get_json()["errorMessage"].startswith("Couldn't find resource: ")


def test_metric_run_id_keeps_its_type_on_every_store(client):
    body = client.get("/api/run/1/metric/loss").get_json()
    assert body["run_id"] == 1 and body["metric_id"] == "loss"


# ------------------------------------------------------------------------- item 15
def test_rows_give_the_gridfs_ids_and_the_file_routes_take_them(original_db, mongo_client):
    _, ids = original_db
    row = mongo_client.get("/api/run/14").get_json()["data"][0]
    assert row["artifacts"] == [{"filename": "model.txt", "file_id": ids["artifact"]}]
    assert row["sources"] == [{"filename": "train.py", "file_id": ids["source"]}]
    resp = mongo_client.get(f"/api/file/{ids['artifact']}")
    assert resp.status_code == 200 and resp.data == b"weights\n"
    assert resp.mimetype == "text/plain"
    assert resp.headers["Content-Disposition"] == "attachment; filename=model.txt"
    resp = mongo_client.get(f"/api/file/{ids['source']}")
    assert resp.data == b"print('train')\n"
    assert resp.headers["Content-Disposition"] == "attachment; filename=train.py"
    page = mongo_client.get(f"/api/fileview/{ids['source']}")
    assert page.status_code == 200 and b"print(&#39;train&#39;)" in page.data
    for missing in ("58ee4e2b6e9f2f3c9c2a1b99", "notanid"):
        resp = mongo_client.get(f"/api/file/{missing}")
        assert resp.status_code == 404, missing
        assert resp.get_json()["errorMessage"].startswith("Couldn't find resource: ")


def test_zips_of_gridfs_files_are_dated_and_their_names_safe(mongo_client):
    resp = mongo_client.get("/api/artifacts/14")
    assert resp.headers["Content-Disposition"] == "attachment; filename=run14_artifact.zip"
    with zipfile.ZipFile(io.BytesIO(resp.data)) as zf:
        (info,) = zf.infolist()
        assert info.filename == "model.txt" and zf.read(info) == b"weights\n"
        assert info.date_time == (2017, 3, 30, 12, 39, 2)  # the GridFS upload date
    with zipfile.ZipFile(io.BytesIO(mongo_client.get("/api/sources/14").data)) as zf:
        assert zf.namelist() == ["train.py"]
    with zipfile.ZipFile(io.BytesIO(mongo_client.get("/api/artifacts/16").data)) as zf:
        assert zf.namelist() == ["evil.txt"]


# ------------------------------------------------------------------------- item 16
def test_run_detail_puts_the_object_in_the_row_in_extended_json(original_db, mongo_client):
    _, ids = original_db
    body = mongo_client.get("/api/run/14").get_json()
    assert body["recordsTotal"] == body["recordsFiltered"] == 1
    (row,) = body["data"]
    obj = row["object"]
    assert obj["_id"] == 14
    assert obj["start_time"] == {"$date": _ms(START + dt.timedelta(minutes=14))}
    assert obj["heartbeat"] == {"$date": _ms(START + dt.timedelta(minutes=14, seconds=30))}
    assert obj["experiment"]["sources"] == [["train.py", {"$oid": ids["source"]}]]
    assert obj["artifacts"] == [{"name": "model.txt", "file_id": {"$oid": ids["artifact"]}}]
    assert obj["info"] == {
        "metrics": [{"id": METRIC_ID, "name": "training.loss"}],
        "best": None,  # NaN
    }
    assert obj["config"] == {"lr": 0.14, "seed": 14} and obj["result"] == 0.5
    assert obj["captured_out"] == "output of 14\n"
    assert obj["captured_out_truncated"] is False
    assert obj["captured_out_length"] == 13 and obj["captured_out_offset"] == 0


def test_run_detail_object_on_every_store(client):
    obj = client.get("/api/run/1").get_json()["data"][0]["object"]
    assert obj["_id"] == 1 and obj["status"] == "COMPLETED"
    assert set(obj["start_time"]) == {"$date"} and isinstance(obj["start_time"]["$date"], int)
    assert obj["captured_out_truncated"] is False


def test_a_missing_run_is_a_404(mongo_client):
    resp = mongo_client.get("/api/run/99")
    assert resp.status_code == 404
    assert resp.get_json() == {
        "errorCode": 404,
        "errorMessage": "Couldn't find resource: There is no run 99 in database 'sacred'",
    }


# ------------------------------------------------------------------------- item 17
def test_rows_use_the_original_time_formats_and_empty_results(mongo_client):
    body = mongo_client.get("/api/run").get_json()
    rows = {r["id"]: r for r in body["data"]}
    start = START + dt.timedelta(minutes=14)
    assert rows["14"]["start_time"] == start.strftime("%X %x")
    assert rows["14"]["heartbeat"] == (start + dt.timedelta(seconds=30)).strftime("%X %x")
    assert rows["14"]["result"] == 0.5
    assert rows["15"]["result"] == "" and rows["16"]["result"] == "" and rows["13"]["result"] == ""
    assert rows["14"]["is_alive"] is False and rows["15"]["status"] == "RUNNING"
    assert math.isclose(
        rows["14"]["heartbeat_diff"],
        (dt.datetime.utcnow() - start - dt.timedelta(seconds=30)).total_seconds(),
        abs_tol=60,
    )


def test_default_order_is_the_stores_and_datatables_order_is_honoured(mongo_client):
    def ids(query=""):
        return [r["id"] for r in mongo_client.get("/api/run" + query).get_json()["data"]]

    assert ids() == ["13", "14", "15", "16"]  # no order asked: by id (insertion order)
    by_beat = "?order[0][column]=5&order[0][dir]=desc&columns[5][name]=heartbeat"
    assert ids(by_beat) == ["13", "16", "15", "14"]
    by_host = "?order[0][column]=6&order[0][dir]=asc&columns[6][name]=hostname"
    assert ids(by_host) == ["13", "14", "15", "16"]


def test_records_total_and_filtered_both_count_the_filtered_runs(mongo_client):
    tree = json.dumps(
        {"type": "and", "filters": [{"field": ".status", "operator": "==", "value": "COMPLETED"}]}
    )
    body = mongo_client.get("/api/run?draw=3&start=0&length=1&queryFilter=" + tree).get_json()
    assert body["draw"] == 3
    assert body["recordsTotal"] == body["recordsFiltered"] == 2
    assert len(body["data"]) == 1
    assert body["runs_total"] == 4  # beside them: every run of the store


def test_a_bad_query_filter_is_a_400(mongo_client):
    resp = mongo_client.get("/api/run?queryFilter={not json")
    assert resp.status_code == 400
    assert resp.get_json()["errorMessage"].startswith("queryFilter is not valid JSON")
