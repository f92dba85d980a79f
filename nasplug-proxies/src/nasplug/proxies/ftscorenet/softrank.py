"""Differentiable ranking (Blondel et al., ICML 2020) and the soft Spearman loss, in torch.

The soft rank with l2 regularisation of strength ``eps`` is the Euclidean projection of
``theta = values / eps`` onto the permutahedron of ``rho = (n, n-1, ..., 1)``:

    r(theta) = argmin_{mu in P(rho)} ||mu - theta||^2 / 2.

With ``s = theta`` sorted in decreasing order, the projection is ``s - v`` put back in the
original order, where ``v`` is the decreasing isotonic regression of ``s - rho``
(``argmin_{v_1 >= ... >= v_n} ||v - (s - rho)||^2``), solved exactly by pool-adjacent-violators
(PAV). On each PAV block ``v`` is the block mean of ``s - rho``; the blocks are piecewise constant
in ``theta``, so writing ``v`` as block means of a torch expression gives exactly the operator's
Jacobian (identity minus block averaging) through autograd. As ``eps -> 0`` the soft ranks
become the ranks 1..n (ascending: the largest value gets n).

This is the operator of google-research/fast-soft-sort (``soft_rank(..., regularization="l2")``)
that FT-ScoreNet trains with, and of torchsort; written here because neither is on the package
registry in a form that installs everywhere.
"""

from __future__ import annotations

import torch


def pav_blocks(y: list[float]) -> list[int]:
    """Block sizes of the decreasing isotonic regression of ``y`` (pool adjacent violators)."""
    sums: list[float] = []
    counts: list[int] = []
    for value in y:
        sums.append(value)
        counts.append(1)
        # merge while the previous block's mean is below the last one's (a rise violates >=)
        while len(sums) > 1 and sums[-2] * counts[-1] < sums[-1] * counts[-2]:
            s, c = sums.pop(), counts.pop()
            sums[-1] += s
            counts[-1] += c
    return counts


def soft_rank(values: torch.Tensor, regularization_strength: float = 1.0, *, descending: bool = False) -> torch.Tensor:
    """Soft ranks of each row of ``values`` (shape ``(n,)`` or ``(batch, n)``), l2 regularised.

    Ascending by default: ranks run from about 1 (smallest) to about n (largest).
    """
    if regularization_strength <= 0:
        raise ValueError(f"regularization_strength must be > 0, got {regularization_strength}")
    squeeze = values.ndim == 1
    theta = values.unsqueeze(0) if squeeze else values
    if theta.ndim != 2:
        raise ValueError(f"soft_rank expects a vector or a (batch, n) matrix, got shape {tuple(values.shape)}")
    theta = theta * ((-1.0 if descending else 1.0) / regularization_strength)
    batch, n = theta.shape
    rho = torch.arange(n, 0, -1, dtype=theta.dtype, device=theta.device)
    order = torch.argsort(theta, dim=1, descending=True, stable=True)
    s = torch.gather(theta, 1, order)
    y = s - rho
    # segment ids of the PAV blocks, unique across rows
    ids = torch.empty(batch, n, dtype=torch.long)
    n_blocks = 0
    for row, values_row in enumerate(y.detach().cpu().tolist()):
        start = 0
        for size in pav_blocks(values_row):
            ids[row, start:start + size] = n_blocks
            start += size
            n_blocks += 1
    ids = ids.to(theta.device).reshape(-1)
    sums = torch.zeros(n_blocks, dtype=theta.dtype, device=theta.device).index_add(0, ids, y.reshape(-1))
    counts = torch.zeros(n_blocks, dtype=theta.dtype, device=theta.device).index_add(
        0, ids, torch.ones_like(ids, dtype=theta.dtype))
    v = (sums / counts)[ids].reshape(batch, n)
    ranks = torch.empty_like(s).scatter(1, order, s - v)
    return ranks.squeeze(0) if squeeze else ranks


def soft_spearman(pred: torch.Tensor, target: torch.Tensor, regularization_strength: float = 3.0) -> torch.Tensor:
    """Spearman correlation of soft ranks, row-wise: both vectors are soft-ranked, centred,
    L2-normalised and dotted (the FT-ScoreNet training objective, strength 3.0)."""
    rp = soft_rank(pred, regularization_strength)
    rt = soft_rank(target.to(pred.dtype), regularization_strength)
    rp = rp - rp.mean(dim=-1, keepdim=True)
    rt = rt - rt.mean(dim=-1, keepdim=True)
    rp = rp / rp.norm(dim=-1, keepdim=True)
    rt = rt / rt.norm(dim=-1, keepdim=True)
    return (rp * rt).sum(dim=-1)
