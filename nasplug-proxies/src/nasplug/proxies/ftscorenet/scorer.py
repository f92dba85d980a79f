"""The FT-ScoreNet model: kernel bank, input-like tensor, scorer head and batch-wise MLP.

A score is computed as (paper III-C, Fig. 2; docs/methods/ftscorenet.md 1.3)::

    feats = GAP(constructed_net(I))           # (64, C): the learnable input-like tensor I
    z = L1(feats)                             # (64, 100): 1x1 kernel from the shared bank
    z = unit_variance(z)                      # only with v-norm
    z = L2(SymLog(z))                         # (64, 1)
    score = MLP_b(z^T)                        # (1, 64) -> (1, 1), a scalar

``L1`` synthesizes its ``(100, C)`` weight from the same bank as the convolutions, so it reads any
width ``C``; ``L2`` and the MLP (64-64-64-64-1 with ReLUs) are ordinary layers. Every learnable
tensor is initialised from one ``seed`` (maps and input N(0, 1), bias maps N(0, 1)/1000, torch's
default init for the linear layers), so a model is a pure function of its config and seed.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any, Hashable, Sequence

import attrs
import numpy as np
import torch
from torch import nn

from nasplug.core.options import boolean, number_in, one_of, positive_int
from nasplug.proxies.ftscorenet.construct import construct
from nasplug.proxies.ftscorenet.kernels import GAINS, FrequencyBank
from nasplug.proxies.ftscorenet.layers import SymLog
from nasplug.proxies.ftscorenet.vnorm import reset_vnorm, unit_variance


@attrs.frozen
class ModelConfig:
    """Shape of an FT-ScoreNet (paper / reference-code defaults).

    ``kernel``: side k of the frequency maps (7, the largest conv kernel of the benchmarks);
    ``bank_channels``: the bank holds ``bank_channels**2`` maps (64 * 64); ``images`` and
    ``input_size``: the input-like tensor is ``(images, 3, input_size, input_size)`` (64, 32);
    ``classes``: output width of L1 (100); ``mlp_width``: hidden width of the batch-wise MLP
    (64 = ``images``); ``vnorm``: two-pass variance unitisation on or off;
    ``nonlinearity``: selects the kernel gain (relu: sqrt 2); ``symlog_eps``: linear zone of SymLog.
    """

    kernel: int = attrs.field(default=7, validator=positive_int)
    bank_channels: int = attrs.field(default=64, validator=positive_int)
    images: int = attrs.field(default=64, validator=positive_int)
    input_size: int = attrs.field(default=32, validator=positive_int)
    classes: int = attrs.field(default=100, validator=positive_int)
    mlp_width: int = attrs.field(default=64, validator=positive_int)
    vnorm: bool = attrs.field(default=True, validator=boolean)
    nonlinearity: str = attrs.field(default="relu", validator=one_of(*GAINS))
    symlog_eps: float = attrs.field(default=1e-3, validator=number_in(1e-12, 1.0))

    def model_fields(self) -> dict[str, Any]:
        return attrs.asdict(self)


class FTScoreNet(nn.Module):
    """A trainable zero-shot scorer that reads any network a space can build."""

    def __init__(self, config: ModelConfig | None = None, seed: int = 0) -> None:
        super().__init__()
        self.config = c = config or ModelConfig()
        self.seed = int(seed)
        g = torch.Generator().manual_seed(self.seed)
        self.bank = FrequencyBank(c.bank_channels, c.kernel, generator=g, nonlinearity=c.nonlinearity)
        self.inputs = nn.Parameter(torch.randn(c.images, 3, c.input_size, c.input_size, generator=g))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.l2 = nn.Linear(c.classes, 1)
            w = c.mlp_width
            self.mlp = nn.Sequential(nn.Linear(c.images, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU(),
                                     nn.Linear(w, w), nn.ReLU(), nn.Linear(w, 1))
        self.symlog = SymLog(c.symlog_eps)
        self._nets: OrderedDict[tuple[int, str], tuple[Any, nn.Module]] = OrderedDict()

    #: How many constructed networks ``build`` keeps for reuse (about 0.6 MB each for NAS-Bench-201):
    #: enough for a training pool of a few hundred architectures.
    net_cache_size = 256

    def clear_cache(self) -> None:
        """Drop the kept constructed networks."""
        self._nets.clear()

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__() if hasattr(super(), "__getstate__") else dict(self.__dict__)
        state = dict(state)
        state["_nets"] = OrderedDict()
        return state

    # --- the head --------------------------------------------------------------------------
    def image_scores(self, feats: torch.Tensor) -> torch.Tensor:
        """Per-image scores ``(images,)`` from pooled features ``(images, C)``: L1 -> v-norm ->
        SymLog -> L2."""
        c_in = feats.shape[1]
        w = self.bank.kernel(self.config.classes, c_in, 1, 1).reshape(self.config.classes, c_in)
        z = feats @ w.T + self.bank.bias(self.config.classes)
        if self.config.vnorm:
            z = unit_variance(z)
        return self.l2(self.symlog(z)).squeeze(-1)

    def head(self, feats: torch.Tensor) -> torch.Tensor:
        """The scalar score from pooled features (batch-wise MLP over the per-image scores)."""
        return self.mlp(self.image_scores(feats).unsqueeze(0)).mean()

    # --- architectures ---------------------------------------------------------------------
    def build(self, space: Any, arch: Hashable):
        """The constructed network of ``arch`` with a fresh v-norm state (the next forward is a
        calibration pass). Networks are kept for reuse, keyed by space and canonical id: they
        hold no tensors of their own, only the layer settings and v-norm state."""
        key = (id(space), space.canonical(arch))
        hit = self._nets.get(key)
        if hit is not None and hit[0] is space:
            self._nets.move_to_end(key)
            reset_vnorm(hit[1])
            return hit[1]
        net = construct(space, arch, self.bank, vnorm=self.config.vnorm)
        self._nets[key] = (space, net)
        if len(self._nets) > self.net_cache_size:
            self._nets.popitem(last=False)
        return net

    def forward_net(self, net: nn.Module) -> torch.Tensor:
        """The score of a constructed network (a 0-d tensor); the first call calibrates v-norm."""
        with self.bank.cached():
            return self.head(net.features(self.inputs))

    @torch.no_grad()
    def score(self, space: Any, arch: Hashable) -> float:
        """The score of one architecture (one forward pass)."""
        return float(self.forward_net(self.build(space, arch)))

    @torch.no_grad()
    def score_many(self, space: Any, archs: Sequence[Hashable]) -> np.ndarray:
        """Scores of many architectures (kernels synthesized once per shape for the batch)."""
        with self.bank.cached():
            return np.array([float(self.forward_net(self.build(space, a))) for a in archs], dtype=float)

    @torch.no_grad()
    def embed_many(self, space: Any, archs: Sequence[Hashable]) -> np.ndarray:
        """The representation the batch-wise MLP scores from: the ``images`` per-image scores."""
        out = []
        with self.bank.cached():
            for a in archs:
                out.append(self.image_scores(self.build(space, a).features(self.inputs)).numpy())
        return np.asarray(out, dtype=np.float32)

    # --- checkpoints -----------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {"kind": "ftscorenet", "config": self.config.model_fields(), "seed": self.seed,
                "state_dict": self.state_dict()}

    def save(self, path: str | Path) -> Path:
        """Write a checkpoint readable by :func:`load_checkpoint` and the ``ftscorenet`` proxy."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(self.state(), path)
        return path

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "FTScoreNet":
        model = cls(ModelConfig(**state["config"]), seed=state.get("seed", 0))
        model.load_state_dict(state["state_dict"])
        return model
