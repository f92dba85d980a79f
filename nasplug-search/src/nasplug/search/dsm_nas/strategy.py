"""DSM-NAS as an ask/tell strategy over any space with a positional form."""

from __future__ import annotations

import math
from typing import Any, Hashable, Sequence

import attrs
import numpy as np

from nasplug.core.errors import ArchitectureError
from nasplug.core.interfaces.strategy import Strategy, Told
from nasplug.core.options import boolean, number_in, one_of, positive_int, string_list
from nasplug.core.interfaces.capabilities import Positional
from nasplug.search._positions import position_choices

#: Values that differ between the paper and the authors' code (docs/methods/dsm_nas.md 3.5), and the
#: paper's MobileNet-space setting. Explicit options override the preset.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"subspaces": 4, "steps": 4, "lr": 1e-2, "weight_decay": 0.0, "entropy_weight": 7.5e-4},
    "code": {"subspaces": 3, "steps": 4, "lr": 9.4468e-3, "weight_decay": 2.374e-5, "entropy_weight": 5.05e-4},
    "mobilenet": {"subspaces": 10, "steps": 3, "lr": 1e-2, "weight_decay": 0.0, "entropy_weight": 7.5e-4},
}


def _optional(validator: Any) -> Any:
    def check(inst: Any, attribute: attrs.Attribute, value: Any) -> None:
        if value is not None:
            validator(inst, attribute, value)
    return check


