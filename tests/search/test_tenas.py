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


def _tiny(tmp_path, cls=TENAS, space_name="nb201", **options):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "imgs.npz", x=rng.integers(0, 255, (40, 32, 32, 3), dtype=np.uint8), y=np.arange(40) % 10)
    reg = Registry()
    with using(reg):
        space = reg.create("space", space_name, section="space")
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


class _ScriptedDarts(TENAS):
    """Known answers on the DARTS space: the 'condition number' grows with the weight on
    avg_pool_3x3; the 'linear regions' with the weight on sep_conv_3x3, more on earlier edges
    (edge d counts 28 - d), so among edges the earliest sources keep the most regions."""

    @staticmethod
    def condition(net, x, weights):
        return 1.0 + 10.0 * float(weights[:, 2].sum())

    @staticmethod
    def regions(net, inputs, weights):
        return 1 + int(1000 * float((weights[:, 4] * torch.arange(28, 0, -1)).sum()))

    def _network(self, options, tag, fan):  # the scripted measures ignore the networks: build each kind once
        key = repr(sorted(options.items()))
        if key not in self.built:
            self.built[key] = super()._network(options, tag, fan)
        return self.built[key]

    built: dict = {}


def test_darts_space_prunes_three_ops_per_round_then_edges_down_to_two_per_node(tmp_path):
    """The reference's DARTS schedule: 'none' first, then 3 ops per edge per round (7 -> 4 -> 1),
    then per node the edges whose removal costs least go until 2 remain. sep_conv_3x3 holds the
    regions, so it is the op left on every edge; earlier edges hold more, so every node keeps its
    two earliest inputs (a tie would keep the two latest: the NTK order prunes the first)."""
    strategy, reg = _tiny(tmp_path, _ScriptedDarts, "darts", batch_size=2, lr_samples=4)
    with using(reg):
        (arch,) = strategy.ask(1)
    space = strategy.space
    assert strategy.settings["prune_number"] == 3 and strategy.settings["ntk_supernet"]["depth"] == 2
    assert [h["remaining"] for h in strategy.history if "remaining" in h] == [[4] * 28, [1] * 28]
    assert [h["node"] for h in strategy.history if "node" in h] == [3, 4, 5, 103, 104, 105]  # node 2 has only 2 inputs
    genes = [("sep_conv_3x3", 0), ("sep_conv_3x3", 1)] * 4
    assert space.canonical(arch) == space.canonical(space.parse(f"Genotype(normal={genes}, normal_concat=[2, 3, 4, 5], "
                                                                f"reduce={genes}, reduce_concat=[2, 3, 4, 5])"))


def test_te_nas_reads_the_reference_settings_of_the_space(tmp_path):
    """NB201: batch 72, 1 op per round; DARTS: batch 14, 3 per round, the 2-cell networks; a
    config value wins over the reference's; a space without reference settings must name its
    networks."""
    nb201, _ = _tiny(tmp_path, batch_size=None)
    assert (nb201.settings["batch_size"], nb201.settings["prune_number"]) == (72, 1)
    assert nb201.settings["lr_supernet"] == {"channels": 1, "cells_per_stage": 1, "stem": False, "depth": 1}
    darts, _ = _tiny(tmp_path, space_name="darts", batch_size=None, prune_number=2)
    assert (darts.settings["batch_size"], darts.settings["prune_number"]) == (14, 2)
    assert darts.settings["lr_supernet"]["stem"] is False and darts.settings["lr_supernet"]["stem_multiplier"] == 1
    with pytest.raises(ConfigError, match="set strategy.ntk_supernet and strategy.lr_supernet"):
        _tiny(tmp_path, space_name="nb_macro")


def test_darts_space_measures_on_the_real_networks(tmp_path):
    """The reference's DARTS measuring networks (the bench runs the whole search): the NTK
    condition number and the region count are finite and positive, and a round's measuring
    returns every candidate once in a pruning order."""
    strategy, reg = _tiny(tmp_path, space_name="darts", batch_size=2, lr_samples=8)
    with using(reg):
        ntk = strategy._network(strategy.settings["ntk_supernet"], ("t", "ntk"), "out")
        thin = strategy._network(strategy.settings["lr_supernet"], ("t", "lr"), "in")
        active = np.ones((28, 8), dtype=bool)
        active[:, 0] = False
        weights = strategy._weights(active)
        kappa = strategy.condition(ntk, strategy._batch(), weights)
        regions = strategy.regions(thin, [strategy._crops(thin.in_channels)], weights)
        order = strategy._measure(active, [[(0, 1)], [(0, 4)], [(27, 7)]], "t")
    assert np.isfinite(kappa) and kappa >= 1 and 1 <= regions <= 8 and thin.in_channels == 1
    assert sorted(order) == [0, 1, 2]


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

    def stored() -> bool:  # the run row is written before the pruning starts
        if not cut.exists():
            return False
        try:
            with Store(cut, read_only=True) as store:
                return bool(store.runs())
        except Exception:  # the schema may still be being created
            return False

    deadline = time.monotonic() + 300
    while not stored() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
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
