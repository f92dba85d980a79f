"""Turn stored runs into CSV tables and PNG plots (``nasplug report``)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from nasplug.core.errors import StoreError
from nasplug.core.metrics import best_so_far
from nasplug.core.store import RunRecord, Store


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    flat = []
    for row in rows:
        out = {}
        for key, value in row.items():
            if isinstance(value, dict):
                for sub, v in value.items():
                    out[f"{key}.{sub}"] = v
            elif isinstance(value, list):
                out[key] = json.dumps(value)
            else:
                out[key] = value
        flat.append(out)
    fields = list(dict.fromkeys(k for row in flat for k in row))
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(flat)


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        from nasplug.core.errors import ConfigError

        raise ConfigError("plots need matplotlib, an optional extra of nasplug-core; pip install 'nasplug-core[report]'") from None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _label(run: RunRecord) -> str:
    parts = run.config
    oneshot = parts.get("oneshot", {})
    detail = {"search": parts.get("strategy", {}), "predict": parts.get("sampler", {}), "score": parts.get("proxy", {}),
              "tune": parts.get("strategy", {}),
              "oneshot": oneshot.get("method", "spos") if isinstance(oneshot, dict) else {}}.get(run.kind, {})
    name = detail.get("name", "?") if isinstance(detail, dict) else detail
    return f"run {run.id}: {name} (seed {run.seed})"


def _plot_search(store: Store, runs: Sequence[RunRecord], out: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for run in runs:
        evals = [e for e in store.evaluations(run.id) if not e.info.get("repeat")]
        curve = best_so_far([e.fitness for e in evals])
        sign = -1.0 if (run.result or {}).get("objective_direction") == "min" else 1.0
        ax.plot(np.arange(1, len(curve) + 1), sign * curve, label=_label(run))
    ax.set_xlabel("queries")
    objective = runs[0].config.get("objective", {})
    if isinstance(objective, dict):
        proxy = objective.get("proxy")
        what = objective.get("metric") or (proxy.get("name") if isinstance(proxy, dict) else proxy) or objective.get("name", "objective")
    else:
        what = str(objective)
    ax.set_ylabel(f"best {what} so far")
    ax.set_title("search: best-so-far")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    path = out / "search_best_so_far.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _plot_predict(store: Store, runs: Sequence[RunRecord], out: Path) -> Path:
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for run in runs:
        rounds = store.rounds(run.id)
        labels = [r.metrics["labels"] for r in rounds]
        for ax, key in zip(axes, ("kendall_tau", "spearman")):
            ax.plot(labels, [r.metrics[key] for r in rounds], marker="o", ms=3, label=_label(run))
    for ax, key in zip(axes, ("Kendall tau", "Spearman")):
        ax.set_xlabel("labelled architectures")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("predict: predictor quality on unlabelled architectures")
    path = out / "predict_metrics.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _plot_score(store: Store, run: RunRecord, out: Path) -> list[Path]:
    plt = _pyplot()
    evals = store.evaluations(run.id)
    metrics = list((run.result or {}).get("correlations", {}))
    paths = []
    for metric in metrics:
        fig, ax = plt.subplots(figsize=(5.2, 4.2))
        x = np.array([e.value for e in evals])
        y = np.array([e.info.get(metric, np.nan) for e in evals])
        ax.scatter(x, y, s=4, alpha=0.5)
        if np.all(x[np.isfinite(x)] > 0) and np.nanmax(x) / max(np.nanmin(x), 1e-300) > 1e3:
            ax.set_xscale("log")
        corr = run.result["correlations"][metric]
        ax.set_title(f"run {run.id}: {run.config.get('proxy', {}).get('name', '?')} vs {metric}\n"
                     f"Spearman {corr['spearman']:.3f}, Kendall {corr['kendall_tau']:.3f}", fontsize=9)
        ax.set_xlabel(f"proxy score ({run.result.get('direction', 'max')} is better)")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        path = out / f"score_run{run.id}_{metric}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(path)
    return paths


def _plot_oneshot(store: Store, runs: Sequence[RunRecord], out: Path) -> Path:
    """Training curves per epoch: loss, train accuracy, mean validation accuracy of the run's
    evaluation architectures with inherited weights, and their Kendall tau with the benchmark."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    panels = [("train_loss", "train loss"), ("train_accuracy", "train accuracy (%)"),
              ("valid_accuracy_mean", "validation accuracy, inherited weights (%)"), ("kendall_tau", "Kendall tau vs benchmark")]
    for run in runs:
        rows = store.epochs(run.id)
        epochs = [r["epoch"] + 1 for r in rows]
        for ax, (key, _) in zip(axes.flat, panels):
            if key == "kendall_tau":
                keys = sorted({k for r in rows for k in r if k.startswith("kendall_tau_")})
                for k in keys:
                    ax.plot(epochs, [r.get(k, np.nan) for r in rows], marker="o", ms=3, label=f"{_label(run)} {k[12:]}")
            else:
                ax.plot(epochs, [r.get(key, np.nan) for r in rows], marker="o", ms=3, label=_label(run))
    for ax, (_, title) in zip(axes.flat, panels):
        ax.set_xlabel("epoch")
        ax.set_ylabel(title)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=6)
    fig.suptitle("oneshot: supernet training")
    path = out / "oneshot_training.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _plot_architecture(store: Store, run: RunRecord, out: Path) -> Path | None:
    """A differentiable method's search: the op distribution of the first edges over epochs, the
    derived cell's share of parameter-free ops and its benchmark accuracy, the Hessian's dominant
    eigenvalue and the discretisation gap (None when the run stored no op distribution)."""
    rows = [r for r in store.epochs(run.id) if "alpha" in r]
    if not rows:
        return None
    plt = _pyplot()
    alpha = np.array([r["alpha"] for r in rows], dtype=float)  # epochs x edges x ops
    ops = rows[-1].get("alpha_ops") or [str(k) for k in range(alpha.shape[2])]
    edges = min(alpha.shape[1], 6)
    epochs = [r["epoch"] + 1 for r in rows]
    fig, axes = plt.subplots(2, max(edges, 4), figsize=(3.0 * max(edges, 4), 6.4), squeeze=False)
    for e in range(edges):
        ax = axes[0][e]
        for k in range(alpha.shape[2]):
            ax.plot(epochs, alpha[:, e, k], label=ops[k] if k < len(ops) else str(k))
        ax.set_title(f"edge {e}", fontsize=9)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("op weight")
    axes[0][0].legend(fontsize=6)
    for ax in axes[0][edges:]:
        ax.axis("off")
    truth = sorted({k for r in rows for k in r if k.startswith("derived_") and k not in (
        "derived_arch", "derived_parameter_free", "derived_parameter_free_share", "derived_valid_accuracy")})
    panels = [("derived_parameter_free_share", "parameter-free share of the derived cell"),
              (truth[0] if truth else "derived_valid_accuracy", f"derived cell: {(truth[0][8:] if truth else 'validation accuracy')}"),
              ("hessian_eigenvalue", "dominant Hessian eigenvalue (alpha)"),
              ("discretisation_gap", "supernet − derived accuracy (%)")]
    for ax, (key, title) in zip(axes[1], panels):
        points = [(r["epoch"] + 1, r[key]) for r in rows if r.get(key) is not None]
        if points:
            ax.plot(*zip(*points), marker="o", ms=3)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    for ax in axes[1][len(panels):]:
        ax.axis("off")
    fig.suptitle(f"run {run.id}: {_label(run)}")
    path = out / f"oneshot_architecture_run{run.id}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(store: Store, run_ids: Sequence[int | str], out: str | Path) -> list[Path]:
    """Write CSVs of each run and plots per run kind into ``out``; returns the files written."""
    runs = [store.run(r) for r in run_ids]
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise StoreError(f"report folder {out} is a file; give --out a folder (new or existing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the report folder {out} ({exc.strerror}); give --out a writable folder") from None
    written: list[Path] = []
    for run in runs:
        for table, rows in store.iter_tables(run.id):
            if rows:
                path = out / f"run{run.id}_{table}.csv"
                _write_csv(path, rows)
                written.append(path)
        summary = out / f"run{run.id}_summary.json"
        summary.write_text(json.dumps({"id": run.id, "kind": run.kind, "status": run.status, "config": run.config,
                                       "result": run.result}, indent=2, default=str))
        written.append(summary)
    by_kind: dict[str, list[RunRecord]] = {}
    for run in runs:
        by_kind.setdefault(run.kind, []).append(run)
    if "search" in by_kind:
        written.append(_plot_search(store, by_kind["search"], out))
    if "predict" in by_kind:
        written.append(_plot_predict(store, by_kind["predict"], out))
    if "oneshot" in by_kind:
        written.append(_plot_oneshot(store, by_kind["oneshot"], out))
        for run in by_kind["oneshot"]:
            path = _plot_architecture(store, run, out)
            if path is not None:
                written.append(path)
    for run in by_kind.get("score", []):
        if run.result is None:
            raise StoreError(f"run {run.id} has not finished; resume it before reporting")
        written.extend(_plot_score(store, run, out))
    return written
