"""The DARTS supernet: every node of both cells reads every earlier node through all 8 primitives.

A cell has 14 edges (node ``j`` = 2..5 from each of the ``j`` earlier states, in that order), each
a :class:`~nasplug.spaces.supernets.MixedOp` over DARTS' ``PRIMITIVES`` (``none`` first), at the
search phase's convention by default (``affine=False``: non-affine BN in the ops, BN after
pooling). Decisions are the 14 normal then the 14 reduction edges, 8 options each.

A genotype is a *path* with its two chosen edges per node set to their op and every other edge to
``none`` (index 0), so ``forward(x, path=path_of(arch))`` computes exactly the discrete network of
``arch``, and :meth:`DartsSupernet.extract` returns ``to_module(arch)`` (same ``affine``) with the
chosen candidates' weights. Not every path is a genotype (a node needs exactly two non-``none``
inputs), so per-decision sampling is not uniform over the space: SPOS samples genotypes from the
space instead, and FairNAS, which needs every path to be a member, declines this space.
Genotypes using the ``none`` op itself (``include_none``) have no path here.
``forward(x, weights=...)`` takes a 28 x 8 tensor, DARTS' mixture. ``partial_channels`` > 1
builds PC-DARTS' partial-channel supernet (no sub-network can be extracted from it). TE-NAS'
measuring networks are small variants: ``stem=False`` (the input goes straight into the first
cell), ``depth`` (only the first cells) and ``head=True`` (BN + ReLU before the pooling).

For differentiable methods: :attr:`DartsSupernet.option_names`, :attr:`decision_nodes` (normal
cell nodes 2..5, reduction cell nodes 102..105), :meth:`discretise` (DARTS' rule: per node the two
incoming edges with the strongest non-``none`` op, each with that op) and
:meth:`parameter_free_ops`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from nasplug.core.errors import ArchitectureError, ConfigError
from nasplug.spaces.darts.genotype import NODES, PRIMITIVES, DartsArch, make_arch, to_arch
from nasplug.spaces.darts.network import DartsNetwork, FactorizedReduce, ReLUConvBN, make_op, reduction_indices
from nasplug.spaces.supernets import MixedOp, check_path_or_weights, inherit, partial_channels_option

#: ``(node, source)`` of each of a cell's 14 edges, node 2..5 (states 0, 1 are the cell inputs).
EDGES: tuple[tuple[int, int], ...] = tuple((node, source) for node in range(2, NODES + 2) for source in range(node))
EDGE_INDEX = {edge: k for k, edge in enumerate(EDGES)}


class SuperCell(nn.Module):
    def __init__(self, c_prev_prev: int, c_prev: int, channels: int, reduction: bool, reduction_prev: bool,
                 affine: bool, partial: int = 1) -> None:
        super().__init__()
        self.reduction = reduction
        self.preprocess0 = (FactorizedReduce(c_prev_prev, channels) if reduction_prev
                            else ReLUConvBN(c_prev_prev, channels, 1))
        self.preprocess1 = ReLUConvBN(c_prev, channels, 1)
        self.edges = nn.ModuleList()
        for _, source in EDGES:
            stride = 2 if reduction and source < 2 else 1
            self.edges.append(MixedOp([make_op(op, channels // partial, stride, affine) for op in PRIMITIVES],
                                      partial=partial, stride=stride))

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, path: Sequence[int] | None,
                weights: torch.Tensor | None) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        k = 0
        for node in range(2, NODES + 2):
            total = None
            for source in range(node):
                choice = None if path is None else path[k]
                if choice == 0:  # none: contributes zeros, skip the work
                    k += 1
                    continue
                out = self.edges[k](states[source], choice, None if weights is None else weights[k])
                total = out if total is None else total + out
                k += 1
            states.append(total if total is not None else self.edges[k - 1].candidates[0](states[0]))
        return torch.cat(states[2:], dim=1)


class DartsSupernet(nn.Module):
    """Weight-sharing DARTS network (``channels`` 16, ``layers`` 8: DARTS' search network)."""

    decisions: tuple[int, ...] = (len(PRIMITIVES),) * (2 * len(EDGES))
    #: Not every combination of options is a genotype (see the module docstring).
    every_path_is_a_member = False
    #: The op name of each option, per decision.
    option_names: tuple[tuple[str, ...], ...] = (tuple(PRIMITIVES),) * (2 * len(EDGES))
    #: The node each edge enters; reduction-cell nodes are numbered from 102.
    decision_nodes: tuple[int, ...] = tuple(node + offset for offset in (0, 100) for node, _ in EDGES)
    #: Incoming edges each node keeps in a genotype (pruning methods such as TE-NAS stop there).
    inputs_per_node: int = 2
    #: Ops without weights in the normal cell (skip_connect is a FactorizedReduce only where it reduces).
    PARAMETER_FREE = frozenset({"none", "skip_connect", "avg_pool_3x3", "max_pool_3x3"})

    def __init__(self, num_classes: int = 10, channels: int = 16, layers: int = 8, stem_multiplier: int = 3,
                 affine: bool = False, partial_channels: int = 1, stem: bool = True, depth: int | None = None,
                 head: bool = False) -> None:
        super().__init__()
        for key, value, low in (("num_classes", num_classes, 1), ("channels", channels, 1), ("layers", layers, 3),
                                ("stem_multiplier", stem_multiplier, 1), ("depth", 1 if depth is None else depth, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"supernet option '{key}' must be an integer >= {low}, got {value!r}")
        for key, value in (("affine", affine), ("stem", stem), ("head", head)):
            if not isinstance(value, bool):
                raise ConfigError(f"supernet option '{key}' must be true or false, got {value!r}")
        self.partial = partial_channels_option(partial_channels, channels)
        #: A partial-channel or truncated supernet, or one with a head, holds no network of the space.
        self.can_extract = self.partial == 1 and stem and depth is None and not head
        self.num_classes = num_classes
        self.options = {"channels": channels, "layers": layers, "stem_multiplier": stem_multiplier, "affine": affine}
        c_stem = stem_multiplier * channels
        #: Channels of the input: 3 (images), or ``stem_multiplier * channels`` without the stem.
        self.in_channels = 3 if stem else c_stem
        self.stem = (nn.Sequential(nn.Conv2d(3, c_stem, 3, padding=1, bias=False), nn.BatchNorm2d(c_stem))
                     if stem else nn.Identity())
        reductions = reduction_indices(layers)
        c_prev_prev, c_prev, c = c_stem, c_stem, channels
        reduction_prev = False
        self.cells = nn.ModuleList()
        for i in range(layers if depth is None else min(depth, layers)):
            reduction = i in reductions
            if reduction:
                c *= 2
            self.cells.append(SuperCell(c_prev_prev, c_prev, c, reduction, reduction_prev, affine, self.partial))
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, 4 * c
        # BN + ReLU before the pooling, as NAS-Bench-201's code builds DARTS search networks (TE-NAS uses it)
        self.head = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=False)) if head else nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor, path: Sequence[int] | None = None, weights: torch.Tensor | None = None) -> torch.Tensor:
        path = check_path_or_weights(path, weights, self.decisions, "edge")
        n = len(EDGES)
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            part = slice(n, 2 * n) if cell.reduction else slice(0, n)
            s0, s1 = s1, cell(s0, s1, None if path is None else path[part], None if weights is None else weights[part])
        return self.classifier(torch.flatten(self.pool(self.head(s1)), 1))

    # --- architectures and paths ---------------------------------------------------------
    @staticmethod
    def path_of(arch: Any) -> tuple[int, ...]:
        arch = to_arch(arch, PRIMITIVES)
        out = [0] * (2 * len(EDGES))
        for c, genes in enumerate((arch.normal, arch.reduce)):
            for a, (op, source) in enumerate(genes):
                if op == "none":
                    raise ArchitectureError("a genotype with the 'none' op has no path in the DARTS supernet; leave include_none off")
                out[c * len(EDGES) + EDGE_INDEX[(a // 2 + 2, source)]] = PRIMITIVES.index(op)
        return tuple(out)

    @staticmethod
    def arch_of(path: Sequence[int]) -> DartsArch:
        cells = []
        for c in range(2):
            part = [int(p) for p in path[c * len(EDGES):(c + 1) * len(EDGES)]]
            genes = []
            for node in range(2, NODES + 2):
                chosen = [(PRIMITIVES[part[EDGE_INDEX[(node, s)]]], s) for s in range(node) if part[EDGE_INDEX[(node, s)]] != 0]
                if len(chosen) != 2:
                    raise ArchitectureError(f"path has {len(chosen)} inputs at node {node} of the {('normal', 'reduce')[c]} cell; a genotype needs exactly 2")
                genes += chosen
            cells.append(genes)
        return make_arch(cells[0], cells[1], PRIMITIVES)

    @staticmethod
    def discretise(weights: Any, include_none: bool = False) -> DartsArch:
        """The genotype of per-edge op weights (28 x 8, normal then reduction edges): DARTS' rule,
        per node the two incoming edges whose strongest non-``none`` op weighs most, each with that
        op (``include_none`` is accepted for symmetry with other spaces; ``none`` is never kept,
        as the genotype has no place for it)."""
        w = np.array(weights, dtype=float)
        if w.shape != (2 * len(EDGES), len(PRIMITIVES)):
            raise ValueError(f"weights must be shaped ({2 * len(EDGES)}, {len(PRIMITIVES)}), got {w.shape}")
        w[:, PRIMITIVES.index("none")] = -np.inf
        cells = []
        for c in range(2):
            part = w[c * len(EDGES):(c + 1) * len(EDGES)]
            genes = []
            for node in range(2, NODES + 2):
                edges = [(float(part[EDGE_INDEX[(node, s)]].max()), s) for s in range(node)]
                keep = sorted(sorted(edges, key=lambda e: (-e[0], e[1]))[:2], key=lambda e: e[1])
                genes += [(PRIMITIVES[int(part[EDGE_INDEX[(node, s)]].argmax())], s) for _, s in keep]
            cells.append(genes)
        return make_arch(cells[0], cells[1], PRIMITIVES)

    def parameter_free_ops(self, arch: Any) -> tuple[int, int]:
        """How many of the normal cell's 8 ops have no weights, out of 8 (the collapse shows there)."""
        arch = to_arch(arch, PRIMITIVES)
        return sum(op in self.PARAMETER_FREE for op, _ in arch.normal), len(arch.normal)

    def extract(self, arch: Any) -> DartsNetwork:
        if not self.can_extract:
            raise ConfigError("a partial-channel (partial_channels > 1), truncated (stem = false, depth) or headed (head = true) "
                              "supernet holds no sub-network of the space; evaluate paths with forward(x, path=...)")
        arch = to_arch(arch, PRIMITIVES)
        path = self.path_of(arch)
        net = DartsNetwork(arch, num_classes=self.num_classes, **self.options)
        genes = {False: arch.normal, True: arch.reduce}

        def rename(parts: list[str]) -> list[str]:
            if parts[0] == "cells" and parts[2] == "edge_ops":
                cell = self.cells[int(parts[1])]
                op, source = genes[cell.reduction][int(parts[3])]
                k = EDGE_INDEX[(int(parts[3]) // 2 + 2, source)]
                offset = len(EDGES) if cell.reduction else 0
                return [parts[0], parts[1], "edges", str(k), "candidates", str(path[offset + k]), *parts[4:]]
            return parts

        net.load_state_dict(inherit(net, self, rename))
        return net
