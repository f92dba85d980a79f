"""TE-NAS: the ranking rule against hand-worked answers, the pruning schedule on the real NB201
supernet, and the whole search with measures whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
import torch  # noqa: F401  (imported at collection, so the suite's one-thread fixture applies)

from nasplug.core.errors import ConfigError
from nasplug.core.options import build_config
from nasplug.core.registry import Registry, using
from nasplug.search.tenas import TENAS, dense_ranks, prune_choice, round_significant


def test_round_significant_matches_the_reference_round_to():
    assert round_significant(0.123456, 3) == pytest.approx(0.123)
    assert round_significant(-12345.0, 2) == pytest.approx(-12000.0)
    assert round_significant(0.0, 3) == 0.0


def test_dense_ranks_share_a_rank_between_equal_values():
    order, ranks = dense_ranks([0.5, 0.1, 0.5, -0.2], descending=True, digits=3)
    assert order == [0, 2, 1, 3] and ranks == [0, 1, 0, 2]


def test_prune_choice_sums_the_ranks_and_breaks_ties_by_the_ntk_order():
    # NTK change (desc) ranks: 0,1,0,2; region change (asc) ranks: 0,2,1,0 -> sums 0,3,1,2
    assert prune_choice([0.5, 0.1, 0.5, -0.2], [0.0, 0.3, 0.1, 0.0], 3) == [0, 2, 3, 1]
    # equal sums keep the NTK ranking's order
    assert prune_choice([0.2, 0.3], [0.0, 0.1], 3) == [1, 0]


def _tiny(tmp_path, cls=TENAS, **options):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "imgs.npz", x=rng.integers(0, 255, (40, 32, 32, 3), dtype=np.uint8), y=np.arange(40) % 10)
    reg = Registry()
    with using(reg):
        space = reg.create("space", "nb201", section="space")
        config = build_config(cls.Config, {"batch_size": 4, "repeat": 1, "lr_samples": 40, "lr_batches": 1,
                                           "data": {"path": str(tmp_path / "imgs.npz")}, **options}, "strategy")
        return cls(config, space=space, seed=3), reg


def test_each_round_prunes_one_op_per_edge_on_the_real_supernet(tmp_path):
    strategy, reg = _tiny(tmp_path)
    with using(reg):
        (arch,) = strategy.ask(1)
        assert strategy.ask(1) == []
    assert [h["remaining"] for h in strategy.history] == [[3] * 6, [2] * 6, [1] * 6]  # 'none' goes first: 4 -> 1
    assert strategy.history[0]["candidates"] == 24
    assert strategy.space.contains(arch) and "none" not in strategy.space.canonical(arch)


def test_prune_number_may_leave_a_single_op_in_one_round(tmp_path):
    """Four ops left, prune_number 3: the round prunes three of them on every edge (the quota is
    fixed before pruning starts)."""
    strategy, reg = _tiny(tmp_path, _Scripted, batch_size=2, lr_samples=4, prune_number=3)
    with using(reg):
        (arch,) = strategy.ask(1)
    assert [h["remaining"] for h in strategy.history] == [[1] * 6]
    assert strategy.space.canonical(arch) == strategy.space.canonical(("nor_conv_3x3",) * 6)


def test_prune_number_prunes_several_ops_per_round_deterministically(tmp_path):
    strategy, reg = _tiny(tmp_path, prune_number=2)
    with using(reg):
        (arch,) = strategy.ask(1)
    assert [h["remaining"] for h in strategy.history] == [[2] * 6, [1] * 6]
    again, reg = _tiny(tmp_path, prune_number=2)
    with using(reg):
        assert again.ask(1) == [arch]  # deterministic under the seed


class _Scripted(TENAS):
    """Measures with a known answer: the 'NTK condition number' grows with the weight on
    avg_pool_3x3, the 'linear regions' with the weight on nor_conv_3x3."""

    @staticmethod
    def condition(net, x, weights):
        return 1.0 + 10.0 * float(weights[:, 4].sum())

    @staticmethod
    def regions(net, inputs, weights):
        return 1 + int(1000 * float(weights[:, 3].sum()))


def test_the_pruning_removes_the_op_that_hurts_least(tmp_path):
    """Round 1: removing avg_pool lowers the condition number (best NTK change) and costs no
    regions, so it goes on every edge. Round 2: skip and conv 1x1 tie, the NTK order keeps the
    lower op index first, so skip goes. Round 3: conv 1x1 goes, keeping the regions of conv 3x3."""
    strategy, reg = _tiny(tmp_path, _Scripted, batch_size=2, lr_samples=4)
    with using(reg):
        (arch,) = strategy.ask(1)
    space = strategy.space
    assert space.canonical(arch) == space.canonical(("nor_conv_3x3",) * 6)


def test_te_nas_needs_images_and_a_supernet(tmp_path):
    reg = Registry()
    with using(reg):
        space = reg.create("space", "nb201", section="space")
        with pytest.raises(ConfigError, match="needs images"):
            TENAS(build_config(TENAS.Config, {}, "strategy"), space=space, seed=0)


def test_kill_9_during_the_pruning_then_resume_gives_the_same_architecture(tmp_path, benchmarks):
    import os
    import signal
    import subprocess
    import sys
    import time

    from nasplug.core.store import Store

    config = tmp_path / "run.toml"
    config.write_text(f"""
kind = "search"
seed = 2
[space]
name = "nb201"
[strategy]
name = "te_nas"
batch_size = 3
repeat = 1
lr_samples = 20
lr_batches = 1
data = {{path = "{benchmarks / 'images' / 'cifar10_test_20.npz'}"}}
[objective]
name = "proxy"
proxy = "params"
[search]
queries = 1
""")

    def cli(*args):
        return subprocess.Popen([sys.executable, "-m", "nasplug.core", *map(str, args)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})

    full, cut = tmp_path / "full.db", tmp_path / "cut.db"
    assert cli("run", config, "--store", full).wait(timeout=600) == 0
    proc = cli("run", config, "--store", cut)
    time.sleep(5)  # inside the pruning (the run is stored, no evaluation yet)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with Store(cut) as store:
        assert store.run(1).status == "running" and not store.evaluations(1)
    resumed = cli("run", config, "--store", cut, "--resume")
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    with Store(full) as a, Store(cut) as b:
        assert [(e.arch, e.value) for e in a.evaluations(1)] == [(e.arch, e.value) for e in b.evaluations(1)]
        assert a.run(1).result["strategy"]["pruning"] == b.run(1).result["strategy"]["pruning"]
