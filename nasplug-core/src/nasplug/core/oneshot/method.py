"""One-shot method plugins (entry-point group ``nasplug.oneshot``): how a supernet is trained.

A method decides, per training step, which paths of the supernet are trained on the batch
(:meth:`OneShotMethod.paths`; SPOS: one uniform path, FairNAS: every op of every decision once),
or overrides :meth:`OneShotMethod.train_step` entirely (differentiable methods that also update
architecture weights). After training, :meth:`OneShotMethod.derive` may return an architecture
(SPOS: evolutionary search over the supernet). Everything random in a step comes from the ``rng``
the run passes in, derived from ``(seed, epoch, step)``, so a resumed run repeats it exactly.

Differentiable methods (DARTS and its family) also use the hooks around training: they ask for
supernet options (:meth:`~OneShotMethod.supernet_options`, e.g. PC-DARTS' partial channels), create
their architecture parameters in :meth:`~OneShotMethod.setup`, follow epoch schedules in
:meth:`~OneShotMethod.start_epoch`, get a validation batch with every training batch
(``uses_validation``), report diagnostics per epoch (:meth:`~OneShotMethod.epoch_metrics`) and
name the architecture they would derive now (:meth:`~OneShotMethod.current_arch`).
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar, Hashable

import numpy as np

from nasplug.core.interfaces.base import Part
from nasplug.core.interfaces.capabilities import HasSupernet


class OneShotMethod(Part, abc.ABC):
    """Trains a weight-sharing supernet, one optimiser update per step."""

    group: ClassVar[str] = "nasplug.oneshot"
    requires: ClassVar[tuple[type, ...]] = (HasSupernet,)
    #: When true, ``train_step`` receives ``valid=(x, y)``: a batch of the validation split.
    uses_validation: ClassVar[bool] = False

    def __init__(self, config: Any = None, *, space: Any) -> None:
        super().__init__(config)
        self.space = space
        self.check_space(space)

    def check_supernet(self, supernet: Any) -> None:
        """Fail with a one-line ``ConfigError`` when the method cannot train ``supernet`` (called
        when the run is built, before anything is stored). The default accepts any."""

    def supernet_options(self) -> dict[str, Any]:
        """Supernet options the method needs (the run's ``[oneshot] supernet`` table overrides)."""
        return {}

    def setup(self, supernet: Any, device: str) -> None:
        """Called once the supernet is built, before a checkpoint is loaded into it and the method."""

    def stages(self, epochs: int) -> list[tuple[int, dict[str, Any]]]:
        """How the run's ``epochs`` split into stages, each ``(epochs, supernet option overrides)``;
        the run builds a fresh supernet, optimiser and learning-rate schedule for each stage and
        calls :meth:`begin_stage` (P-DARTS' growing depth). Default: one stage."""
        return [(epochs, {})]

    def begin_stage(self, stage: int, supernet: Any) -> None:
        """Called when stage ``stage`` (>= 1) starts on its new ``supernet``."""
        raise NotImplementedError(f"{type(self).__name__} declares stages but does not handle their start")

    def start_epoch(self, epoch: int, epochs: int) -> None:
        """Called before each training epoch (0-based) of ``epochs``: schedules follow it."""

    def epoch_metrics(self, supernet: Any, evaluator: Any, rng: np.random.Generator) -> dict[str, Any]:
        """Diagnostics stored with the epoch's metrics (JSON values)."""
        return {}

    def current_arch(self, supernet: Any) -> Hashable | None:
        """The architecture the method would derive now without further search, or ``None``
        (differentiable methods: the discretised architecture weights). The run stores it, and its
        benchmark metrics, every epoch."""
        return None

    @abc.abstractmethod
    def paths(self, supernet: Any, rng: np.random.Generator) -> list[tuple[int, ...]]:
        """The paths (one option index per decision of ``supernet.decisions``) trained on this
        step's batch."""

    def train_step(self, supernet: Any, x: Any, y: Any, optimizer: Any, rng: np.random.Generator,
                   grad_clip: float | None = None, valid: tuple[Any, Any] | None = None) -> dict[str, float]:
        """One update: the gradients of every path of :meth:`paths` on the same batch are
        accumulated, clipped to ``grad_clip`` (global norm), and applied once."""
        import torch
        from torch.nn import functional as F

        paths = self.paths(supernet, rng)
        optimizer.zero_grad(set_to_none=True)
        loss_sum, correct = 0.0, 0.0
        for path in paths:
            logits = supernet(x, path=path)
            loss = F.cross_entropy(logits, y)
            loss.backward()
            loss_sum += float(loss.detach())
            correct += float((logits.detach().argmax(1) == y).float().mean())
        if grad_clip:
            torch.nn.utils.clip_grad_norm_(supernet.parameters(), grad_clip)
        optimizer.step()
        return {"loss": loss_sum / len(paths), "accuracy": 100.0 * correct / len(paths)}

    def derive(self, evaluator: Any, rng: np.random.Generator) -> Hashable | None:
        """The architecture the method picks from the trained supernet, or ``None`` (by default
        :meth:`current_arch`)."""
        return self.current_arch(evaluator.supernet)

    def state_dict(self) -> dict[str, Any]:
        """Method state saved with each checkpoint (architecture weights, schedules)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
