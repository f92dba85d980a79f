"""DARTS (Liu, Simonyan & Yang, ICLR 2019): differentiable architecture search, and the base of
its family. See ``docs/methods/differentiable.md``.

Every decision of the supernet (an edge) holds all its options; the edge computes the mixture
``sum_k w_k op_k(x)`` with ``w = softmax(alpha_edge)`` (Eq. 1 of survey 001). Training alternates
one step of the architecture parameters ``alpha`` on a validation batch (Adam) with one step of
the supernet's weights on a training batch (the run's SGD). At the end each edge keeps its
strongest op (the space's ``discretise``: argmax per edge on NAS-Bench-201, DARTS' top-2 incoming
edges per node on the DARTS space).

The variants (GDAS, DrNAS, PC-DARTS, FairDARTS, DARTS-, SDARTS, GAEA) subclass :class:`DARTS` and
change one of: how ``alpha`` becomes op weights (:meth:`DARTS.mixture`, :meth:`DARTS.train_weights`,
:meth:`DARTS.arch_weights`), the regulariser on ``alpha`` (:meth:`DARTS.regulariser`), the
architecture update (:meth:`DARTS.arch_update`) or the supernet (:meth:`DARTS.supernet_options`).
"""

from __future__ import annotations

from typing import Any, Hashable, Sequence

import attrs
import numpy as np

from nasplug.core.errors import ConfigError
from nasplug.core.oneshot.method import OneShotMethod
from nasplug.core.options import boolean, non_negative_int, number_in, one_of, positive_int


@attrs.frozen
class DartsConfig:
    """DARTS' architecture settings (the paper's and NAS-Bench-201's DARTS-V1/V2 code):
    ``order`` 1 (first order, DARTS-V1) or 2 (the unrolled step with the finite-difference
    Hessian-vector product, DARTS-V2, ``unrolled_epsilon`` 0.01 / gradient norm); Adam on alpha with
    ``arch_lr`` 3e-4, betas (``arch_beta1`` 0.5, ``arch_beta2`` 0.999), ``arch_weight_decay`` 1e-3;
    alpha initialised as ``init_scale`` 1e-3 times a standard normal draw.

    ``include_none``: whether ``none`` competes in the per-edge argmax on NAS-Bench-201 (true, as
    NAS-Bench-201's code does; the DARTS space always drops it). ``exclude_none``: leave ``none``
    out of the search itself (its weight fixed at 0 in every mixture; GAEA's NAS-Bench-201 runs,
    ``exclude_zero``). ``single_level``: the architecture step runs on the weight step's training
    batch instead of a validation batch (GAEA's "ERM" setting; its code draws another batch of the
    training set, we reuse the step's own so that a resumed run repeats the same steps).

    Diagnostics: the dominant eigenvalue of the Hessian of the validation loss with respect to
    alpha (Zela et al. 2020), by ``hessian_iterations`` 10 power iterations on ``hessian_images``
    64 validation images, every ``hessian_every`` 5 epochs and at the last (0: never)."""

    order: int = attrs.field(default=1, validator=one_of(1, 2))
    arch_lr: float = attrs.field(default=3e-4, validator=number_in(0.0, None))
    arch_beta1: float = attrs.field(default=0.5, validator=number_in(0.0, 1.0))
    arch_beta2: float = attrs.field(default=0.999, validator=number_in(0.0, 1.0))
    arch_weight_decay: float = attrs.field(default=1e-3, validator=number_in(0.0, None))
    init_scale: float = attrs.field(default=1e-3, validator=number_in(0.0, None))
    unrolled_epsilon: float = attrs.field(default=0.01, validator=number_in(0.0, None))
    include_none: bool = attrs.field(default=True, validator=boolean)
    exclude_none: bool = attrs.field(default=False, validator=boolean)
    single_level: bool = attrs.field(default=False, validator=boolean)
    hessian_every: int = attrs.field(default=5, validator=non_negative_int)
    hessian_images: int = attrs.field(default=64, validator=positive_int)
    hessian_iterations: int = attrs.field(default=10, validator=positive_int)


