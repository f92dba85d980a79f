"""The nasplug CLI: listing, running, inspecting, reporting, and every bad input -> one line, exit 2."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nasplug.core.cli.main import main

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path, text, name="run.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


SEARCH = """
kind = "search"
seed = 0
[space]
name = "nb201"
[strategy]
name = "rea"
[objective]
name = "proxy"
proxy = "params"
[search]
queries = 12
[store]
path = "{store}"
"""


def cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0]


def test_plugins_lists_every_kind(capsys):
    code, out, _ = cli(capsys, "plugins")
    assert code == 0
    for expected in ("space:", "nb201", "sampler:", "random", "proxy:", "params", "flops", "strategy:", "rea", "nasplug-search"):
        assert expected in out
    code, out, _ = cli(capsys, "plugins", "--format", "json")
    rows = json.loads(out)
    assert {"kind": "strategy", "name": "rea", "package": "nasplug-search"}.items() <= next(r for r in rows if r["name"] == "rea").items()


def test_run_runs_show_report(tmp_path, capsys):
    store = tmp_path / "cli.db"
    config = write(tmp_path, SEARCH.format(store=store))
    code, out, _ = cli(capsys, "run", config)
    assert code == 0 and "run 1 (search) finished" in out and "best_arch" in out
    code, out, _ = cli(capsys, "runs", "--store", store)
    assert code == 0 and "finished" in out and "search" in out
    code, out, _ = cli(capsys, "show", "1", "--store", store, "--format", "json")
    shown = json.loads(out)
    assert shown["status"] == "finished" and shown["evaluations"] >= 12 and shown["result"]["queries"] == 12
    code, out, _ = cli(capsys, "report", "1", "--store", store, "--out", tmp_path / "rep")
    assert code == 0
    assert (tmp_path / "rep" / "search_best_so_far.png").stat().st_size > 1000
    assert (tmp_path / "rep" / "run1_evaluations.csv").read_text().count("\n") >= 13


def test_json_output_writes_nan_as_null(tmp_path, capsys):
    from nasplug.core.store import Store

    store = tmp_path / "nan.db"
    with Store(store) as s:
        rid = s.create_run("score", "x", {}, "h", 0)
        s.set_status(rid, "finished", {"correlations": {"cifar10_test": {"spearman": float("nan")}}, "best": float("inf")})
    code, out, _ = cli(capsys, "show", "1", "--store", store, "--format", "json")
    assert code == 0 and "NaN" not in out and "Infinity" not in out
    shown = json.loads(out)
    assert shown["result"]["correlations"]["cifar10_test"]["spearman"] is None and shown["result"]["best"] is None


def test_report_for_score_and_predict_runs(tmp_path, capsys, benchmarks):
    store = tmp_path / "r.db"
    score = write(tmp_path, f"""
kind = "score"
[space]
name = "nb201"
[proxy]
name = "params"
[score]
archs = 40
metrics = ["cifar10_test"]
[store]
path = "{store}"
""", "score.toml")
    predict = write(tmp_path, f"""
