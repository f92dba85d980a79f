"""Building blocks the spaces' supernets share.

A supernet keeps the discrete network's module names and puts the options of each decision under
``<decision module>.candidates.<option>``, so a sub-network is the space's ``to_module(arch)``
with the chosen candidates' tensors copied in (:func:`inherit`).
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn


class MixedOp(nn.Module):
    """The options of one decision: run one (``choice``) or the weighted sum (``weights``; an
    option whose weight is exactly zero and needs no gradient is skipped)."""

    def __init__(self, candidates: Sequence[nn.Module]) -> None:
        super().__init__()
        self.candidates = nn.ModuleList(candidates)

    def forward(self, x: torch.Tensor, choice: int | None = None, weights: torch.Tensor | None = None) -> torch.Tensor:
        if choice is not None:
            return self.candidates[choice](x)
        out: torch.Tensor | None = None
        for w, op in zip(weights, self.candidates):  # type: ignore[arg-type]
            if not w.requires_grad and w.item() == 0.0:
                continue
            term = w * op(x)
            out = term if out is None else out + term
        return out if out is not None else self.candidates[0](x).mul(0.0)


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
