"""Differentiable NAS at the papers' scale on CUDA: the searches, then each derived DARTS-space
genotype trained from scratch by DARTS' evaluation protocol (issue 22).

    python bench/differentiable_gpu.py --device cuda                       # search (paper setting), evaluate, report
    python bench/differentiable_gpu.py --phase evaluate --genotypes-from cpu --device cuda
                                                 # train the genotypes the CPU bench found
    python bench/differentiable_gpu.py --phase evaluate --methods darts_v2_paper --eval-seeds 0,1,2,3
    python bench/differentiable_gpu.py --setting tiny --device cpu         # seconds; what the tests run

Phases:

- ``search``: ``bench/differentiable.py --setting paper`` in a subprocess (NAS-Bench-201's
  supernet of 16 channels and 5 cells per stage on the 25,000 + 25,000 halves for 50 epochs, and
  the DARTS-space search at 16 channels x 8 cells for 50 epochs on the same halves: DARTS' own
  search setting), with its own report under ``bench/results/differentiable_paper.*``;
- ``evaluate``: every derived DARTS-space genotype of ``--genotypes-from``'s results (default: the
  setting's own search) and DARTS' published genotype (``darts_v2_paper``, the reference) trained
  from scratch by :func:`nasplug.spaces.darts.training.train_from_scratch` (36 channels x 20
  cells, 600 epochs, batch 96, Cutout 16, drop-path 0.2, auxiliary weight 0.4) on all 50,000
  CIFAR-10 training images and tested on the 10,000 test images; one checkpoint per genotype and
  seed under ``bench/work/differentiable-gpu-<setting>/``, saved every epoch, so an interrupted
  bench resumes where it stopped;
- ``report``: ``bench/results/differentiable_gpu[_<setting>].{json,md}``: test error, parameters
  and GPU hours per genotype, next to the published errors (survey 001 Table 2 where it lists the
  method, else the method's own paper, named in the table).

About a GPU-day per genotype and seed at the paper's size; the CPU machine cannot run it (a
single epoch is hours there), which is why this path is separate from ``bench/differentiable.py``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    RESULTS, ROOT, benchmarks_dir, data_path, load_summary, merge_summary, results_name, work_folder, write_results,
)
import differentiable  # noqa: E402
from differentiable import DARTS_V2  # noqa: E402

#: Per setting: which ``bench/differentiable.py`` setting searches, and the evaluation protocol
#: (``nasplug.spaces.darts.training.EvaluationConfig`` options; the paper setting is its defaults).
SETTINGS: dict[str, dict[str, Any]] = {
    "paper": {"search_setting": "paper", "evaluation": {}},
    "tiny": {"search_setting": "tiny",
             "evaluation": {"epochs": 1, "batch_size": 16, "channels": 4, "layers": 5, "train_images": 64,
                            "test_images": 40}},
}

#: DARTS' published genotype (DARTS-V2, second order), the reference every row is compared with.
REFERENCE = "darts_v2_paper"
#: Published CIFAR-10 test error (%) of each method's searched genotype, with its source.
PUBLISHED: dict[str, tuple[str, str]] = {
    REFERENCE: ("2.76 ± 0.09", "survey 001, Table 2 (DARTS, second order)"),
    "darts2": ("2.76 ± 0.09", "survey 001, Table 2 (DARTS, second order)"),
    "darts": ("3.00 ± 0.14", "DARTS paper, Table 1 (first order)"),
    "darts_minus": ("2.59 ± 0.08", "survey 001, Table 2"),
    "fair_darts": ("2.54 ± 0.05", "survey 001, Table 2"),
    "p_darts": ("2.50 ± 0.06", "survey 001, Table 2"),
    "sdarts_adv": ("2.61 ± 0.02", "survey 001, Table 2 (SDARTS)"),
    "sdarts_rs": ("2.67 ± 0.03", "SDARTS paper, Table 1 (SDARTS-RS)"),
    "gaea": ("2.50 ± 0.06", "survey 001, Table 2"),
    "gdas": ("2.93", "GDAS paper, Table 1"),
    "pc_darts": ("2.57 ± 0.07", "PC-DARTS paper, Table 1"),
    "drnas": ("2.54 ± 0.03", "DrNAS paper, Table 2 (without progressive learning)"),
}


def work_dir(setting: str) -> Path:
    return work_folder(f"differentiable-gpu-{setting}")


def genotypes(source_setting: str) -> dict[str, dict[str, Any]]:
    """The derived DARTS-space genotypes of ``bench/differentiable.py``'s ``source_setting``: its
    work folder's summary where a search is running or finished there, else its committed results."""
    summary = differentiable.work_dir(source_setting) / "summary.json"
    committed = RESULTS / f"{results_name('differentiable', source_setting)}.json"
    path = summary if summary.is_file() else committed
    if not path.is_file():
        raise SystemExit(f"error: no DARTS-space genotypes for setting {source_setting!r} (neither {summary} nor "
                         f"{committed}); run the search phase first or pass --genotypes-from cpu")
    section = json.loads(path.read_text()).get("darts_space", {})
    return {name: {"normal": row["normal"], "reduce": row["reduce"], "source": source_setting}
            for name, row in section.items() if not name.startswith("_") and "normal" in row and "reduce" in row
            and name != "DARTS paper (V2)"}


