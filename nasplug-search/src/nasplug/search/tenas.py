"""TE-NAS (Chen, Gong & Wang, ICLR 2021): training-free pruning of a supernet by the NTK's
condition number (trainability) and the number of linear regions (expressivity).

Start from the supernet with every op on every edge (``none`` pruned first, as the reference code
does). Each round, for every edge that still holds several ops and every op on it, measure how
removing that op changes

- the condition number ``kappa`` of the empirical NTK of the supernet (all remaining ops mixed
  with equal weights) on a batch of ``batch_size`` real images: ``(kappa_0 - kappa) / kappa_0``,
  higher = removing it helps trainability;
- the number of linear regions ``R`` of a thin copy (one channel, one cell, no stem) over
  ``lr_batches`` x ``lr_samples`` random ``lr_crop`` x ``lr_crop`` single-channel crops:
  ``(R_0 - R) / R_0``, lower = removing it costs little expressivity;

each averaged over ``repeat`` measurements (each rounded to ``precision`` decimals), rank all
candidates by both (dense ranks; the NTK change descending, the regions change ascending), and on
every edge prune the ``prune_number`` ops of lowest summed rank. Stop when one op per edge is
left. Spaces whose cells keep a fixed number of inputs per node (the DARTS space: 2) then prune
edges the same way, per node, down to that number. The final architecture is the one query.

Defaults are the reference code's settings for the space (``VITA-Group/TENAS``,
``prune_launch.py`` and ``prune_tenas.py``; :data:`REFERENCE_SETTINGS`): on NAS-Bench-201 batch 72,
one op per edge per round, an NTK supernet of 3 channels and one cell per stage, a linear-region
network of 1 channel and a single cell without the stem; on the DARTS space batch 14, 3 ops per
edge per round, both networks 1 channel, the first two cells (normal, reduction) of a 3-cell
network with stem multiplier 1, affine BN and a BN + ReLU head, the linear-region one without the
stem. Everywhere 3 repeats, precision 3, 3 x 1,000 single-channel crops of 3 x 3. Other spaces
with a supernet take ``ntk_supernet`` and ``lr_supernet`` from the config (batch and prune number
default to the NB201 values there). ``init = "default"`` keeps PyTorch's layer init: the
reference's ``--init kaiming_normal`` matches none of its own ``init_model`` branches
(``kaiming_norm_*``), so its published numbers come from the default init; ``kaiming_normal``
applies what the flag names (fan-out for the NTK network, fan-in for the thin one).
"""

from __future__ import annotations

import math
from typing import Any, Hashable, Sequence

import attrs
import numpy as np

from nasplug.core.errors import ConfigError
from nasplug.core.interfaces.capabilities import HasSupernet
from nasplug.core.interfaces.strategy import Strategy, Told
from nasplug.core.options import boolean, non_negative_int, one_of, optional_positive_int, positive_int, table
from nasplug.core.seeding import derive_seed

#: The reference code's marker for a pruned op, and its fallback for a NaN condition number.
NAN_CONDITION = 100000.0




#: The reference code's settings per space class: NTK batch, ops pruned per edge per round, and
#: the options of the NTK and the linear-region (thin) supernets.
REFERENCE_SETTINGS: dict[str, dict[str, Any]] = {
    "NB201Space": {"batch_size": 72, "prune_number": 1,
                   "ntk_supernet": {"channels": 3, "cells_per_stage": 1},
                   "lr_supernet": {"channels": 1, "cells_per_stage": 1, "stem": False, "depth": 1}},
    "DartsSpace": {"batch_size": 14, "prune_number": 3,
                   "ntk_supernet": {"channels": 1, "layers": 3, "depth": 2, "stem_multiplier": 1, "affine": True, "head": True},
                   "lr_supernet": {"channels": 1, "layers": 3, "depth": 2, "stem": False, "stem_multiplier": 1, "affine": True,
                                   "head": True}},
}


