"""NAS-Bench-101 and DARTS / NAS-Bench-301 space facts, next to the published ones.

NAS-Bench-101: the size our exact enumeration finds (published: 423,624), a check that every
enumerated cell is its own canonical form and that ids never merge non-isomorphic cells (networkx
isomorphism on random raw specs), the parameter counts of our networks against the benchmark's
(all 423,624 canonical cells against the official dataset's multiset of ``trainable_parameters``,
and the 500 Suite-Zero rows one by one, built in torch), and the speed of the space's operations.

DARTS: the exact number of canonical genotypes (published: ~10^18), parameter counts against the
NB301 subset's ``params`` for all 725 genotypes, its accuracy range, and speeds.

    .venv/bin/python bench/spaces_nb101_darts.py [--samples 3000] [--quick]

``--quick`` checks every 50th enumerated cell and 100 table rows instead of all. Writes
bench/results/spaces_nb101_darts.{json,md}.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import itertools
import time
from collections import Counter, defaultdict

import networkx as nx
import numpy as np
import torch

from _common import benchmarks_dir, write_results
from nasplug.core.registry import registry


def timed(fn, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def forward_ms(module: torch.nn.Module, batch: int) -> float:
    x = torch.randn(batch, 3, 32, 32)
    module.eval()
    with torch.no_grad():
        module(x)
        return 1000 * timed(lambda: module(x), 5)


# --- NAS-Bench-101 -----------------------------------------------------------------------------
def nb101(root, args) -> tuple[dict, list[str]]:
    from nasplug.spaces.nb101.cell import INPUT, OPS, OUTPUT, NB101Cell, canonicalize, make_cell
    from nasplug.spaces.nb101.enumeration import enumerate_cells, matrix_classes, num_cells
    from nasplug.spaces.nb101.network import count_parameters

    space = registry().create("space", "nb101")
    out: dict = {}
    t0 = time.perf_counter()
    cells = list(enumerate_cells())
    out["enumerate_seconds"] = time.perf_counter() - t0
    out["size_enumerated"], out["size_burnside"], out["matrix_classes"] = len(cells), num_cells(), len(matrix_classes())
    out["size_published"] = 423_624
    out["enumerated_distinct"] = len(set(cells))
    step = 50 if args.quick else 1
    checked = cells[::step]
    t0 = time.perf_counter()
    out["enumerated_self_canonical"] = sum(canonicalize(c.array(), list(c.ops)) == c for c in checked)
    out["enumerated_checked"] = len(checked)
    out["canonicalize_seconds"] = time.perf_counter() - t0

    # parameter counts of all canonical cells vs the official dataset's trainable_parameters
    with gzip.open(root / "nb101" / "test_accuracy_108ep_unkeyed.csv.gz", "rt", newline="") as fh:
        official = list(csv.DictReader(fh))
    theirs = Counter(round(float(r["params_m"]) * 1e6) for r in official)
    ours = Counter(count_parameters(c) for c in cells)
    out["params_multiset_mismatches"] = sum((ours - theirs).values())
    out["official_best_test_accuracy"] = 100 * max(float(r["accuracy"]) for r in official)

    # ids vs networkx isomorphism on random raw 7x7 specs (in their own random vertex order)
    rng = np.random.default_rng(0)
    raw: list[NB101Cell] = []
    while len(raw) < args.samples:
        matrix = np.triu(rng.integers(0, 2, size=(7, 7)), 1)
        ops = [INPUT, *(OPS[i] for i in rng.integers(0, 3, size=5)), OUTPUT]
        try:
            raw.append(make_cell(matrix, ops))
        except Exception:  # invalid spec: rejected, as the official sampler does
            continue

    def graph(c: NB101Cell) -> nx.DiGraph:
        g = nx.DiGraph()
        g.add_nodes_from((v, {"op": op}) for v, op in enumerate(c.ops))
        g.add_edges_from(zip(*np.nonzero(c.array())))
        return g

    def iso(a: NB101Cell, b: NB101Cell) -> bool:
        return nx.is_isomorphic(graph(a), graph(b), node_match=lambda x, y: x["op"] == y["op"])

    by_id: dict[str, list[NB101Cell]] = defaultdict(list)
    for c in raw:
        by_id[space.canonical(c)].append(c)
    same_id_pairs = sum(len(g) - 1 for g in by_id.values())
    same_id_not_iso = sum(not iso(g[0], c) for g in by_id.values() for c in g[1:])
    signature: dict[tuple, list[NB101Cell]] = defaultdict(list)
    for g in by_id.values():
        c = g[0]
        m = c.array()
        signature[(len(c.ops), int(m.sum()), tuple(sorted(zip(c.ops, m.sum(0), m.sum(1)))))].append(c)
    pairs = [(a, b) for group in signature.values() for a, b in itertools.combinations(group, 2)]
    out.update(raw_specs=len(raw), distinct_ids=len(by_id), same_id_pairs=same_id_pairs,
               same_id_not_isomorphic=same_id_not_iso, different_id_pairs_checked=len(pairs),
               different_id_but_isomorphic=sum(iso(a, b) for a, b in pairs))

    # the Suite-Zero subset: every row's network built in torch
    bench = space.load_benchmark()
    rows = bench.rows()
    rows_checked = rows if not args.quick else rows[:100]
    t0 = time.perf_counter()
    out["subset_params_match"] = sum(n_params(space.to_module(r.cell)) == round(r.values["params"] * 1e6)
                                     for r in rows_checked)
    out["subset_rows_checked"] = len(rows_checked)
    out["subset_build_seconds"] = time.perf_counter() - t0
    out["subset_rows"], out["subset_distinct_cells"] = len(rows), len(bench)
    out["subset_best_val_accuracy_row"] = max(r.values["val_accuracy"] for r in rows)
    out["subset_best_val_accuracy_cell_mean"] = float(np.nanmax(bench.query_many(bench.architectures(), "val_accuracy")))

    rng = np.random.default_rng(1)
    a = space.sample(rng)
    nasbench = registry().create("space", {"name": "nb101", "sampling": "nasbench"})
    raw_specs = [(r.cell.array(), list(r.cell.ops)) for r in rows]
    it = itertools.cycle(raw_specs)
    from nasplug.spaces.nb101 import cell as cell_module

    def fresh_canonical():
        cell_module._CANONICAL.clear()  # time the canonical form itself, not the memo
        return space.canonical(next(it))

    module = space.to_module(a)
    others = itertools.cycle([space.sample(rng) for _ in range(200)])
    out["speeds"] = {
        "sample, uniform over cells (archs/s)": 1 / timed(lambda: space.sample(rng), 3000),
        "sample, official rejection sampler (archs/s)": 1 / timed(lambda: nasbench.sample(rng), 1000),
        "canonical id of a raw spec, uncached (ids/s)": 1 / timed(fresh_canonical, 2000),
        "mutate (archs/s)": 1 / timed(lambda: space.mutate(a, rng), 1000),
        "neighbours (calls/s)": 1 / timed(lambda: space.neighbours(next(others)), 100),
        "distance (pairs/s)": 1 / timed(lambda: space.distance(next(others), a), 2000),
        "to_module build, 128-channel stem (ms)": 1000 * timed(lambda: space.to_module(a), 5),
        f"forward, batch {args.batch} at 32x32, 1 thread (ms)": forward_ms(module, args.batch),
    }

    md = ["## NAS-Bench-101", "",
          "| statistic | ours | published |", "|---|---|---|",
          f"| distinct cells (enumerated, exact canonical form) | {out['size_enumerated']:,} "
          f"({out['matrix_classes']:,} unlabelled classes; Burnside count {out['size_burnside']:,}) | {out['size_published']:,} |",
          f"| enumerated cells that are their own canonical form | {out['enumerated_self_canonical']:,} / {out['enumerated_checked']:,} | — |",
          f"| parameter counts of our networks over all canonical cells vs the official dataset's 423,624 `trainable_parameters` (multiset) | "
          f"{out['params_multiset_mismatches']} mismatches | 0 |",
          f"| Suite-Zero subset rows whose torch network has exactly the row's `params` | "
          f"{out['subset_params_match']} / {out['subset_rows_checked']} | {out['subset_rows_checked']} |",
          f"| random raw specs: distinct ids / same-id pairs not isomorphic (networkx) | "
          f"{out['distinct_ids']:,} of {out['raw_specs']:,} / {out['same_id_not_isomorphic']} of {out['same_id_pairs']:,} | — / 0 |",
          f"| same-signature pairs with different ids that are isomorphic | {out['different_id_but_isomorphic']} of "
          f"{out['different_id_pairs_checked']:,} | 0 |",
          f"| Suite-Zero subset: best `val_accuracy` (single run; best cell mean) | {out['subset_best_val_accuracy_row']:.2f} "
          f"({out['subset_best_val_accuracy_cell_mean']:.2f}); {out['subset_distinct_cells']} distinct cells in {out['subset_rows']} rows | "
          f"official dataset's best test accuracy (all 423,624): {out['official_best_test_accuracy']:.2f} |",
          "", "| operation | speed |", "|---|---|"]
    md += [f"| {k} | {v:,.1f} |" for k, v in out["speeds"].items()]
    return out, md


# --- DARTS / NAS-Bench-301 ---------------------------------------------------------------------
def darts(root, args) -> tuple[dict, list[str]]:
    from nasplug.spaces.darts import DartsSpace

    space = registry().create("space", "darts")
    bench = space.load_benchmark()
    out: dict = {"size": space.size(), "size_published": "~1e18",
                 "size_with_none": DartsSpace(DartsSpace.Config(include_none=True)).size()}
    archs = bench.architectures()
    t0 = time.perf_counter()
    out["params_match"] = sum(n_params(space.to_module(a, channels=32, affine=False)) == round(bench.query(a, "params") * 1e6)
                              for a in (archs if not args.quick else archs[:100]))
    out["params_checked"] = len(archs) if not args.quick else 100
    out["params_seconds"] = time.perf_counter() - t0
    acc = bench.query_many(archs, "val_accuracy")
    out.update(subset=len(archs), val_accuracy_min=float(acc.min()), val_accuracy_max=float(acc.max()),
               val_accuracy_mean=float(acc.mean()))
    rng = np.random.default_rng(2)
    a = space.sample(rng)
    text = space.canonical(a)
    small, nb301 = space.to_module(a), space.to_module(a, channels=32)
    out["params_default_network"], out["params_nb301_network"] = n_params(small), n_params(nb301)
    others = itertools.cycle([space.sample(rng) for _ in range(200)])
    out["speeds"] = {
        "sample (archs/s)": 1 / timed(lambda: space.sample(rng), 5000),
        "canonical id (ids/s)": 1 / timed(lambda: space.canonical(a), 5000),
        "parse genotype text (archs/s)": 1 / timed(lambda: space.parse(text), 2000),
        "mutate (archs/s)": 1 / timed(lambda: space.mutate(a, rng), 5000),
        "neighbours (calls/s)": 1 / timed(lambda: space.neighbours(a), 500),
        "distance (pairs/s)": 1 / timed(lambda: space.distance(a, next(others)), 5000),
        "to_module build, 16 channels x 8 cells (ms)": 1000 * timed(lambda: space.to_module(a), 5),
        f"forward, 16 x 8, batch {args.batch} at 32x32, 1 thread (ms)": forward_ms(small, args.batch),
        "to_module build, 32 channels x 8 cells (NB301) (ms)": 1000 * timed(lambda: space.to_module(a, channels=32), 5),
        f"forward, 32 x 8, batch {args.batch}, 1 thread (ms)": forward_ms(nb301, args.batch),
    }
    md = ["## DARTS / NAS-Bench-301", "",
          "| statistic | ours | published |", "|---|---|---|",
          f"| canonical genotypes (7 ops; with `none`: {out['size_with_none']:.3e}) | {out['size']:,} ({out['size']:.3e}) | ~10^18 |",
          f"| NB301 subset genotypes whose network (32 channels, 8 cells, DARTS search-phase BN) has exactly `params` | "
          f"{out['params_match']} / {out['params_checked']} | {out['params_checked']} |",
          f"| NB301 subset `val_accuracy` (surrogate), {out['subset']} genotypes: min / mean / max | "
          f"{out['val_accuracy_min']:.2f} / {out['val_accuracy_mean']:.2f} / {out['val_accuracy_max']:.2f} | "
          "— |",
          f"| parameters of one sampled genotype: default 16 x 8 network / NB301's 32 x 8 | "
          f"{out['params_default_network']:,} / {out['params_nb301_network']:,} | — |",
          "", "| operation | speed |", "|---|---|"]
    md += [f"| {k} | {v:,.1f} |" for k, v in out["speeds"].items()]
    return out, md


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3000, help="random raw NB101 specs for the isomorphism check")
    parser.add_argument("--batch", type=int, default=20, help="batch size of the timed forward passes")
    parser.add_argument("--quick", action="store_true", help="check subsets instead of every cell / row")
    args = parser.parse_args()
    root = benchmarks_dir()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    nb101_out, nb101_md = nb101(root, args)
    darts_out, darts_md = darts(root, args)
    total = time.perf_counter() - t0
    settings = f"--samples {args.samples} --batch {args.batch}" + (" --quick" if args.quick else "")
    md = ["# NAS-Bench-101 and DARTS / NAS-Bench-301 spaces", "",
          f"Settings: `{settings}`; 1 torch thread; {total / 60:.1f} min wall on a shared 2-core machine "
          "(speeds are wall-clock and depend on the machine's load).", "",
          *nb101_md, "", *darts_md]
    write_results("spaces_nb101_darts", {"settings": vars(args), "wall_seconds": total,
                                         "nb101": nb101_out, "darts": darts_out}, "\n".join(md))


if __name__ == "__main__":
    main()
