"""Every endpoint of the dashboard's server on a store prepared by real runs: what each returns,
that it follows a run that is still writing, and that it never writes."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from starlette.testclient import TestClient  # noqa: E402

from nasplug.core.dashboard import data  # noqa: E402
from nasplug.core.dashboard.app import create_app  # noqa: E402
from nasplug.core.errors import StoreError  # noqa: E402
from nasplug.core.store import EvaluationRecord, Store  # noqa: E402


@pytest.fixture(scope="module")
def client(dashboard_store):
    return TestClient(create_app(dashboard_store))


def test_index_and_assets_are_served_without_a_network(client):
    page = client.get("/")
    assert page.status_code == 200 and '<script src="/static/plotly.min.js">' in page.text
    plotly = client.get("/static/plotly.min.js")
    assert plotly.status_code == 200 and len(plotly.content) > 1_000_000  # Plotly.js from the installed package
    assert "Plotly" in client.get("/static/plotly.min.js").text[:2000] or b"plotly" in plotly.content[:5000].lower()
    assert client.get("/static/app.js").status_code == 200


def test_runs_table_lists_every_run_with_status_progress_and_best(client, dashboard_store):
    runs = client.get("/api/runs").json()["runs"]
    by_name = {r["name"]: r for r in runs}
    assert set(by_name) == {"rea-0", "rea-1", "front", "forest", "params", "supernet"}
    rea = by_name["rea-0"]
    assert rea["kind"] == "search" and rea["status"] == "finished" and rea["progress"] == 40 and rea["total"] == 40
    with Store(dashboard_store) as s:
        best = max(e.value for e in s.evaluations(rea["id"]) if not e.info.get("repeat"))
    assert rea["best"] == pytest.approx(best)
    assert by_name["forest"]["progress"] == 3 and by_name["forest"]["total"] == 3
    assert "space=toy" in rea["parts"] and "strategy=rea" in rea["parts"]
    assert [r["name"] for r in client.get("/api/runs?kind=predict").json()["runs"]] == ["forest"]
    assert {r["name"] for r in client.get("/api/runs?q=rea").json()["runs"]} == {"rea-0", "rea-1"}
    assert client.get("/api/runs?status=running").json()["runs"] == []


def test_run_detail_gives_the_config_as_toml(client):
    rid = _id(client, "rea-0")
    detail = client.get(f"/api/runs/{rid}").json()
    assert detail["kind"] == "search" and detail["evaluations"] >= 40
    import tomllib

    assert 'strategy = "rea"' in detail["config_toml"] and "[search]" in detail["config_toml"]
    assert tomllib.loads(detail["config_toml"]) == detail["config"]  # the TOML a user would write back
    assert client.get("/api/runs/999").status_code == 404 and "no run 999" in client.get("/api/runs/999").json()["error"]


def test_charts_by_kind(client, dashboard_store):
    search = client.get(f"/api/runs/{_id(client, 'rea-0')}/charts").json()["best_so_far"]
    assert search["queries"][-1] == 40 and all(np.diff(search["best"]) >= 0)  # best-so-far never drops
    predict = client.get(f"/api/runs/{_id(client, 'forest')}/charts").json()["rounds"]
    assert predict["labels"] == [20, 40, 60] and len(predict["kendall_tau"]) == 3
    score = client.get(f"/api/runs/{_id(client, 'params')}/charts").json()
    assert [s["metric"] for s in score["scatter"]] == ["cifar10_test", "cifar100_test"]
    assert len(score["scatter"][0]["x"]) == 60 and score["correlations"]["cifar10_test"]["spearman"] > 0.3
    pareto = client.get(f"/api/runs/{_id(client, 'front')}/charts").json()["pareto"]
    assert pareto["secondary"] == "latency" and len(pareto["x"]) == len(pareto["y"]) >= 2
    # a front: as the second objective (minimised) grows, the value never falls
    order = np.argsort(pareto["x"])
    assert all(np.diff(np.asarray(pareto["y"])[order]) >= 0)
    oneshot = client.get(f"/api/runs/{_id(client, 'supernet')}/charts").json()["epochs"]
    assert oneshot["epoch"] == [0, 1, 2] and oneshot["valid_accuracy"] == [30.0, 40.0, 50.0]
    alpha = client.get(f"/api/runs/{_id(client, 'supernet')}/charts").json()["alpha"]
    assert alpha["ops"] == ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]  # NB201's op names
    assert alpha["share"]["nor_conv_3x3"] == pytest.approx([0.2, 0.3, 0.4]) and len(alpha["last"]) == 6


def test_evaluations_sort_page_and_download(client, dashboard_store):
    rid = _id(client, "rea-0")
    page = client.get(f"/api/runs/{rid}/evaluations?order=value&desc=1&limit=5").json()
    values = [r["value"] for r in page["rows"]]
    assert len(values) == 5 and values == sorted(values, reverse=True)
    assert page["total"] >= 40
    second = client.get(f"/api/runs/{rid}/evaluations?order=seq&offset=5&limit=5").json()["rows"]
    assert [r["seq"] for r in second] == [5, 6, 7, 8, 9]
    assert client.get(f"/api/runs/{rid}/evaluations?order=info").status_code == 404
    download = client.get(f"/api/runs/{rid}/evaluations.csv")
    assert download.headers["content-disposition"].endswith(f'run{rid}_evaluations.csv"')
    rows = list(csv.DictReader(io.StringIO(download.text)))
    with Store(dashboard_store) as s:
        stored = s.evaluations(rid)
    assert [int(r["seq"]) for r in rows] == [e.seq for e in stored]
    assert json.loads(rows[0]["info"]) == stored[0].info


def test_compare_overlays_runs_with_a_mean_and_band(client):
    ids = f"{_id(client, 'rea-0')},{_id(client, 'rea-1')}"
    body = client.get(f"/api/compare?runs={ids}").json()
    assert len(body["runs"]) == 2
    mean = body["mean"]
    ends = [c["best"][-1] for c in body["runs"].values()]
    assert mean["queries"][-1] == 40 and mean["mean"][-1] == pytest.approx(np.mean(ends))
    assert mean["std"][-1] == pytest.approx(np.std(ends))


def test_architecture_view_draws_the_cell(client):
    rid = _id(client, "params")
    arch = client.get(f"/api/runs/{rid}/evaluations?limit=1").json()["rows"][0]["arch"]
    graph = client.get(f"/api/runs/{rid}/architecture", params={"arch": arch}).json()["graph"]
    assert graph["ops"][0] == "input" and graph["ops"][-1] == "output" and len(graph["ops"]) == 8
    assert [0, 1] in graph["edges"]


def test_the_dashboard_follows_a_run_that_is_writing(dashboard_store, tmp_path):
    import shutil

    path = tmp_path / "live.db"
    shutil.copy(dashboard_store, path)
    client = TestClient(create_app(path))
    rid = _id(client, "rea-0")
    before = client.get(f"/api/runs/{rid}").json()["evaluations"]
    with Store(path) as s:
        s.add_evaluation(EvaluationRecord(rid, before, "9999", 123.0, 123.0, 0.0, 0.0, {}))
    assert client.get(f"/api/runs/{rid}").json()["evaluations"] == before + 1
    assert client.get(f"/api/runs/{rid}/charts").json()["best_so_far"]["best"][-1] == 123.0


def test_a_missing_store_is_refused_and_the_store_is_never_written(tmp_path, dashboard_store):
    with pytest.raises(StoreError, match="no result store"):
        create_app(tmp_path / "absent.db")
    assert not (tmp_path / "absent.db").exists()
    before = dashboard_store.stat().st_mtime_ns
    client = TestClient(create_app(dashboard_store))
    for url in ("/api/runs", f"/api/runs/{_id(client, 'rea-0')}/charts"):
        client.get(url)
    assert dashboard_store.stat().st_mtime_ns == before


def test_large_stores_open_fast_and_curves_are_downsampled(tmp_path):
    """100 runs and 500,000 evaluations: the runs table and a 100k-evaluation curve stay small and quick."""
    import time

    path = tmp_path / "big.db"
    rng = np.random.default_rng(0)
    with Store(path) as s:
        for r in range(100):
            rid = s.create_run("search", f"run{r}", {"kind": "search", "search": {"queries": 5000}}, "h", r)
            n = 100_000 if r == 0 else 4040
            values = rng.random(n)
            with s.transaction():
                s._db.executemany("INSERT INTO evaluations VALUES (?,?,?,?,?,?,?,?,?)",
                                  [(rid, i, str(i), float(v), float(v), 1.0, 0.01, "{}", 0.0) for i, v in enumerate(values)])
            s.set_status(rid, "finished", {"best_value": float(values.max())})
    with Store(path, read_only=True) as s:
        assert s._db.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0] == 100_000 + 99 * 4040
        started = time.perf_counter()
        rows = data.runs_table(s)
        table_seconds = time.perf_counter() - started
        curve = data.best_so_far(s, 1)
        page = data.evaluations_page(s, 1, order="value", descending=True, limit=50)
    assert len(rows) == 100 and table_seconds < 2.0
    assert len(curve["queries"]) <= data.MAX_POINTS + 1 and curve["queries"][-1] == 100_000
    assert page["rows"][0]["value"] == pytest.approx(rows[0]["best"])


def _id(client, name):
    return next(r["id"] for r in client.get("/api/runs").json()["runs"] if r["name"] == name)
