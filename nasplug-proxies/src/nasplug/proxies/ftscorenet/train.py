"""Training FT-ScoreNet: minus a soft Spearman correlation, Adam, a few architectures per step.

Each step takes ``archs_per_step`` architectures (7, the reference default) from one labelled set;
with several sets (several spaces) the steps iterate over them round-robin (the paper's
"iterating over datasets", III-D2). Each set's order is reshuffled whenever it is used up. A step:

1. builds each architecture's constructed network and runs the calibration pass without
   gradients, which fixes the v-norm factors and gives the scores ``s``;
2. computes ``loss = -soft_spearman(s, y)`` (l2 soft ranks, strength 3.0) and its gradient
   ``g = dloss/ds``;
3. runs the gradient pass network by network with the stored factors and back-propagates
   ``g_i * s_i``. This equals back-propagating the loss through all networks at once (the
   factors are constants and each score depends on its own network only) while keeping one
   network's activations in memory at a time;
4. takes one Adam step (lr 1e-3, betas 0.9 / 0.95) on every learnable tensor.

A paper-scale run (64 images of 32 x 32, 100 architectures per step) costs about 70 s per step on
one CPU core (0.7 s per NAS-Bench-201 architecture; about 4 hours for 200 steps), so :func:`train`
can keep a checkpoint (weights, Adam state, the batch
order and the step records) and resume from it: a run killed and resumed ends with the same
weights as one that was not.
"""

from __future__ import annotations

import ast
import os
import time
from pathlib import Path
from typing import Any, Callable, Hashable, Sequence

import attrs
import numpy as np
import torch

from nasplug.core.options import non_negative_int, number_in
from nasplug.proxies.ftscorenet.scorer import FTScoreNet
from nasplug.proxies.ftscorenet.softrank import soft_spearman


@attrs.frozen
class TrainConfig:
    """Optimisation settings (paper IV / reference ``train.py``): ``steps`` (200, the paper's
    NAS-Bench-201 prediction setting), ``archs_per_step`` (7; 0 = the whole labelled set, as
    the paper's Table VI run with 100), Adam ``lr`` and betas, ``regularization_strength`` of
    the soft ranks (3.0)."""

    steps: int = attrs.field(default=200, validator=non_negative_int)
    archs_per_step: int = attrs.field(default=7, validator=non_negative_int)
    lr: float = attrs.field(default=1e-3, validator=number_in(0.0, 10.0))
    beta1: float = attrs.field(default=0.9, validator=number_in(0.0, 1.0))
    beta2: float = attrs.field(default=0.95, validator=number_in(0.0, 1.0))
    regularization_strength: float = attrs.field(default=3.0, validator=number_in(1e-12, None))


@attrs.define
class LabelledSet:
    """Architectures of one space with their targets (higher = better)."""

    name: str
    space: Any
    archs: Sequence[Hashable]
    targets: np.ndarray = attrs.field(converter=lambda y: np.asarray(y, dtype=float))

    def __len__(self) -> int:
        return len(self.archs)


@attrs.frozen
class StepRecord:
    step: int
    set_name: str
    soft_spearman: float
    seconds: float


class _Batches:
    """Index batches over one set: a fresh permutation whenever the current one runs out."""

    def __init__(self, n: int, k: int, rng: np.random.Generator) -> None:
        self.n, self.k, self.rng = n, (k if 0 < k < n else n), rng
        self.order, self.pos = rng.permutation(n), 0

    def next(self) -> np.ndarray:
        if self.pos + self.k > self.n:
            self.order, self.pos = self.rng.permutation(self.n), 0
        batch = self.order[self.pos:self.pos + self.k]
        self.pos += self.k
        return batch

    def state(self) -> dict[str, Any]:
        return {"order": torch.as_tensor(self.order), "pos": self.pos}

    def restore(self, state: dict[str, Any]) -> None:
        self.order, self.pos = state["order"].numpy(), int(state["pos"])