def search(setting: str, methods: list[str], device: str, threads: int) -> None:
    """The paper-setting searches, by ``bench/differentiable.py`` in a subprocess."""
    command = [sys.executable, str(ROOT / "bench" / "differentiable.py"), "--setting", SETTINGS[setting]["search_setting"],
               "--device", device, "--threads", str(threads), "--data", str(data_path())]
    if methods:
        command += ["--methods", ",".join(methods)]
    subprocess.run(command, check=True)


def evaluate(setting: str, name: str, genotype: dict[str, Any], seed: int, device: str) -> dict[str, Any]:
    from nasplug.spaces.darts.genotype import genotype_str, make_arch
    from nasplug.spaces.darts.training import EvaluationConfig, train_from_scratch

    arch = make_arch([tuple(g) for g in genotype["normal"]], [tuple(g) for g in genotype["reduce"]])
    config = EvaluationConfig(**SETTINGS[setting]["evaluation"])
    checkpoint = work_dir(setting) / f"{name}-s{seed}.pt"

    def progress(row: dict[str, Any]) -> None:
        print(f"{name} seed {seed} epoch {row['epoch'] + 1}/{config.epochs}: loss {row['train_loss']:.3f}, "
              f"train {row['train_accuracy']:.2f}%" + (f", test {row['test_accuracy']:.2f}%" if "test_accuracy" in row else "")
              + f" ({row['seconds']:.0f} s)", flush=True)

    started = time.perf_counter()
    result = train_from_scratch(arch, data_path(), config, seed=seed, device=device, checkpoint=checkpoint,
                                eval_every=max(config.epochs // 20, 1), on_epoch=progress)
    return {"genotype": genotype_str(arch), "source": genotype.get("source", "paper"), "seed": seed,
            "test_accuracy": result.test_accuracy, "test_error": result.test_error, "params_m": result.params_m,
            "epochs": result.epochs, "train_hours": result.seconds / 3600.0,
            "wall_hours_this_call": (time.perf_counter() - started) / 3600.0,
            "curve": [[r["epoch"], r["test_accuracy"]] for r in result.history if "test_accuracy" in r],
            "config": dict(SETTINGS[setting]["evaluation"]), "device": device}


def report(setting: str, payload: dict[str, Any]) -> None:
    rows = payload.get("evaluate", {})
    by_name: dict[str, list[dict[str, Any]]] = {}
    for key, row in sorted(rows.items()):
        by_name.setdefault(key.rsplit("/s", 1)[0], []).append(row)
    config = SETTINGS[setting]["evaluation"]
    lines = [f"# Derived DARTS-space genotypes trained from scratch ({setting} setting)", "",
             "DARTS' evaluation protocol: "
             + (", ".join(f"{k} {v}" for k, v in config.items()) if config else
                "36 channels x 20 cells, 600 epochs, batch 96, SGD 0.025 cosine, Cutout 16, drop-path 0.2, "
                "auxiliary 0.4, all 50,000 training images, tested on the 10,000 test images") + ".", "",
             "| genotype | searched in | seeds | params (M) | test error (%) | train hours / seed | published error (%) | source |",
             "|---|---|---|---|---|---|---|---|"]
    summary: dict[str, Any] = {}
    for name, runs in by_name.items():
        errors = np.array([r["test_error"] for r in runs])
        spread = f" ± {errors.std(ddof=1):.2f}" if len(errors) > 1 else ""
        published, source = PUBLISHED.get(name, ("–", ""))
        summary[name] = {"test_error_mean": float(errors.mean()), "seeds": len(runs), "params_m": runs[0]["params_m"]}
        lines.append(f"| {name} | {runs[0]['source']} | {len(runs)} | {runs[0]['params_m']:.2f} | {errors.mean():.2f}{spread} | "
                     f"{np.mean([r['train_hours'] for r in runs]):.2f} | {published} | {source} |")
    payload["summary"] = summary
    write_results(result_name(setting), payload, "\n".join(lines))


def result_name(setting: str) -> str:
    """``differentiable_gpu`` for the paper setting (this bench's default), else with the setting."""
    return "differentiable_gpu" if setting == "paper" else f"differentiable_gpu_{setting}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", choices=sorted(SETTINGS), default="paper")
    parser.add_argument("--phase", choices=("all", "search", "evaluate", "report"), default="all")
    parser.add_argument("--methods", default="", help="comma-separated genotype names (default: all found, and the reference)")
    parser.add_argument("--genotypes-from", default=None,
                        help="the bench/differentiable.py setting whose genotypes to train (default: this setting's search)")
    parser.add_argument("--eval-seeds", default="0")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data", type=Path, help="CIFAR-10 with train/ and test/ (default: images/cifar10_jpeg.zip)")
    args = parser.parse_args(argv)
    benchmarks_dir()
    if args.data:
        import _common

        _common._TRAINING_DATA["path"] = args.data.resolve()
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise SystemExit(f"error: --device {args.device} but torch sees no CUDA device; run it on a GPU machine "
                             "or pass --device cpu (hours per epoch at the paper's size)")
    import torch

    torch.set_num_threads(args.threads)
    methods = [m for m in args.methods.split(",") if m]
    seeds = [int(s) for s in args.eval_seeds.split(",") if s]
    searched = [m for m in methods if m != REFERENCE]
    if args.phase in ("all", "search") and (searched or not methods):  # only the reference asked: nothing to search
        search(args.setting, searched, args.device, args.threads)
    summary_path = work_dir(args.setting) / "summary.json"
    load_summary(summary_path, result_name(args.setting))
    setting_record = {"name": args.setting, **SETTINGS[args.setting], "device": args.device}
    if args.phase in ("all", "evaluate"):
        found = genotypes(args.genotypes_from or SETTINGS[args.setting]["search_setting"])
        found[REFERENCE] = {**DARTS_V2, "source": "DARTS paper"}
        unknown = sorted(set(methods) - set(found))
        if unknown:
            raise SystemExit(f"error: no genotype named {unknown[0]!r}; choose from {', '.join(sorted(found))}")
        for name in methods or sorted(found):
            for seed in seeds:
                merge_summary(summary_path, "evaluate", f"{name}/s{seed}", evaluate(args.setting, name, found[name], seed,
                                                                                    args.device), setting_record)
    payload = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    payload["setting"] = setting_record
    report(args.setting, payload)


if __name__ == "__main__":
    main()