kind = "predict"
[space]
name = "nb201"
[sampler]
name = "random"
[predictor]
name = "sklearn"
model = "linear"
[predict]
metric = "cifar100_test"
initial = 10
per_round = 10
rounds = 2
[store]
path = "{store}"
""", "predict.toml")
    assert cli(capsys, "run", score)[0] == 0
    assert cli(capsys, "run", predict)[0] == 0
    code, out, _ = cli(capsys, "report", "1", "2", "--store", store, "--out", tmp_path / "rep")
    assert code == 0
    assert (tmp_path / "rep" / "score_run1_cifar10_test.png").exists()
    assert (tmp_path / "rep" / "predict_metrics.png").exists()
    assert "kendall_tau" in (tmp_path / "rep" / "run2_rounds.csv").read_text()


@pytest.mark.parametrize("text, fragments", [
    (SEARCH.replace('name = "rea"', 'name = "reaa"'), ["unknown strategy 'reaa'", "did you mean 'rea'"]),
    (SEARCH.replace('[search]', '[search'), ["invalid TOML"]),
    (SEARCH.replace('queries = 12', 'queries = "many"'), ["search.queries", "integer"]),
    (SEARCH.replace('queries = 12', 'queries = -3'), ["search.queries"]),
    (SEARCH.replace('[strategy]\nname = "rea"', '[strategy]\nname = "rea"\npopulation_size = 0'), ["strategy.population_size"]),
    (SEARCH.replace('[strategy]\nname = "rea"', '[strategy]\nname = "rea"\npopsize = 5'), ["strategy.popsize"]),
    (SEARCH.replace('kind = "search"', 'kind = "serch"'), ["'kind'"]),
    (SEARCH.replace('seed = 0', 'seed = 0\n[sampler]\nname = "random"'), ["'sampler' belongs to predict runs"]),
    (SEARCH.replace('name = "proxy"\nproxy = "params"', 'name = "benchmark"\nmetric = "cifar10_tset"'), ["no metric 'cifar10_tset'", "cifar10_test"]),
    (SEARCH.replace('seed = 0', 'seed = 0\n[benchmark]\npath = "/no/such/folder"'), []),
    (SEARCH.replace('[search]', '[score]\narchs = 5\n[search]'), ["'score' belongs to score runs"]),
])
def test_bad_config_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, text, fragments):
    store = tmp_path / "bad.db"
    config = write(tmp_path, text.format(store=store))
    code, out, err = cli(capsys, "run", config)
    if "/no/such/folder" in text:  # the proxy objective needs no benchmark: the run is fine
        assert code == 0
        return
    assert_one_line_error(code, err, *fragments)
    assert not store.exists()


def test_missing_benchmark_file_and_column(tmp_path, capsys):
    base = SEARCH.replace('name = "proxy"\nproxy = "params"', 'name = "benchmark"\nmetric = "cifar10_test"')
    config = write(tmp_path, base.replace('seed = 0', 'seed = 0\n[benchmark]\npath = "/no/such/folder"').format(store=tmp_path / "b.db"))
    code, _, err = cli(capsys, "run", config)
    assert_one_line_error(code, err, "not found", "benchmark.path")
    bogus = tmp_path / "bogus.csv"
    bogus.write_text("a,b\n1,2\n")
    config = write(tmp_path, base.replace('seed = 0', f'seed = 0\n[benchmark]\npath = "{bogus}"').format(store=tmp_path / "b.db"))
    code, _, err = cli(capsys, "run", config)
    assert_one_line_error(code, err)
    assert not (tmp_path / "b.db").exists()


def test_architecture_not_in_the_space(tmp_path, capsys):
    config = write(tmp_path, f"""
kind = "score"
[space]
name = "nb201"
[proxy]
name = "params"
[score]
archs = ["|nor_conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|"]
[store]
path = "{tmp_path / 's.db'}"
""")
    code, _, err = cli(capsys, "run", config)
    assert_one_line_error(code, err, "score.archs[0]", "nor_conv_5x5")


def test_budget_larger_than_the_pool(tmp_path, capsys):
    config = write(tmp_path, f"""