def _non_negative(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{attribute.name}: expected a finite number >= 0, got {value!r}")


@attrs.frozen
class DSMNASConfig:
    """DSM-NAS options. ``preset`` fills ``subspaces`` (K), ``steps`` (M), ``lr``,
    ``weight_decay`` and ``entropy_weight`` unless they are given: ``paper`` (K=4, M=4, Adam
    lr 1e-2, entropy 7.5e-4; the default), ``code`` (the authors' repository: K=3, lr 9.4468e-3,
    weight decay 2.374e-5, entropy 5.05e-4) or ``mobilenet`` (K=10, M=3, the paper's setting on
    the MobileNet-like space).

    Ablations: ``reward = "absolute"`` (raw accuracy instead of the improvement over the centre),
    ``update_subspaces = false`` (centres never replaced), ``use_graph = false`` (no message
    passing: nodes embedded independently), ``use_edges = false`` (the code's ``--no_edge``),
    ``greedy_subspace = true`` (always the best centre; the code's ``--select_best_space``).
    ``inplace_drift = true`` emulates the authors' in-place edit bug (a rejected child's ops
    leak into the centre, which keeps its old accuracy); off by default, as the paper describes.
    ``initial_centres`` (canonical architecture strings) seeds the subspaces: DSM-NAS+ passes
    the centres of a run on another dataset (``result["strategy"]["centres"]``).
    """

    preset: str = attrs.field(default="paper", validator=one_of(*PRESETS))
    subspaces: int | None = attrs.field(default=None, validator=_optional(positive_int))
    steps: int | None = attrs.field(default=None, validator=_optional(positive_int))
    lr: float | None = attrs.field(default=None, validator=_optional(number_in(0.0, 10.0)))
    weight_decay: float | None = attrs.field(default=None, validator=_optional(_non_negative))
    entropy_weight: float | None = attrs.field(default=None, validator=_optional(_non_negative))
    baseline_decay: float = attrs.field(default=0.9, validator=number_in(0.0, 1.0))
    hidden: int = attrs.field(default=64, validator=positive_int)
    gnn_layers: int = attrs.field(default=2, validator=positive_int)
    accuracy_scale: float = attrs.field(default=0.01, validator=number_in(0.0, 1e6))
    reward: str = attrs.field(default="improvement", validator=one_of("improvement", "absolute"))
    update_subspaces: bool = attrs.field(default=True, validator=boolean)
    use_graph: bool = attrs.field(default=True, validator=boolean)
    use_edges: bool = attrs.field(default=True, validator=boolean)
    greedy_subspace: bool = attrs.field(default=False, validator=boolean)
    inplace_drift: bool = attrs.field(default=False, validator=boolean)
    initial_centres: tuple[str, ...] = attrs.field(default=(), converter=lambda v: tuple(v) if isinstance(v, list) else v,
                                                   validator=string_list)

    def resolved(self, key: str) -> Any:
        value = getattr(self, key)
        return PRESETS[self.preset][key] if value is None else value


@attrs.define
class _Centre:
    arch: Hashable
    positions: list[int]
    fitness: float
    value: float


class DSMNAS(Strategy):
    """Dominative subspace mining (Chen et al., TCSVT 2024; docs/methods/dsm_nas.md).

    K subspaces are centred on architectures (random, or ``initial_centres``); the subspace
    graph links worse centres to better ones. Each step the controller (graph network + LSTM)
    picks a subspace and M single-position modifications of its centre; the child is evaluated,
    replaces the centre when it is better (a copy: the centre object is never edited in place),
    and the controller is updated by REINFORCE with reward = child - centre minus an EMA
    baseline, plus an entropy bonus, with Adam. The K initial evaluations count towards the
    query budget (the authors' code does not charge their time; we charge every query).
    Works on any space with a positional form (NB201, TransNAS micro, NAS-Bench-Macro,
    MobileNet-like).
    """

    requires = (Positional,)

    Config = DSMNASConfig

    def __init__(self, config: Any = None, **deps: Any) -> None:
        super().__init__(config, **deps)
        import torch

        from nasplug.search.dsm_nas.controller import Controller

        self.choices = position_choices(self.space)
        c = self.config
        self.k = int(c.resolved("subspaces"))
        self.m = int(c.resolved("steps"))
        self.width = max(self.choices)
        self._initial = [self.space.parse(text) for text in c.initial_centres][: self.k]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.controller = Controller(len(self.choices) * self.width + 1, self.k, len(self.choices), self.width,
                                         hidden=c.hidden, gnn_layers=c.gnn_layers, use_graph=c.use_graph,
                                         use_edges=c.use_edges)
        self.optimizer = torch.optim.Adam(self.controller.parameters(), lr=float(c.resolved("lr")),
                                          weight_decay=float(c.resolved("weight_decay")), foreach=True)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.centres: list[_Centre] = []
        self._asked_initial = 0
        self._pending: tuple[int, Any, Any] | None = None
        self.baseline: float | None = None
        self._valid: dict[tuple[int, ...], bool] = {}
        self.iterations = 0

    # --- initial subspaces ----------------------------------------------------------------
    def _initial_architectures(self) -> list[Hashable]:
        archs = list(self._initial)
        seen = {self.space.canonical(a) for a in archs}
        while len(archs) < self.k:
            a = self.space.sample(self.rng)
            key = self.space.canonical(a)
            if key not in seen:
                seen.add(key)
                archs.append(a)
        return archs

    # --- validity of edited architectures ------------------------------------------------------
    def _is_valid(self, positions: Sequence[int]) -> bool:
        key = tuple(int(p) for p in positions)
        if key not in self._valid:
            try:
                self.space.from_positions(key)
                self._valid[key] = True
            except ArchitectureError:
                self._valid[key] = False
        return self._valid[key]

    def _choice_mask(self, k: int, edits: list[tuple[int, int]], position: int) -> Any:
        import torch

        from nasplug.search.dsm_nas.controller import apply_edits

        current = apply_edits(self.centres[k].positions, edits)
        mask = torch.zeros(self.width, dtype=torch.bool)
        for choice in range(self.choices[position]):
            current[position] = choice
            mask[choice] = self._is_valid(current)
        return mask

    def _graph(self) -> tuple[Any, Any]:
        import torch

        from nasplug.search.dsm_nas.subspace import node_features, tournament

        fitness = [c.fitness for c in self.centres]
        x = node_features([c.positions for c in self.centres], [c.value for c in self.centres], self.width,
                          self.config.accuracy_scale)
        return torch.as_tensor(x), torch.as_tensor(tournament(fitness))

    # --- ask / tell -------------------------------------------------------------------------
    def ask(self, n: int) -> list[Hashable]:
        if self._asked_initial < self.k:
            archs = self._initial_architectures()[self._asked_initial:self._asked_initial + n]
            self._asked_initial += len(archs)
            return archs
        from nasplug.search.dsm_nas.controller import apply_edits

        x, adj = self._graph()
        forced = int(np.argmax([c.fitness for c in self.centres])) if self.config.greedy_subspace else None
        k, edits, logp, entropy = self.controller.sample(x, adj, self.m, self.generator, self._choice_mask,
                                                         forced_subspace=forced)
        child = self.space.from_positions(tuple(apply_edits(self.centres[k].positions, edits)))
        self._pending = (k, logp, entropy)
        return [child]

    def tell(self, results: Sequence[Told]) -> None:
        if self._pending is None:
            for told in results:
                self.centres.append(_Centre(told.arch, list(self.space.to_positions(told.arch)), told.fitness, told.value))
            return
        (told,) = results
        k, logp, entropy = self._pending
        self._pending = None
        self.iterations += 1
        centre = self.centres[k]
        c = self.config
        if math.isfinite(told.fitness):
            raw = told.fitness if c.reward == "absolute" else told.fitness - centre.fitness
        else:
            raw = -abs(centre.fitness) if math.isfinite(centre.fitness) else -1.0
        raw *= c.accuracy_scale
        if self.baseline is None:
            self.baseline = raw
        else:
            self.baseline = c.baseline_decay * self.baseline + (1.0 - c.baseline_decay) * raw
        advantage = raw - self.baseline
        loss = -logp * advantage - float(c.resolved("entropy_weight")) * entropy
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        if c.update_subspaces and math.isfinite(told.fitness) and told.fitness > centre.fitness:
            self.centres[k] = _Centre(told.arch, list(self.space.to_positions(told.arch)), told.fitness, told.value)
        elif c.inplace_drift:
            centre.positions = list(self.space.to_positions(told.arch))
            centre.arch = told.arch

    def results(self) -> dict[str, Any]:
        return {"centres": [{"arch": self.space.canonical(c.arch), "value": c.value} for c in self.centres],
                "iterations": self.iterations}