@attrs.frozen
class TENASConfig:
    """See the module docstring. ``batch_size``: images per NTK batch (none: the reference's for
    the space, 72 on NB201, 14 on DARTS). ``repeat``: measurements averaged per candidate.
    ``precision``: decimals each measured change is rounded to. ``prune_number``: ops pruned per
    edge per round (none: 1 on NB201, 3 on DARTS). ``init``: ``default`` (PyTorch's, what the
    reference ran) or ``kaiming_normal``. ``ntk_supernet``: the NTK network's supernet options
    (none: the reference's for the space). ``lr_supernet``: the linear-region network's supernet
    options (none: the reference's for the space). ``lr_samples``: crops per linear-region batch.
    ``lr_batches``: batches of crops per measurement. ``lr_crop``: side of a crop in pixels.
    ``prune_none_first``: drop the ``none`` op before the first round, as the reference does.
    ``data``: the images (a table as the run's ``[data]``; a zip or folder of class folders, or
    an npz), e.g. ``{path = "cifar10_jpeg.zip"}``; training images are used when the source has a
    ``train`` part."""

    batch_size: int | None = attrs.field(default=None, validator=optional_positive_int)
    repeat: int = attrs.field(default=3, validator=positive_int)
    precision: int = attrs.field(default=3, validator=non_negative_int)
    prune_number: int | None = attrs.field(default=None, validator=optional_positive_int)
    init: str = attrs.field(default="default", validator=one_of("default", "kaiming_normal"))
    ntk_supernet: dict | None = attrs.field(default=None, validator=table("a table of supernet options", optional=True))
    lr_supernet: dict | None = attrs.field(default=None, validator=table("a table of supernet options", optional=True))
    lr_samples: int = attrs.field(default=1000, validator=positive_int)
    lr_batches: int = attrs.field(default=3, validator=positive_int)
    lr_crop: int = attrs.field(default=3, validator=positive_int)
    prune_none_first: bool = attrs.field(default=True, validator=boolean)
    data: dict | None = attrs.field(default=None, validator=table(optional=True))


def round_significant(value: float, digits: int) -> float:
    """``value`` rounded to ``digits`` significant digits (the reference's ``round_to``)."""
    if value == 0 or not math.isfinite(value):
        return value
    power = math.floor(math.log10(abs(value) + 1e-8)) + 1
    return math.copysign(round(abs(value) * 10 ** (-power), digits) * 10 ** power, value)


def dense_ranks(values: Sequence[float], descending: bool, digits: int) -> tuple[list[int], list[int]]:
    """``(order, ranks)``: candidates sorted by ``values`` rounded to ``digits`` significant
    digits (stable), and each candidate's dense rank in that order (equal values share a rank)."""
    order = sorted(range(len(values)), key=lambda i: round_significant(values[i], digits), reverse=descending)
    ranks = [0] * len(values)
    for position, i in enumerate(order):
        if position and values[i] != values[order[position - 1]]:
            ranks[i] = ranks[order[position - 1]] + 1
        elif position:
            ranks[i] = ranks[order[position - 1]]
    return order, ranks


def prune_choice(ntk_change: Sequence[float], region_change: Sequence[float], digits: int) -> list[int]:
    """Candidates in pruning order: by summed rank (NTK change descending, region change
    ascending), ties in the order of the NTK ranking, as the reference code sorts them."""
    ntk_order, ntk_rank = dense_ranks(ntk_change, True, digits)
    _, region_rank = dense_ranks(region_change, False, digits)
    return sorted(ntk_order, key=lambda i: ntk_rank[i] + region_rank[i])


