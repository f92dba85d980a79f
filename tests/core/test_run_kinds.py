"""Run kinds are plugins of ``nasplug.runs``: the core's four are found through the registry, and
a kind defined outside the core (``run_kind_example.CensusRun``) runs, validates, stores, resumes
and lists like them once its distribution declares one entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nasplug.core.errors import ConfigError
from nasplug.core.registry import Registry
from nasplug.core.runs import run
from nasplug.core.store import Store
from nasplug.core.testing import ToySpace, interrupt_after
from nasplug.core.testing.distributions import install_distribution, uninstall_distribution

HERE = Path(__file__).resolve().parent


@pytest.fixture
def census(tmp_path, monkeypatch):
    """A registry that sees a distribution declaring ``census = run_kind_example:CensusRun``."""
    monkeypatch.delenv("NASPLUG_PLUGINS", raising=False)
    monkeypatch.syspath_prepend(str(HERE))
    folder = install_distribution(tmp_path / "site", "nasplug-census-example",
                                  {"nasplug.runs": {"census": "run_kind_example:CensusRun"}})
    reg = Registry()
    reg.register("space", "toy", ToySpace)
    yield reg
    uninstall_distribution(folder)


def config(tmp_path, **census):
    return {"kind": "census", "seed": 4, "space": {"name": "toy", "positions": 3},
            "objective": {"name": "benchmark", "metric": "accuracy"}, "census": census,
            "store": {"path": str(tmp_path / "c.db")}}


def test_core_kinds_are_registered_like_any_part():
    reg = Registry()
    assert {"search", "predict", "score", "tune"} <= set(reg.names("run"))
    assert reg.load("run", "search").__module__ == "nasplug.core.runs.search"
    infos = {i.name: i for i in reg.describe(["run"])}
    assert infos["tune"].package == "nasplug-core" and infos["tune"].error is None


def test_base_imports_no_run_kind():
    out = subprocess.run([sys.executable, "-c", "import sys, nasplug.core.runs.base; "
                          "print(sorted(m for m in sys.modules if m.startswith('nasplug.core.runs.')))"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['nasplug.core.runs.base', 'nasplug.core.runs.seeds']"  # the package's API


def test_a_run_kind_from_outside_the_core_runs_stores_and_resumes(census, tmp_path):
    result = run(config(tmp_path / "a", step=7), registry=census)
    assert result.kind == "census"
    toy = ToySpace(ToySpace.Config(positions=3))
    from nasplug.core.seeding import derive_rng

    offset = int(derive_rng(4, "offset").integers(7))
    expected = sorted(toy.enumerate())[offset::7]
    bench = toy.load_benchmark(None)
    values = {a: float(bench.query(a, "accuracy")) for a in expected}
    assert result.result["evaluated"] == len(expected) >= 9
    assert result.result["best_value"] == max(values.values())
    with Store(tmp_path / "a" / "c.db") as store:
        stored = store.evaluations(result.id)
        assert [e.arch for e in stored] == expected and store.run(result.id).kind == "census"

    with interrupt_after(3), pytest.raises(KeyboardInterrupt):
        run(config(tmp_path / "b", step=7), registry=census)
    resumed = run(config(tmp_path / "b", step=7), registry=census, resume=True)
    assert {k: v for k, v in resumed.result.items() if k != "run_seconds"} == \
        {k: v for k, v in result.result.items() if k != "run_seconds"}


def test_a_run_kinds_tables_and_options_are_validated_like_the_core_kinds(census, tmp_path):
    with pytest.raises(ConfigError, match=r"config key 'census\.step': expected an integer >= 1"):
        run(config(tmp_path, step=0), registry=census)
    with pytest.raises(ConfigError, match=r"census runs need a \[objective\] table"):
        run({k: v for k, v in config(tmp_path).items() if k != "objective"}, registry=census)
    with pytest.raises(ConfigError, match=r"config table 'strategy' belongs to search runs, not census runs"):
        run({**config(tmp_path), "strategy": "random"}, registry=census)
    with pytest.raises(ConfigError, match=r"config key 'kind' must be one of .*census.*did you mean 'census'"):
        run({**config(tmp_path), "kind": "censu"}, registry=census)
    assert not (tmp_path / "c.db").exists()  # nothing stored for bad input


def test_an_unknown_kind_names_the_known_ones():
    with pytest.raises(ConfigError, match=r"config key 'kind' must be one of oneshot, predict, score, search, tune.*got 'serch'; did you mean 'search'"):
        run({"kind": "serch", "space": "nb201"})
