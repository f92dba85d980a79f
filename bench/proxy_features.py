"""Predictors with and without zero-cost proxy features on NAS-Bench-201 CIFAR-10 (the
NAS-Bench-Suite-Zero question: do proxy scores help a performance predictor?), and proxy
calibration error.

Protocol: 2,000 random cells (seed 0); a fixed test set of 1,000 of them; for each seed, 78 /
150 / 424 training labels drawn from the other 1,000; target the 200-epoch ``cifar10_test``
accuracy; Kendall tau on the test set, mean +- std over 5 seeds. Predictors: MLP (adjacency
encoding, DARE's protocol), gradient boosting and random forest (scikit-learn, one-hot), each
with ``features = ["encoding"]`` and ``["encoding", "synflow", "naswot"]``; the GCN takes no
proxy features (a graph model; its row is the reference). synflow / naswot are computed on the real
networks (naswot on 16 CIFAR-10 test images) once per cell and cached.

Calibration: isotonic maps from synflow / naswot / params to accuracy fitted on 50 labelled cells,
mean absolute error on the 1,000 test cells (5 seeds), next to predicting the mean label.

    .venv/bin/python bench/proxy_features.py [--seeds 5] [--cells 2000]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from _common import RESULTS, benchmarks_dir, machine, write_results
from nasplug.core import metrics
from nasplug.core.calibration import fit_calibration
from nasplug.core.registry import registry

LABELS = (78, 150, 424)
PROXIES = ["synflow", "naswot"]


def predictors(data: dict) -> dict[str, dict]:
    with_proxies = {"features": ["encoding", *PROXIES], "feature_data": data}
    return {
        "gcn": {"name": "gcn", "backend": "dense"},
        "gcn + proxies": {"name": "gcn", "backend": "dense", **with_proxies},
        "mlp": {"name": "mlp"},
        "mlp + proxies": {"name": "mlp", **with_proxies},
        "gradient boosting": {"name": "sklearn", "model": "gradient_boosting"},
        "gradient boosting + proxies": {"name": "sklearn", "model": "gradient_boosting", **with_proxies},
        "random forest": {"name": "sklearn", "model": "random_forest"},
        "random forest + proxies": {"name": "sklearn", "model": "random_forest", **with_proxies},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--cells", type=int, default=2000)
    parser.add_argument("--calibration-only", action="store_true",
                        help="recompute only the calibration table (cached scores; predictor table from the last run)")
    parser.add_argument("--calibration-extra", default="eproxy",
                        help="proxies calibrated but not used as predictor features (comma-separated; '' for none)")
    parser.add_argument("--only", default="",
                        help="recompute only these predictor rows (comma-separated names); the other rows and the "
                             "calibration table come from the last run")
    args = parser.parse_args()
    only = [n for n in args.only.split(",") if n]
    import torch

    torch.set_num_threads(1)
    root = benchmarks_dir()
    data = {"path": str(root / "images" / "cifar10_test_20.npz"), "batch_size": 16}
    reg = registry()
    space = reg.create("space", "nb201")
    bench = space.load_benchmark()
    cells = space.sample_many(args.cells, np.random.default_rng(0))
    y = np.array([bench.query(a, "cifar10_test") for a in cells], dtype=float)
    test, rest = np.arange(args.cells // 2), np.arange(args.cells // 2, args.cells)
    started = time.perf_counter()
    features = reg.create("encoder", {"name": "proxy_features", "base": "", "proxies": PROXIES + ["params"], "data": data},
                          section="encoder", space=space)
    scores = features.scores(cells)  # fitness columns: synflow, naswot, params (computed once, cached)
    proxy_seconds = time.perf_counter() - started
    print(f"proxy scores of {args.cells} cells: {proxy_seconds:.0f} s", flush=True)

    table: dict[str, dict[int, list[float]]] = {}
    table_cells = args.cells
    fit_seconds: dict[str, float] = {}
    if args.calibration_only or only:  # the predictor table (and the scoring time) from the last full run
        previous = json.loads((RESULTS / "proxy_features.json").read_text())
        proxy_seconds, table_cells = previous["proxy_seconds"], previous.get("table_cells", previous["cells"])
        table = {k: {int(n): v for n, v in row.items()} for k, row in previous["kendall_tau"].items()}
        fit_seconds = previous["fit_seconds"]
        if only and table_cells != args.cells:
            raise SystemExit(f"--only adds rows to a table of {table_cells} cells; pass --cells {table_cells}")
    unknown = sorted(set(only) - set(predictors(data)))
    if unknown:
        raise SystemExit(f"--only: unknown predictor row {unknown[0]!r}; known: {', '.join(predictors(data))}")
    todo = {} if args.calibration_only else {k: v for k, v in predictors(data).items() if not only or k in only}
    for name, spec in todo.items():
        table[name] = {n: [] for n in LABELS}
        t0 = time.perf_counter()
        for seed in range(args.seeds):
            order = np.random.default_rng(seed + 1).permutation(rest)
            for n in LABELS:
                train = order[:n]
                predictor = reg.create("predictor", spec, section="predictor", space=space)
                predictor.fit([cells[i] for i in train], y[train], seed=seed)
                pred = predictor.predict([cells[i] for i in test])
                table[name][n].append(metrics.kendall_tau(pred, y[test]))
        fit_seconds[name] = time.perf_counter() - t0
        print(name, {n: round(float(np.mean(v)), 3) for n, v in table[name].items()}, flush=True)

    # proxies calibrated but not used as features (Eproxy: ~3 s per cell), scored on the cells the
    # calibration reads only: the test cells and every seed's 50 labelled ones
    extra = [p for p in args.calibration_extra.split(",") if p] if not only else []
    label_sets = [np.random.default_rng(100 + seed).permutation(rest)[:50] for seed in range(args.seeds)]
    if extra:
        needed = np.unique(np.concatenate([test, *label_sets]))
        t0 = time.perf_counter()
        more = reg.create("encoder", {"name": "proxy_features", "base": "", "proxies": extra, "data": data},
                          section="encoder", space=space).scores([cells[i] for i in needed])
        print(f"{', '.join(extra)} scores of {len(needed)} cells: {time.perf_counter() - t0:.0f} s", flush=True)
        full = np.full((len(cells), len(extra)), np.nan)
        full[needed] = more
        scores = np.concatenate([scores, full], axis=1)
    calibrated = PROXIES + ["params"] + extra
    calibration: dict[str, list[float]] = {p: [] for p in calibrated + ["mean label"]}
    calibration_cells = args.cells
    if only:  # as the last run measured it
        calibration, calibration_cells = previous["calibration_mae"], previous["cells"]
    for seed in range(args.seeds if not only else 0):
        train = label_sets[seed]
        for j, proxy in enumerate(calibrated):
            fitted = fit_calibration(scores[train, j], y[train])
            # a cell whose score is not finite (naswot's log-determinant of a singular kernel) gets
            # the lowest fitted accuracy, as the calibrated predictor does
            column = np.where(np.isfinite(scores[test, j]), scores[test, j], -np.inf)
            calibration[proxy].append(float(np.mean(np.abs(fitted.predict(column) - y[test]))))
        calibration["mean label"].append(float(np.mean(np.abs(np.mean(y[train]) - y[test]))))

    lines = ["# Predictors with zero-cost proxy features (NB201 CIFAR-10)", "",
             f"{table_cells} random cells, {table_cells // 2} fixed test cells, labels from the other {table_cells - table_cells // 2}; "
             f"Kendall tau on the test cells, mean +- std over {args.seeds} seeds; proxies computed on the real "
             f"networks ({proxy_seconds:.0f} s for all cells, then cached).", "",
             "| predictor | " + " | ".join(f"{n} labels" for n in LABELS) + " | fit seconds (all) |",
             "|---|" + "---|" * (len(LABELS) + 1)]
    order = list(predictors(data))
    table = dict(sorted(table.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))
    for name, row in table.items():
        lines.append(f"| {name} | " + " | ".join(f"{np.mean(v):.3f} +- {np.std(v):.3f}" for v in row.values())
                     + f" | {fit_seconds[name]:.0f} |")
    lines += ["", "NAS-Bench-Suite-Zero (Krishnakumar et al., NeurIPS 2022) reports that adding zero-cost proxy "
              "scores to the encoding improves model-based predictors, most at small training sets; its exact "
              "figures could not be checked from here, so none are quoted.", "",
              "## Calibration (isotonic, 50 labelled cells, MAE on the test cells, accuracy points)", "",
              f"{calibration_cells} random cells: the {calibration_cells // 2} test cells, and per seed 50 labelled cells "
              f"from the other {calibration_cells - calibration_cells // 2}; mean +- std over {args.seeds} seeds.", "",
              "| proxy | MAE |", "|---|---|"]
    lines += [f"| {p} | {np.mean(v):.2f} +- {np.std(v):.2f} |" for p, v in calibration.items()]
    payload = {"cells": calibration_cells, "table_cells": table_cells, "seeds": args.seeds, "labels": LABELS, "kendall_tau": table,
               "fit_seconds": fit_seconds, "proxy_seconds": proxy_seconds, "calibration_mae": calibration,
               "predictors": predictors(data), "machine": machine()}
    write_results("proxy_features", payload, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
