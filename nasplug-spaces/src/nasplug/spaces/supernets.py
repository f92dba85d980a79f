"""Building blocks the spaces' supernets share.

A supernet keeps the discrete network's module names and puts the options of each decision under
``<decision module>.candidates.<option>``, so a sub-network is the space's ``to_module(arch)``
with the chosen candidates' tensors copied in (:func:`inherit`).
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from nasplug.core.errors import ConfigError

_RUN_ZERO_WEIGHTED = contextvars.ContextVar("nasplug_run_zero_weighted", default=False)


@contextlib.contextmanager
def run_zero_weighted() -> Iterator[None]:
    """Inside this block a mixture runs every option whose weight needs a gradient, zero or not,
    so a zero weight's gradient is ``sum(dL/dy * op(x))`` as in a plain weighted sum (SDARTS-ADV's
    attack on weights clipped to the simplex), instead of GDAS's straight-through scalar."""
    token = _RUN_ZERO_WEIGHTED.set(True)
    try:
        yield
    finally:
        _RUN_ZERO_WEIGHTED.reset(token)


class MixedOp(nn.Module):
    """The options of one decision: run one (``choice``) or the weighted sum (``weights``).

    An option whose weight is exactly zero is not run: without a gradient it is skipped, with one
    it contributes the weight itself as a scalar (zero in value, so the output is unchanged), which
    passes a straight-through gradient to it as GDAS's hard Gumbel-softmax forward does (inside
    :func:`run_zero_weighted` it is run and weighted like the others instead). An option
    whose module says ``outputs_zeros`` (the ``none`` op) is left out of a mixture: its term
    ``w * 0`` adds nothing and passes no gradient, so the output and every gradient are the same,
    without the work.

    ``partial`` > 1 is PC-DARTS' partial channel connection: the options (built for
    ``channels / partial``) see the first ``1/partial`` of the channels, the rest bypass them
    (max-pooled when ``stride`` is 2) and the concatenation is channel-shuffled."""

    def __init__(self, candidates: Sequence[nn.Module], partial: int = 1, stride: int = 1) -> None:
        super().__init__()
        self.candidates = nn.ModuleList(candidates)
        self.partial, self.stride = int(partial), int(stride)
        #: Dropout rate per option index, applied to that option's output in training mode
        #: (P-DARTS' dropout on skip connections; see :func:`set_option_dropout`).
        self.drop: dict[int, float] = {}

    def forward(self, x: torch.Tensor, choice: int | None = None, weights: torch.Tensor | None = None) -> torch.Tensor:
        if self.partial == 1:
            return self._mix(x, choice, weights)
        c = x.shape[1] // self.partial
        rest = x[:, c:]
        if self.stride > 1:
            rest = nn.functional.max_pool2d(rest, self.stride, self.stride)
        return channel_shuffle(torch.cat([self._mix(x[:, :c], choice, weights), rest], dim=1), self.partial)

    def _mix(self, x: torch.Tensor, choice: int | None, weights: torch.Tensor | None) -> torch.Tensor:
        if choice is not None:
            return self.candidates[choice](x)
        out: torch.Tensor | None = None
        scalars: torch.Tensor | None = None
        run_zeros = _RUN_ZERO_WEIGHTED.get() and weights.requires_grad  # type: ignore[union-attr]
        for k, (w, value, op) in enumerate(zip(weights, weights.tolist(), self.candidates)):  # type: ignore[union-attr]
            if value == 0.0 and not run_zeros:
                if w.requires_grad:
                    scalars = w if scalars is None else scalars + w
                continue
            if getattr(op, "outputs_zeros", False):
                continue
            y = op(x)
            if self.training and self.drop.get(k, 0.0) > 0.0:
                y = nn.functional.dropout(y, self.drop[k])
            term = w * y
            out = term if out is None else out + term
        if out is None:
            out = self.candidates[0](x).mul(0.0)
        return out if scalars is None else out + scalars


def set_option_dropout(supernet: nn.Module, option: int, rate: float) -> None:
    """Dropout at ``rate`` on option ``option``'s output in every mixed op of ``supernet``."""
    for module in supernet.modules():
        if isinstance(module, MixedOp):
            module.drop = {option: float(rate)} if rate > 0 else {}


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` equal groups (ShuffleNet's shuffle, PC-DARTS)."""
    b, c, h, w = x.shape
    return x.view(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)


def partial_channels_option(value: object, channels: int) -> int:
    """Check the ``partial_channels`` supernet option against ``channels``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or channels % value:
        raise ConfigError(f"supernet option 'partial_channels' must be an integer >= 1 dividing channels ({channels}), got {value!r}")
    return value


def check_path_or_weights(path: Sequence[int] | None, weights: torch.Tensor | None, decisions: Sequence[int],
                          what: str) -> list[int] | None:
    """``path`` as ints after checking that exactly one of ``path`` / ``weights`` is given and
    that it fits ``decisions`` (options per decision)."""
    if (path is None) == (weights is None):
        raise ValueError(f"give the supernet exactly one of path (one option per {what}) or weights (per-{what} option weights)")
    n, m = len(decisions), max(decisions)
    if path is not None:
        out = [int(p) for p in path]
        if len(out) != n or not all(0 <= p < d for p, d in zip(out, decisions)):
            raise ValueError(f"path must be {n} option indices (one per {what}, each below {m}), got {out}")
        return out
    if tuple(weights.shape) != (n, m):  # type: ignore[union-attr]
        raise ValueError(f"weights must be shaped ({n}, {m}), got {tuple(weights.shape)}")  # type: ignore[union-attr]
    return None


def inherit(sub: nn.Module, supernet: nn.Module, rename: Callable[[list[str]], list[str]]) -> dict[str, torch.Tensor]:
    """The state dict of ``sub`` taken from ``supernet``: each of ``sub``'s names, split at dots,
    mapped by ``rename`` to the supernet's name (tensors cloned)."""
    own = supernet.state_dict()
    return {name: own[".".join(rename(name.split(".")))].clone() for name in sub.state_dict()}


class ArgmaxDiscretise:
    """``discretise`` and ``parameter_free_ops`` for a supernet whose every path is a member of
    its space: the architecture of per-decision option weights is each decision's strongest
    option. Needs ``decisions``, ``option_names`` (per decision), ``arch_of`` and ``path_of``."""

    decisions: tuple[int, ...]
    option_names: tuple[tuple[str, ...], ...]
    #: Options without weights (a cell of only these is the collapse of DARTS).
    PARAMETER_FREE: frozenset[str] = frozenset({"none", "skip_connect", "identity", "avg_pool_3x3", "max_pool_3x3"})

    def discretise(self, weights: Any, include_none: bool = True) -> Any:
        """The architecture whose decisions take the option of largest weight (``none`` only
        when ``include_none``)."""
        w = np.array(weights, dtype=float)
        shape = (len(self.decisions), max(self.decisions))
        if w.shape != shape:
            raise ValueError(f"weights must be shaped {shape}, got {w.shape}")
        for d, names in enumerate(self.option_names):
            w[d, len(names):] = -np.inf
            if not include_none and "none" in names:
                w[d, names.index("none")] = -np.inf
        return self.arch_of(tuple(int(i) for i in w.argmax(axis=1)))  # type: ignore[attr-defined]

    def parameter_free_ops(self, arch: Any) -> tuple[int, int]:
        """How many of ``arch``'s options have no weights, out of how many decisions."""
        path = self.path_of(arch)  # type: ignore[attr-defined]
        ops = [self.option_names[d][int(k)] for d, k in enumerate(path)]
        return sum(op in self.PARAMETER_FREE for op in ops), len(ops)