class DARTS(OneShotMethod):
    """DARTS: softmax mixture per edge, alternating architecture (validation) and weight
    (training) steps; first or second order."""

    Config = DartsConfig
    uses_validation = True

    # --- set-up --------------------------------------------------------------------------------
    #: Whether the method's op weights honour :attr:`mask` (``exclude_none`` needs it).
    masks_options = True

    def check_supernet(self, supernet: Any) -> None:
        missing = [a for a in ("discretise", "option_names") if not hasattr(supernet, a)]
        if missing:
            raise ConfigError(f"{type(self).__name__} discretises architecture weights, but this space's supernet has no "
                              f"{' or '.join(missing)}; use spos or fairnas on it, or nb201 / darts")
        if self.config.exclude_none and not self.masks_options:
            raise ConfigError(f"{type(self).__name__} weighs every op of an edge, so exclude_none cannot leave none out; "
                              "drop exclude_none or use darts / gaea")

    def setup(self, supernet: Any, device: str) -> None:
        import torch

        decisions = supernet.decisions
        n, m = len(decisions), max(decisions)
        self.device = device
        #: True where a decision has that option (decisions may have fewer options than the widest).
        names = supernet.option_names
        drop_none = self.config.exclude_none
        self.mask = torch.tensor([[j < d and not (drop_none and names[e][j] == "none") for j in range(m)]
                                  for e, d in enumerate(decisions)], device=device)
        self.alpha = torch.nn.Parameter(self.initial_alpha(n, m).to(device))
        self.arch_parameters = [self.alpha, *self.extra_parameters(supernet)]
        self.arch_optimizer = self.make_arch_optimizer()
        self.epoch, self.epochs = 0, 1

    def initial_alpha(self, n: int, m: int) -> Any:
        import torch

        return self.config.init_scale * torch.randn(n, m)

    def extra_parameters(self, supernet: Any) -> list[Any]:
        """Further architecture parameters (PC-DARTS' edge weights)."""
        return []

    def make_arch_optimizer(self) -> Any:
        import torch

        c = self.config
        return torch.optim.Adam(self.arch_parameters, lr=c.arch_lr, betas=(c.arch_beta1, c.arch_beta2),
                                weight_decay=c.arch_weight_decay)

    def start_epoch(self, epoch: int, epochs: int) -> None:
        self.epoch, self.epochs = epoch, epochs

    # --- from alpha to op weights --------------------------------------------------------------
    def _masked(self, logits: Any) -> Any:
        return logits.masked_fill(~self.mask, float("-inf"))

    def mixture(self) -> Any:
        """The op weights of the continuous model (differentiable in alpha): softmax per edge."""
        import torch

        return torch.softmax(self._masked(self.alpha), dim=-1)

    def arch_weights(self, rng: np.random.Generator) -> Any:
        """Op weights of the architecture step (with gradient to alpha)."""
        return self.mixture()

    def train_weights(self, rng: np.random.Generator) -> Any:
        """Op weights of the weight step (no gradient to alpha)."""
        return self.mixture().detach()

    def weight_step_weights(self, supernet: Any, x: Any, y: Any, rng: np.random.Generator) -> Any:
        """Op weights of the weight step on the batch ``(x, y)``: :meth:`train_weights` (SDARTS-ADV
        attacks them on the batch)."""
        return self.train_weights(rng)

    def regulariser(self) -> Any:
        """A loss on the architecture parameters added to the validation loss (none for DARTS)."""
        return 0.0

    def distribution(self) -> np.ndarray:
        """The per-edge op distribution that is discretised and shown in the diagnostics."""
        return self.mixture().detach().cpu().numpy()

    def current_arch(self, supernet: Any) -> Hashable | None:
        return supernet.discretise(self.distribution(), include_none=self.config.include_none)

    def paths(self, supernet: Any, rng: np.random.Generator) -> list[tuple[int, ...]]:
        """The discretised architecture's path (training itself runs on the mixture)."""
        return [tuple(supernet.path_of(self.current_arch(supernet)))]

    # --- one step -------------------------------------------------------------------------------
    def train_step(self, supernet: Any, x: Any, y: Any, optimizer: Any, rng: np.random.Generator,
                   grad_clip: float | None = None, valid: tuple[Any, Any] | None = None) -> dict[str, float]:
        import torch
        from torch.nn import functional as F

        if valid is None:
            raise ConfigError(f"{type(self).__name__} needs a validation batch with every training batch")
        if self.config.single_level:
            valid = (x, y)
        arch_loss = self.arch_step(supernet, (x, y), valid, optimizer, rng) if self.updates_architecture() else float("nan")
        optimizer.zero_grad(set_to_none=True)
        logits = supernet(x, weights=self.weight_step_weights(supernet, x, y, rng))
        loss = F.cross_entropy(logits, y)
        loss.backward()
        if grad_clip:
            torch.nn.utils.clip_grad_norm_(supernet.parameters(), grad_clip)
        optimizer.step()
        return {"loss": float(loss.detach()), "accuracy": 100.0 * float((logits.detach().argmax(1) == y).float().mean()),
                "arch_loss": arch_loss}

    def updates_architecture(self) -> bool:
        """Whether this step updates the architecture parameters (P-DARTS warms up without)."""
        return True

    def arch_step(self, supernet: Any, train: tuple[Any, Any], valid: tuple[Any, Any], optimizer: Any,
                  rng: np.random.Generator) -> float:
        """One update of the architecture parameters on the validation batch; its loss."""
        from torch.nn import functional as F

        for p in self.arch_parameters:
            p.grad = None
        if self.config.order == 2:
            loss = self._unrolled_gradient(supernet, train, valid, optimizer, rng)
        else:
            xv, yv = valid
            loss_t = F.cross_entropy(supernet(xv, weights=self.arch_weights(rng)), yv) + self.regulariser()
            loss_t.backward(inputs=self.arch_parameters)
            loss = float(loss_t.detach())
        self.arch_update()
        return loss

    def arch_update(self) -> None:
        """Apply the architecture gradients (Adam for DARTS)."""
        self.arch_optimizer.step()

    def _unrolled_gradient(self, supernet: Any, train: tuple[Any, Any], valid: tuple[Any, Any], optimizer: Any,
                           rng: np.random.Generator) -> float:
        """DARTS' second-order gradient (Eq. 7-8 of the paper): the validation loss gradient at the
        weights after one virtual SGD step (the run's learning rate, momentum and weight decay),
        minus ``lr`` times the Hessian-vector product by central finite differences."""
        import torch
        from torch.func import functional_call
        from torch.nn import functional as F

        (x, y), (xv, yv) = train, valid
        group = optimizer.param_groups[0]
        eta, momentum, decay = group["lr"], group.get("momentum", 0.0), group.get("weight_decay", 0.0)
        names = [n for n, _ in supernet.named_parameters()]
        params = [p for _, p in supernet.named_parameters()]
        buffers = {n: b.clone() for n, b in supernet.named_buffers()}  # virtual steps leave BN statistics alone

        def loss_at(weights_of_net: Sequence[Any], inputs: Any, labels: Any, op_weights: Any) -> Any:
            state = {**dict(zip(names, weights_of_net)), **buffers}
            return F.cross_entropy(functional_call(supernet, state, (inputs,), {"weights": op_weights}), labels)

        op_weights = self.arch_weights(rng)
        grads = torch.autograd.grad(loss_at(params, x, y, op_weights.detach()), params, allow_unused=True)
        with torch.no_grad():
            unrolled = []
            for p, g in zip(params, grads):
                g = torch.zeros_like(p) if g is None else g
                buf = optimizer.state.get(p, {}).get("momentum_buffer")
                step = g + decay * p + (momentum * buf if buf is not None else 0.0)
                unrolled.append((p - eta * step).requires_grad_(True))
        loss_v = loss_at(unrolled, xv, yv, op_weights) + self.regulariser()
        out = torch.autograd.grad(loss_v, [*self.arch_parameters, *unrolled], retain_graph=True, allow_unused=True)
        d_alpha, d_w = out[:len(self.arch_parameters)], out[len(self.arch_parameters):]
        d_w = [torch.zeros_like(p) if g is None else g for p, g in zip(unrolled, d_w)]
        eps = self.config.unrolled_epsilon / (torch.sqrt(sum((g * g).sum() for g in d_w)) + 1e-12)
        with torch.no_grad():
            plus = [p + eps * g for p, g in zip(params, d_w)]
            minus = [p - eps * g for p, g in zip(params, d_w)]
        g_plus = torch.autograd.grad(loss_at(plus, x, y, op_weights), self.arch_parameters, retain_graph=True, allow_unused=True)
        g_minus = torch.autograd.grad(loss_at(minus, x, y, op_weights), self.arch_parameters, allow_unused=True)
        for a, da, gp, gm in zip(self.arch_parameters, d_alpha, g_plus, g_minus):
            da = torch.zeros_like(a) if da is None else da
            hvp = (torch.zeros_like(a) if gp is None else gp) - (torch.zeros_like(a) if gm is None else gm)
            a.grad = (da - eta * hvp / (2 * eps)).detach()
        return float(loss_v.detach())

    # --- diagnostics ----------------------------------------------------------------------------
    def epoch_metrics(self, supernet: Any, evaluator: Any, rng: np.random.Generator) -> dict[str, Any]:
        c = self.config
        out: dict[str, Any] = {"alpha": self.distribution().tolist(), "alpha_ops": list(supernet.option_names[0]),
                               "supernet_valid_accuracy": evaluator.mixture_accuracy(self.distribution())}
        last = self.epoch == self.epochs - 1
        if c.hessian_every and ((self.epoch + 1) % c.hessian_every == 0 or last):
            out["hessian_eigenvalue"] = self.hessian_eigenvalue(supernet, evaluator, rng)
        out.update(self.schedule_metrics())
        return out

    def schedule_metrics(self) -> dict[str, float]:
        """The method's schedules at this epoch (temperature, auxiliary weight, noise level)."""
        return {}

    def hessian_eigenvalue(self, supernet: Any, evaluator: Any, rng: np.random.Generator) -> float:
        """The dominant eigenvalue of the Hessian of the validation loss (``hessian_images`` images
        of the run's fixed validation set) with respect to the architecture parameters, by power
        iteration on exact Hessian-vector products (double backward). The supernet is in training
        mode as during the search; its BN statistics are restored afterwards."""
        import torch
        from torch.nn import functional as F

        c = self.config
        xs, ys, have = [], [], 0
        for x, y in evaluator.valid:
            take = min(len(y), c.hessian_images - have)
            xs.append(x[:take])
            ys.append(y[:take])
            have += take
            if have >= c.hessian_images:
                break
        x, y = torch.cat(xs), torch.cat(ys)
        buffers = {n: b.clone() for n, b in supernet.named_buffers()}
        was_training = supernet.training
        supernet.train()
        try:
            loss = F.cross_entropy(supernet(x, weights=self.mixture()), y)
            grads = torch.autograd.grad(loss, self.alpha, create_graph=True)[0]
            v = torch.as_tensor(rng.standard_normal(tuple(self.alpha.shape)), dtype=self.alpha.dtype, device=self.alpha.device)
            v = v * self.mask
            v = v / v.norm()
            value = 0.0
            for _ in range(c.hessian_iterations):
                hv = torch.autograd.grad(grads, self.alpha, grad_outputs=v, retain_graph=True)[0] * self.mask
                value = float((hv * v).sum())
                norm = hv.norm()
                if float(norm) == 0.0:
                    break
                v = hv / norm
        finally:
            with torch.no_grad():
                for name, b in supernet.named_buffers():
                    b.copy_(buffers[name])
            supernet.train(was_training)
            supernet.zero_grad(set_to_none=True)
        return value

    # --- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"arch_parameters": [p.detach().clone() for p in self.arch_parameters],
                "arch_optimizer": self.arch_optimizer.state_dict() if self.arch_optimizer is not None else {}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        import torch

        with torch.no_grad():
            for p, saved in zip(self.arch_parameters, state["arch_parameters"]):
                p.copy_(saved)
        if self.arch_optimizer is not None:
            self.arch_optimizer.load_state_dict(state["arch_optimizer"])
