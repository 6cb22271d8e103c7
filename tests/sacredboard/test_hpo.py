"""The search-space pages over runs a real Labwatch LabAssistant made."""

from sacred.store import open_store
from sacredboard.app import create_app


def costs(store):
    out = {}
    for r in store.find(sort="_id"):
        result = r.get("result")
        if r["status"] == "COMPLETED" and isinstance(result, dict):
            out[str(r["_id"])] = result["optimization_target"]
    return out


def test_search_space_list_and_report(labwatch_dir):
    store = open_store(labwatch_dir)
    client = create_app(labwatch_dir).test_client()
    assert client.get("/api/search_spaces").get_json() == [
        {"name": "small", "runs": 4, "defined": True}
    ]
    report = client.get("/api/search_space/small").get_json()
    assert report["total"] == 4
    assert report["counts"] == {"COMPLETED": 3, "FAILED": 1}
    definition = report["definition"]
    assert definition["name"] == "small" and definition["versions"] == 1
    assert definition["parameters"]["lr"]["_class"] == "UniformFloat"
    assert set(definition["parameters"]["opt"]["choices"]) == {"adam", "sgd"}
    assert report["parameters"] == ["lr", "opt"]
    expected = {k: v for k, v in costs(store).items() if k in ("1", "2", "3")}  # not run 5
    assert [p["run_id"] for p in report["curve"]] == ["1", "2", "3"]
    assert [p["cost"] for p in report["curve"]] == [expected[i] for i in ("1", "2", "3")]
    best = [min(list(expected.values())[: i + 1]) for i in range(3)]
    assert [p["best"] for p in report["curve"]] == best
    assert [t["id"] for t in report["top"]] == sorted(expected, key=expected.get)
    top = report["top"][0]
    assert top["config"]["lr"] == store.get(int(top["id"]))["config"]["lr"]
    assert report["cost"]["min"] == min(expected.values())


def test_search_space_page_of_a_run_without_labwatch(labwatch_dir):
    client = create_app(labwatch_dir).test_client()
    assert client.get("/api/search_space/nope").status_code == 404
    page = client.get("/search_space/small")
    assert b'data-space="small"' in page.data
