"""Seed-0 identity check of the run kinds: the (seq, arch, value) sequence of one small run per
kind and per main part (and the metrics of every predict round), written as JSON so that two
versions of nasplug can be compared.

    python bench/identity.py --out W/after.json                       # record
    python bench/identity.py --out W/after.json --compare bench/results/identity_reference.json
    python bench/identity.py --out W/after.json --compare bench/results/identity_reference.json --report

``--report`` writes ``bench/results/identity.json`` and ``.md``: one row per run with its evaluation
and round counts and whether it matches the reference.

The reference (``bench/results/identity_reference.json``) was recorded on the code before the
run-kind refactor (issue 20); ``--compare`` exits 1 naming the first run and sequence number that
differ. Values are compared exactly (floats through their JSON text); wall times and round timings
(``*_seconds``) are left out.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path

from nasplug.core.runs import run
from nasplug.core.store import Store

BENCH = Path(os.environ.get("NASPLUG_BENCHMARKS") or Path(__file__).resolve().parents[2] / "shared" / "benchmarks")
DATA = {"path": str(BENCH / "images" / "cifar10_test_20.npz")}
TINY_EPROXY = {"name": "eproxy", "module_options": {"channels": 4, "cells_per_stage": 1}, "images": 4,
               "iterations": 2, "target_size": 4}
NB201_VAL = {"name": "benchmark", "metric": "cifar10_val_12ep"}

CONFIGS: dict[str, dict] = {
    "search-rea": {"kind": "search", "space": "nb201", "strategy": "rea", "objective": NB201_VAL,
                   "search": {"queries": 60, "report": ["cifar10_test"]}},
    "search-random": {"kind": "search", "space": "nb201", "strategy": "random", "objective": NB201_VAL,
                      "search": {"queries": 30}},
    "search-dsm_nas": {"kind": "search", "space": "nb201", "strategy": "dsm_nas", "objective": NB201_VAL,
                       "search": {"queries": 60}},
    "search-local_search": {"kind": "search", "space": "nb201", "strategy": "local_search", "objective": NB201_VAL,
                            "search": {"queries": 40}},
    "search-reinforce": {"kind": "search", "space": "nb201", "strategy": "reinforce", "objective": NB201_VAL,
                         "search": {"queries": 40}},
    "search-proxy_rea": {"kind": "search", "space": "nb201",
                         "strategy": {"name": "proxy_rea", "proxy": "synflow", "cycles": 40},
                         "objective": NB201_VAL, "search": {"queries": 10}},
    "search-predictor_guided": {"kind": "search", "space": "nb201",
                                "strategy": {"name": "predictor_guided", "sampler": "random",
                                             "predictor": {"name": "sklearn", "model": "random_forest"},
                                             "initial": 5, "per_round": 5, "rounds": 2, "pool_size": 2000},
                                "objective": NB201_VAL, "search": {"queries": 25}},
    "search-proxy-objective": {"kind": "search", "space": "nb201", "strategy": "rea",
                               "objective": {"name": "proxy", "proxy": "synflow"}, "search": {"queries": 20}},
    "predict-random": {"kind": "predict", "space": "nb201", "sampler": "random",
                       "predictor": {"name": "sklearn", "model": "random_forest"},
                       "predict": {"initial": 10, "per_round": 10, "rounds": 2, "pool_size": 1000}},
    "predict-dare": {"kind": "predict", "space": "nb201", "sampler": "dare", "predictor": "dare_gcn",
                     "predict": {"initial": 10, "per_round": 10, "rounds": 2, "pool_size": 1000}},
    "score-synflow": {"kind": "score", "space": "nb201", "proxy": "synflow",
                      "score": {"archs": 20, "metrics": ["cifar10_test"]}},
    "score-eproxy": {"kind": "score", "space": "nb201", "proxy": TINY_EPROXY, "data": DATA,
                     "score": {"archs": 8, "metrics": ["cifar10_test"]}},
    "tune-eproxy": {"kind": "tune", "space": "nb201", "proxy": TINY_EPROXY, "data": DATA,
                    "tune": {"population": 4, "sample": 2, "configurations": 10, "archs": 5}},
    "tune-eproxy-base": {"kind": "tune", "space": "nb201", "proxy": TINY_EPROXY, "data": DATA,
                         "tune": {"population": 3, "sample": 2, "configurations": 6, "archs": 4, "include_base": True,
                                  "batch_size": 2}},
}


def _value(v: float) -> float | str:
    return v if math.isfinite(v) else repr(v)


def record(names: list[str], workdir: Path) -> dict:
    out: dict = {}
    for name in names:
        config = {**CONFIGS[name], "seed": 0, "store": {"path": str(workdir / f"{name}.db")}}
        result = run(config)
        with Store(result.store) as store:
            evals = store.evaluations(result.id)
            rounds = store.rounds(result.id) if config["kind"] == "predict" else []
        out[name] = {
            "evaluations": [[e.seq, e.arch, _value(e.value)] for e in evals],
            "rounds": [[r.round, r.labelled, {k: _value(v) for k, v in sorted(r.metrics.items())}]
                       for r in rounds],
        }
        print(f"{name}: {len(evals)} evaluations, {len(rounds)} rounds", file=sys.stderr)
    return out


def _untimed(row: list) -> list:
    """A stored round without its timings (``*_seconds``), which no two runs share."""
    if len(row) == 3 and isinstance(row[2], dict):
        return [row[0], row[1], {k: v for k, v in row[2].items() if not k.endswith("_seconds")}]
    return row


def compare(now: dict, reference: dict) -> list[str]:
    problems = []
    for name, ref in reference.items():
        got = now.get(name)
        if got is None:
            problems.append(f"{name}: not recorded")
            continue
        for part in ("evaluations", "rounds"):
            for i, (a, b) in enumerate(zip(got[part], ref[part])):
                a, b = _untimed(a), _untimed(b)
                if json.dumps(a) != json.dumps(b):
                    problems.append(f"{name}: {part}[{i}] differs: now {a}, reference {b}")
                    break
            else:
                if len(got[part]) != len(ref[part]):
                    problems.append(f"{name}: {len(got[part])} {part} now, {len(ref[part])} in the reference")
    return problems


def report(now: dict, names: list[str], differing: set[str], problems: list[str], reference: Path) -> None:
    from _common import write_results

    rows = [{"run": n, "kind": CONFIGS[n]["kind"], "evaluations": len(now[n]["evaluations"]),
             "rounds": len(now[n]["rounds"]), "identical": n not in differing} for n in names]
    md = ["# Seed-0 identity of the run kinds (issue 20)", "",
          f"Each run below was recorded before the run-kind refactor ({reference.name}) and again on this code, "
          "seed 0; compared: every stored (seq, arch, value) and every predict round's labelled set and metrics "
          "(timings left out). Command: `python bench/identity.py --out W/now.json --compare "
          "bench/results/identity_reference.json --report`.", "",
          "| run | kind | evaluations | rounds | identical |", "|---|---|---|---|---|"]
    md += [f"| {r['run']} | {r['kind']} | {r['evaluations']} | {r['rounds']} | {'yes' if r['identical'] else '**no**'} |"
           for r in rows]
    md += ["", f"{sum(r['identical'] for r in rows)} of {len(rows)} runs identical."]
    if problems:
        md += ["", "Differences:", ""] + [f"- {p}" for p in problems]
    write_results("identity", {"reference": reference.name, "runs": rows, "problems": problems}, "\n".join(md))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--compare", type=Path)
    parser.add_argument("--only", default=",".join(CONFIGS))
    parser.add_argument("--report", action="store_true", help="write bench/results/identity.json and .md")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n]
    with tempfile.TemporaryDirectory() as tmp:
        now = record(names, Path(tmp))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(now, indent=1) + "\n", encoding="utf-8")
    if args.compare:
        reference = json.loads(args.compare.read_text(encoding="utf-8"))
        problems = compare(now, {k: v for k, v in reference.items() if k in names})
        for p in problems:
            print(p)
        differing = {p.split(":")[0] for p in problems}
        print(f"{len(names) - len(differing)} of {len(names)} runs identical to {args.compare}")
        if args.report:
            report(now, names, differing, problems, args.compare)
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