def step_gradients(model: FTScoreNet, space: Any, archs: Sequence[Hashable], targets: np.ndarray,
                   regularization_strength: float = 3.0) -> float:
    """Accumulate the gradient of ``-soft_spearman`` for one batch into ``model``; returns the
    batch's soft Spearman (before the update)."""
    nets = [model.build(space, a) for a in archs]
    with torch.no_grad(), model.bank.cached():
        scores = torch.stack([model.forward_net(net) for net in nets]).to(torch.float64)
    s = scores.clone().requires_grad_(True)
    corr = soft_spearman(s, torch.as_tensor(targets, dtype=torch.float64), regularization_strength)
    if not torch.isfinite(corr):
        return float("nan")
    (-corr).backward()
    with model.bank.deferred():
        for net, g in zip(nets, s.grad.tolist()):
            if g != 0.0:
                (model.forward_net(net) * g).backward()
    return float(corr.detach())


def train(model: FTScoreNet, sets: Sequence[LabelledSet], config: TrainConfig | None = None, *, seed: int = 0,
          callback: Callable[[int, FTScoreNet], None] | None = None,
          checkpoint: str | os.PathLike[str] | None = None, checkpoint_every: int = 1) -> list[StepRecord]:
    """Train ``model`` in place for ``config.steps`` steps; ``callback(step, model)`` runs after
    each update (e.g. to record a learning curve).

    With ``checkpoint`` (a file path) the state after every ``checkpoint_every`` steps is written
    there (atomically), and a later call with the same path, model initialisation, sets, config
    and seed continues from it instead of starting over; the callback runs only for the steps
    this call takes. The file is left in place when training ends (delete it to retrain).
    """
    config = config or TrainConfig()
    if not sets or any(len(s) < 2 for s in sets):
        raise ValueError("training needs at least one labelled set of 2 or more architectures")
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be 1 or more, got {checkpoint_every}")
    rng = np.random.default_rng(seed)
    batches = [_Batches(len(s), config.archs_per_step, rng) for s in sets]
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(config.beta1, config.beta2))
    history: list[StepRecord] = []
    path = Path(checkpoint) if checkpoint is not None else None
    fingerprint = repr((attrs.astuple(config), seed, [(s.name, len(s)) for s in sets]))
    if path is not None and path.is_file():
        history = _restore(path, fingerprint, model, opt, rng, batches)
    model.train()
    for step in range(len(history), config.steps):
        i = step % len(sets)
        data, idx = sets[i], batches[i].next()
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        corr = step_gradients(model, data.space, [data.archs[j] for j in idx], data.targets[idx],
                              config.regularization_strength)
        if np.isfinite(corr):
            opt.step()
        history.append(StepRecord(step, data.name, corr, time.perf_counter() - start))
        if path is not None and ((step + 1) % checkpoint_every == 0 or step + 1 == config.steps):
            _save(path, fingerprint, model, opt, rng, batches, history)
        if callback is not None:
            callback(step, model)
    opt.zero_grad(set_to_none=True)
    model.eval()
    return history


def _save(path: Path, fingerprint: str, model: FTScoreNet, opt: torch.optim.Optimizer, rng: np.random.Generator,
          batches: list[_Batches], history: list[StepRecord]) -> None:
    state = {"fingerprint": fingerprint, "model": model.state_dict(), "optimizer": opt.state_dict(),
             # the generator's 128-bit state as text: checkpoints are read with weights_only=True
             "rng": repr(rng.bit_generator.state), "batches": [b.state() for b in batches],
             "history": [attrs.astuple(h) for h in history]}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _restore(path: Path, fingerprint: str, model: FTScoreNet, opt: torch.optim.Optimizer, rng: np.random.Generator,
             batches: list[_Batches]) -> list[StepRecord]:
    state = torch.load(path, weights_only=True)
    if state.get("fingerprint") != fingerprint:
        raise ValueError(f"checkpoint {path} belongs to other training settings, seed or data; "
                         "delete it or pass another checkpoint path")
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    rng.bit_generator.state = ast.literal_eval(state["rng"])
    for b, s in zip(batches, state["batches"]):
        b.restore(s)
    return [StepRecord(*h) for h in state["history"]]