kind = "score"
[space]
name = "nb201"
[proxy]
name = "params"
[score]
archs = 20000
[store]
path = "{tmp_path / 's.db'}"
""")
    code, _, err = cli(capsys, "run", config)
    assert_one_line_error(code, err, "20000", "15625")


def test_unknown_run_id_and_missing_store(tmp_path, capsys):
    store = tmp_path / "cli.db"
    assert cli(capsys, "run", write(tmp_path, SEARCH.format(store=store)))[0] == 0
    code, _, err = cli(capsys, "show", "42", "--store", store)
    assert_one_line_error(code, err, "no run 42", "nasplug runs")
    code, _, err = cli(capsys, "show", "abc", "--store", store)
    assert_one_line_error(code, err, "integer")
    code, _, err = cli(capsys, "runs", "--store", tmp_path / "none.db")
    assert_one_line_error(code, err, "no result store")
    assert not (tmp_path / "none.db").exists()


def test_resume_with_a_different_config(tmp_path, capsys):
    store = tmp_path / "cli.db"
    assert cli(capsys, "run", write(tmp_path, SEARCH.format(store=store)))[0] == 0
    other = write(tmp_path, SEARCH.format(store=store).replace("queries = 12", "queries = 13"), "other.toml")
    code, _, err = cli(capsys, "run", other, "--resume")
    assert_one_line_error(code, err, "no run in", "was made from this config", "run without --resume")
    # a shared store: the latest run is another config's, so --resume must be told which run
    assert cli(capsys, "run", other)[0] == 0
    first = write(tmp_path, SEARCH.format(store=store), "first.toml")
    code, _, err = cli(capsys, "run", first, "--resume")
    assert_one_line_error(code, err, "latest run", "(run 2) was made from a different config", "runs made from this config: 1",
                          "--run ID")
    code, out, _ = cli(capsys, "run", first, "--resume", "--run", "1")
    assert code == 0 and "run 1 (search) resumed and finished" in out
    code, _, err = cli(capsys, "run", first, "--resume", "--run", "2")
    assert_one_line_error(code, err, "run 2", "different config")
    code, _, err = cli(capsys, "run", first, "--run", "1")  # --run alone is not silently ignored
    assert_one_line_error(code, err, "--run 1 names a run to continue; add --resume")


def test_missing_config_file(tmp_path, capsys):
    code, _, err = cli(capsys, "run", tmp_path / "nope.toml")
    assert_one_line_error(code, err, "not found")


def test_subprocess_exit_status_and_no_traceback(tmp_path):
    config = write(tmp_path, SEARCH.replace('name = "rea"', 'name = "nope"').format(store=tmp_path / "x.db"))
    proc = subprocess.run([sys.executable, "-m", "nasplug.core", "run", str(config)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("error: unknown strategy 'nope'")
    assert proc.stdout == ""


def test_progress_bars_stay_quiet_off_a_terminal(tmp_path):
    config = write(tmp_path, SEARCH.format(store=tmp_path / "q.db"))
    proc = subprocess.run([sys.executable, "-m", "nasplug.core", "run", str(config)], capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stderr == ""  # no progress bar, no warnings, when stderr is not a terminal
    assert proc.stdout.startswith("run 1 (search) finished")


def test_a_foreign_sqlite_database_is_refused_unchanged(tmp_path, capsys):
    import hashlib
    import sqlite3

    foreign = tmp_path / "photos.db"
    with sqlite3.connect(foreign) as con:
        con.execute("CREATE TABLE albums (id INTEGER PRIMARY KEY, title TEXT)")
        con.execute("INSERT INTO albums VALUES (1, 'holidays')")
    con.close()
    before = hashlib.sha256(foreign.read_bytes()).hexdigest()
    for args in (("runs", "--store", foreign), ("show", "1", "--store", foreign),
                 ("run", write(tmp_path, SEARCH.format(store=foreign)))):
        code, _, err = cli(capsys, *args)
        assert_one_line_error(code, err, "another application's SQLite database", "albums", "nothing was changed")
    assert hashlib.sha256(foreign.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos.db", "run.toml"]  # no -wal / -shm left behind


def test_read_only_commands_do_not_write_to_the_store(tmp_path, capsys):
    import hashlib

    store = tmp_path / "cli.db"
    assert cli(capsys, "run", write(tmp_path, SEARCH.format(store=store)))[0] == 0
    digest = hashlib.sha256(store.read_bytes()).hexdigest()
    for args in (("runs", "--store", store), ("show", "1", "--store", store)):
        assert cli(capsys, *args)[0] == 0
    assert hashlib.sha256(store.read_bytes()).hexdigest() == digest
    import sqlite3

    from nasplug.core.store import Store

    with Store(store, read_only=True) as s, pytest.raises(sqlite3.OperationalError, match="readonly"):
        s._db.execute("CREATE TABLE t (x)")  # the connection itself cannot write


def test_a_store_made_before_application_ids_still_opens(tmp_path, capsys):
    import sqlite3

    from nasplug.core.store import APPLICATION_ID, Store

    store = tmp_path / "old.db"
    assert cli(capsys, "run", write(tmp_path, SEARCH.format(store=store)))[0] == 0
    with sqlite3.connect(store) as con:
        con.execute("PRAGMA application_id=0")  # as stores were written before
    con.close()
    code, out, _ = cli(capsys, "runs", "--store", store)
    assert code == 0 and "finished" in out
    with Store(store) as s:
        assert s.latest_run().status == "finished"
    with sqlite3.connect(store) as con:
        assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID  # marked on the next write
    con.close()


def test_file_system_and_damaged_file_errors_are_one_line(tmp_path, capsys, benchmarks):
    import numpy as np

    store = tmp_path / "cli.db"
    assert cli(capsys, "run", write(tmp_path, SEARCH.format(store=store)))[0] == 0
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, _, err = cli(capsys, "report", "1", "--store", store, "--out", blocker)
    assert_one_line_error(code, err, "report folder", "is a file")
    code, _, err = cli(capsys, "run", write(tmp_path, SEARCH.format(store=blocker / "r.db"), "b.toml"))
    assert_one_line_error(code, err, "store's folder", "is a file")
    # a gzip damaged in the middle (zlib.error), as a benchmark table
    data = bytearray((benchmarks / "nb201" / "nb201.csv.gz").read_bytes()[:200_000])
    data[5000:6000] = bytes(b ^ 0x5A for b in data[5000:6000])
    (tmp_path / "damaged.csv.gz").write_bytes(bytes(data))
    bench = SEARCH.format(store=tmp_path / "d.db").replace('name = "proxy"\nproxy = "params"', 'name = "benchmark"\nmetric = "cifar10_test"')
    code, _, err = cli(capsys, "run", write(tmp_path, bench + f'[benchmark]\npath = "{tmp_path / "damaged.csv.gz"}"\n', "d.toml"))
    assert_one_line_error(code, err, "cannot read NAS-Bench-201 table", "damaged.csv.gz")
    (tmp_path / "notes.csv").write_text("my-secret-token,other\n1,2\n")  # errors never print a file's contents
    code, _, err = cli(capsys, "run", write(tmp_path, bench + f'[benchmark]\npath = "{tmp_path / "notes.csv"}"\n', "d.toml"))
    assert_one_line_error(code, err, "is not a NAS-Bench-201 table")
    assert "my-secret-token" not in err
    # npz files that hold no images
    np.savez(tmp_path / "empty.npz")
    np.savez(tmp_path / "text.npz", x=np.array([["a", "b"]]), y=np.array([0]))
    for name, fragment in (("empty.npz", "is not an npz with arrays 'x' and 'y'"), ("text.npz", "x must be 4-D numeric images")):
        score = (f'kind = "score"\nseed = 0\n[space]\nname = "nb201"\n[proxy]\nname = "naswot"\n[data]\npath = "{tmp_path / name}"\n'
                 f'[score]\narchs = 2\n[store]\npath = "{tmp_path / "s.db"}"\n')
        code, _, err = cli(capsys, "run", write(tmp_path, score, "s.toml"))
        assert_one_line_error(code, err, fragment)
    assert not (tmp_path / "s.db").exists() and not (tmp_path / "d.db").exists()


def test_labels_that_would_be_truncated_or_misread_are_refused(tmp_path):
    import numpy as np

    from nasplug.core.data import load_image_batch
    from nasplug.core.errors import ConfigError

    x = np.zeros((4, 32, 32, 3), dtype=np.uint8)
    for y, fragment in ((np.array([0.0, 1.5, 2.0, 3.0]), "whole class indices"), (np.array([0, -1, 2, 3]), ">= 0"),
                        (np.array([0, 1]), "one label per image"), (np.array(["a", "b", "c", "d"]), "whole class indices")):
        np.savez(tmp_path / "d.npz", x=x, y=y)
        with pytest.raises(ConfigError, match=fragment):
            load_image_batch(tmp_path / "d.npz", 4)
    np.savez(tmp_path / "d.npz", x=x, y=np.array([0.0, 1.0, 2.0, 1.0]))  # whole floats are fine
    assert load_image_batch(tmp_path / "d.npz", 4)[1].tolist() == [0, 1, 2, 1]


def test_the_reliability_bench_cases_still_hold(bench_module):
    """Two of bench/reliability.py's cases through its own runner (the bench runs them all)."""
    bench = bench_module("reliability")
    for cls, case, files, args in bench.CASES:
        if case in ("queries above the space's size", "another application's SQLite file (run)"):
            r = bench.run_case(files, args)
            assert r["exit"] == 2 and r["stderr_lines"] == 1 and not r["traceback"] and not r["written"], (case, r)