class TENAS(Strategy):
    """TE-NAS: prune the supernet without training; one query for the architecture left."""

    Config = TENASConfig
    requires = (HasSupernet,)

    def __init__(self, config: Any = None, **deps: Any) -> None:
        super().__init__(config, **deps)
        if self.config.data is None or not self.config.data.get("path"):
            raise ConfigError("strategy 'te_nas' needs images; set strategy.data = {path = \"cifar10_jpeg.zip\"} "
                              "(a zip or folder of class folders, or an npz with x and y)")
        self.settings = self._settings()
        self.result: Hashable | None = None
        self.asked = False
        self.history: list[dict[str, Any]] = []
        self._images: Any = None

    def _settings(self) -> dict[str, Any]:
        """The config's values, with the reference's for the space where the config gives none."""
        c = self.config
        reference = REFERENCE_SETTINGS.get(type(self.space).__name__)
        if reference is None and (c.ntk_supernet is None or c.lr_supernet is None):
            raise ConfigError(f"strategy 'te_nas' has reference settings for nb201 and darts only; for this space "
                              f"({type(self.space).__name__}) set strategy.ntk_supernet and strategy.lr_supernet "
                              "(tables of its supernet's options)")
        reference = reference or REFERENCE_SETTINGS["NB201Space"]
        return {key: reference[key] if getattr(c, key) is None else getattr(c, key)
                for key in ("batch_size", "prune_number", "ntk_supernet", "lr_supernet")}

    # --- data -------------------------------------------------------------------------------
    def _load(self) -> tuple[np.ndarray, int]:
        if self._images is None:
            from nasplug.core.datasets import channel_stats, read_images

            arrays = read_images(self.config.data["path"], "train")  # the whole source when it has no train/ part
            mean, std = channel_stats(arrays.x)
            x = (arrays.x.astype(np.float32) / 255.0 - mean) / std
            self._images = (np.ascontiguousarray(x.transpose(0, 3, 1, 2)), len(arrays.classes))
        return self._images

    def _batch(self) -> Any:
        import torch

        x, _ = self._load()
        idx = self.rng.choice(len(x), size=min(self.settings["batch_size"], len(x)), replace=False)
        return torch.from_numpy(x[np.sort(idx)])

    def _crops(self, channels: int) -> Any:
        """``lr_samples`` random crops of random images, ``channels`` random channels each."""
        import torch

        x, _ = self._load()
        c, k = self.config, self.config.lr_crop
        n, depth, h, w = x.shape
        if channels > depth or k > min(h, w):
            raise ConfigError(f"strategy.lr_crop ({k}) or the linear-region network's {channels} input channels do not fit "
                              f"the {depth}-channel {h}x{w} images")
        images = self.rng.integers(0, n, c.lr_samples)
        tops, lefts = self.rng.integers(0, h - k + 1, c.lr_samples), self.rng.integers(0, w - k + 1, c.lr_samples)
        picks = np.stack([np.sort(self.rng.choice(depth, channels, replace=False)) for _ in range(c.lr_samples)])
        out = np.stack([x[i][picks[j]][:, t:t + k, l:l + k] for j, (i, t, l) in enumerate(zip(images, tops, lefts))])
        return torch.from_numpy(np.ascontiguousarray(out))

    # --- the two measures -------------------------------------------------------------------
    def _network(self, options: dict, tag: tuple, fan: str) -> Any:
        import torch

        _, classes = self._load()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(self.seed, "te_nas", *tag))
            net = self.space.supernet(num_classes=classes, **options)
            if self.config.init == "kaiming_normal":
                from nasplug.proxies.zero_cost._common import apply_init

                apply_init(net, f"kaiming_normal_fan_{fan}")
        return net.train()

    @staticmethod
    def condition(net: Any, x: Any, weights: Any) -> float:
        """Condition number of the NTK of ``net`` mixing ops by ``weights`` on batch ``x``:
        per-image gradients of the summed logits w.r.t. every parameter named ``weight``."""
        from nasplug.proxies.zero_cost.ntk import ntk_condition

        params = [p for name, p in net.named_parameters() if name.endswith("weight")]
        kappa = ntk_condition(net(x, weights=weights), params)
        return NAN_CONDITION if math.isnan(kappa) else kappa

    @staticmethod
    def regions(net: Any, inputs: Sequence[Any], weights: Any) -> int:
        """Distinct ReLU activation patterns of ``net`` mixing ops by ``weights`` over ``inputs``."""
        import torch

        from nasplug.proxies.zero_cost._hooks import on_relu_outputs
        from nasplug.proxies.zero_cost.linear_regions import count_distinct_rows

        rows = []
        for x in inputs:
            layers: list[np.ndarray] = []

            def collect(out: Any, n: int = len(x)) -> None:
                if out.dim() == 4:  # the reference hooks ReLUs on feature maps only
                    layers.append(np.packbits((out.detach().reshape(n, -1) > 0).numpy(), axis=1))

            with torch.no_grad(), on_relu_outputs(net, collect):
                net(x, weights=weights)
            if layers:
                rows.append(np.concatenate(layers, axis=1))
        return count_distinct_rows(np.concatenate(rows, axis=0)) if rows else 0

    # --- pruning ----------------------------------------------------------------------------
    @staticmethod
    def _weights(active: np.ndarray) -> Any:
        """Equal weights over each decision's active ops (the reference's softmax of 0 / -INF)."""
        import torch

        counts = np.maximum(active.sum(axis=1, keepdims=True), 1)
        return torch.as_tensor(active / counts, dtype=torch.float32)

    def _measure(self, active: np.ndarray, removals: list[list[tuple[int, int]]], stage: str) -> list[int]:
        """The pruning order of ``removals`` (each a list of (decision, option) switched off)."""
        c = self.config
        ntk_net = self._network(self.settings["ntk_supernet"], (stage, "ntk"), "out")
        w0 = self._weights(active)
        ntk_change, region_change = [], []
        for r, removal in enumerate(removals):
            pruned = active.copy()
            for d, k in removal:
                pruned[d, k] = False
            w1 = self._weights(pruned)
            ntk = []
            for _ in range(c.repeat):
                x = self._batch()
                k0, k1 = self.condition(ntk_net, x, w0), self.condition(ntk_net, x, w1)
                ntk.append(round((k0 - k1) / k0, c.precision))
            thin = self._network(self.settings["lr_supernet"], (stage, "lr", r), "in")
            regions = []
            for _ in range(c.repeat):
                inputs = [self._crops(getattr(thin, "in_channels", 3)) for _ in range(c.lr_batches)]
                r0, r1 = self.regions(thin, inputs, w0), self.regions(thin, inputs, w1)
                regions.append(round((r0 - r1) / r0, c.precision) if r0 else 0.0)
            ntk_change.append(float(np.mean(ntk)))
            region_change.append(float(np.mean(regions)))
        return prune_choice(ntk_change, region_change, c.precision)

    def search(self) -> Hashable:
        """Run the pruning (all rounds) and return the architecture left."""
        c = self.config
        probe = self._network(self.settings["ntk_supernet"], ("probe",), "out")
        names = probe.option_names
        active = np.zeros((len(names), max(len(n) for n in names)), dtype=bool)
        for d, options in enumerate(names):
            active[d, :len(options)] = True
            if c.prune_none_first and "none" in options and len(options) > 1:
                active[d, options.index("none")] = False
        rnd = 0
        while (active.sum(axis=1) > 1).any():
            candidates = [(d, k) for d in range(len(names)) if active[d].sum() > 1 for k in np.flatnonzero(active[d])]
            order = self._measure(active, [[(d, int(k))] for d, k in candidates], f"round{rnd}")
            # how many each decision loses this round, fixed before any is pruned (one op always stays)
            quota = {d: min(self.settings["prune_number"], int(active[d].sum()) - 1) for d, _ in candidates}
            for i in order:
                d, k = candidates[i]
                if quota[d] > 0:
                    active[d, k] = False
                    quota[d] -= 1
            self.history.append({"round": rnd, "candidates": len(candidates), "remaining": active.sum(axis=1).tolist()})
            rnd += 1
        keep = getattr(probe, "inputs_per_node", None)
        if keep:
            self._prune_edges(probe, active, keep)
        weights = active.astype(float)
        return probe.discretise(weights, include_none=not c.prune_none_first)

    def _prune_edges(self, probe: Any, active: np.ndarray, keep: int) -> None:
        """Per node, drop the edges of lowest summed rank until ``keep`` remain (the reference's
        ``prune_func_rank_group``)."""
        nodes = list(probe.decision_nodes)
        for node in sorted(set(nodes)):
            edges = [d for d, n in enumerate(nodes) if n == node and active[d].any()]
            if len(edges) <= keep:
                continue
            removals = [[(d, int(k)) for k in np.flatnonzero(active[d])] for d in edges]
            order = self._measure(active, removals, f"node{node}")
            for i in order[:len(edges) - keep]:
                for d, k in removals[i]:
                    active[d, k] = False
            self.history.append({"node": node, "kept": [d for d in edges if active[d].any()]})

    # --- ask / tell -------------------------------------------------------------------------
    def ask(self, n: int) -> list[Hashable]:
        if self.asked:
            return []
        if self.result is None:
            self.result = self.search()
        self.asked = True
        return [self.result]

    def tell(self, results: Sequence[Told]) -> None:
        """Nothing to learn: the pruning decided the architecture."""

    def results(self) -> dict[str, Any]:
        return {"architecture": None if self.result is None else self.space.canonical(self.result),
                "pruning": self.history, "settings": self.settings}