def test_set_overrides_config_keys_and_is_stored(tmp_path, capsys):
    store = tmp_path / "r.db"
    config = write(tmp_path, SEARCH.format(store=store))
    code, out, err = cli(capsys, "run", config, "--set", "search.queries=7", "--set", "strategy.population_size=4",
                         "--set", "objective.proxy=flops", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["result"]["queries"] == 7
    code, out, _ = cli(capsys, "show", "1", "--store", store, "--format", "json")
    stored = json.loads(out)["config"]
    assert stored["search"]["queries"] == 7 and stored["strategy"] == {"name": "rea", "population_size": 4}
    assert stored["objective"]["proxy"] == "flops"
    # a part given by name becomes a table; a TOML list stays a list
    from nasplug.core.config import apply_overrides

    assert apply_overrides({"strategy": "rea"}, ["strategy.population_size=20", "search.report=[\"cifar10_test\"]"]) == \
        {"strategy": {"name": "rea", "population_size": 20}, "search": {"report": ["cifar10_test"]}}
    code, _, err = cli(capsys, "run", config, "--set", "search.querie=7")
    assert_one_line_error(code, err, "search.querie", "did you mean 'queries'")
    code, _, err = cli(capsys, "run", config, "--set", "queries")
    assert_one_line_error(code, err, "--set 'queries'", "KEY=VALUE")
    code, _, err = cli(capsys, "run", config, "--set", "seed.x=1")
    assert_one_line_error(code, err, "seed is a value, not a table")


def test_version_lists_every_installed_distribution(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    from importlib.metadata import version

    for dist in ("nasplug-core", "nasplug-spaces", "nasplug-samplers", "nasplug-proxies", "nasplug-search"):
        assert f"{dist} {version(dist)}" in out.splitlines()


def test_plugins_name_prints_the_options_of_a_part(capsys):
    code, out, _ = cli(capsys, "plugins", "dare")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("sampler dare:")
    assert any(line.split()[:4] == ["alpha", "float", "=", "0.4"] for line in lines)
    assert any("final_pick" in line and "'max_min'" in line for line in lines)
    assert any("Hopkins statistic" in line for line in lines)  # the option's sentence from the docstring
    code, out, _ = cli(capsys, "plugins", "fisher", "--format", "json")
    options = {o["name"]: o for o in json.loads(out)[0]["options"]}
    assert options["reduction"]["default"] == "fan_in" and "reference" in options["reduction"]["doc"]
    code, _, err = cli(capsys, "plugins", "fishr")
    assert_one_line_error(code, err, "no part named 'fishr'", "did you mean 'fisher'")


def test_the_readme_quickstart_needs_no_download_and_reports_true_accuracy(tmp_path):
    """The README's first command, shortened by --set, in a subprocess without NASPLUG_BENCHMARKS."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "NASPLUG_BENCHMARKS"}
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run([sys.executable, "-m", "nasplug.core", "run", str(REPO / "examples" / "quickstart.toml"),
                           "--report-dir", "report", "--set", "search.queries=12", "--set", "strategy.population_size=4"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "compact table shipped with nasplug-spaces" in done.stderr
    lines = done.stdout.splitlines()
    summary = next(i for i, line in enumerate(lines) if line.startswith("Searched nb201 with rea"))
    assert "12 evaluations of proxy(proxy=logsynflow)" in lines[summary]
    found = lines[summary + 1].split()[1]
    from nasplug.spaces.nb201.benchmark import read_embedded

    table = read_embedded()
    true = table.query(found, "cifar10_test")
    assert lines[summary + 2].split()[:2] == ["cifar10_test:", f"{true:.2f}"]
    assert "best in the benchmark 94.37" in lines[summary + 2]
    assert (tmp_path / "report" / "search_best_so_far.png").stat().st_size > 1000
    assert (tmp_path / "nasplug.db").exists()


def test_the_core_toy_space_runs_a_predict_run_from_the_cli_without_any_space_package(tmp_path, capsys):
    config = write(tmp_path, f"""
kind = "predict"
seed = 0
[space]
name = "toy"
[sampler]
name = "random"
[predictor]
name = "sklearn"
model = "random_forest"
[predict]
metric = "accuracy"
initial = 20
per_round = 20
rounds = 2
[store]
path = "{tmp_path / 'p.db'}"
""")
    code, out, err = cli(capsys, "run", config, "--format", "json")
    assert code == 0, err
    result = json.loads(out)["result"]
    assert result["labels"] == 60 and result["pool"] == 4096 and result["final"]["kendall_tau"] > 0.3


def test_new_scaffolds_plugin_packages_that_pass_their_own_tests(tmp_path, capsys):
    """``nasplug new KIND NAME``: each generated package declares its entry point and its
    conformance tests pass as generated (run here from source, as pip install -e would)."""
    import os
    import tomllib

    kinds = ("sampler", "proxy", "strategy", "space")
    for kind in kinds:
        code, out, err = cli(capsys, "new", kind, f"my-{kind}", "--dir", tmp_path)
        assert code == 0, err
        root = tmp_path / f"nasplug-my-{kind}"
        meta = tomllib.loads((root / "pyproject.toml").read_text())
        group = {"sampler": "nasplug.samplers", "proxy": "nasplug.proxies", "strategy": "nasplug.strategies", "space": "nasplug.spaces"}[kind]
        module = f"nasplug_my_{kind}"
        assert meta["project"]["entry-points"][group] == {f"my-{kind}": f"{module}:My{kind.capitalize()}"}
        assert (root / "README.md").is_file() and (root / "src" / module / "__init__.py").is_file()
    code, _, err = cli(capsys, "new", "sampler", "my-sampler", "--dir", tmp_path)
    assert_one_line_error(code, err, "already exists")
    code, _, err = cli(capsys, "new", "sampler", "9bad", "--dir", tmp_path)
    assert_one_line_error(code, err, "plugin name '9bad'")
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(str(tmp_path / f"nasplug-my-{k}" / "src") for k in kinds)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib",
                           *(str(tmp_path / f"nasplug-my-{k}" / "tests") for k in kinds)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:]
    assert " failed" not in done.stdout and "passed" in done.stdout
