"""Eproxy (Li et al., ICCV 2023): few-shot self-supervised regression with a frozen barrier.

For one architecture: build its network without the classification head, add a trainable
transform layer per branch and a frozen, randomly initialised barrier layer, and regress a fixed
batch of images onto synthetic spatial targets with SGD (lr 1.2, momentum 0.9, weight decay 4e-5
on conv/linear weights only) for 10 iterations. Each iteration: forward, training loss = sum of
the branches' MSEs, step; the evaluation loss = sum_i MSE_i / 2^i on the same (pre-step)
outputs. The score is the last iteration's evaluation loss times ``1 - alpha * MACs / MACs_max``
(docs/methods/eproxy.md 2.1: the sign is minus in the authors' code; the paper's text has a plus). Lower is
better.

Choices of ours (documented where the paper and code leave them open):

- ``MACs`` are the multiply-accumulates of the network (:func:`nasplug.proxies.counts.count_macs`,
  conv and linear layers) at the batch's image size. ``MACs_max`` is ``max_macs`` when given;
  otherwise the MACs of the space's largest architecture where we know it (NAS-Bench-201: the
  all-``nor_conv_3x3`` cell, TransNAS micro: all conv3x3, NAS-Bench-Macro: all MBConv k5 e6; the
  authors use a per-space lookup table too), else (NB101, DARTS) the largest MACs
  among 32 architectures sampled with a fixed seed (an estimate; set ``max_macs`` to pin it).
  Both are computed with the same ``module_options`` as the scored network.
- Randomness: the network, transform and barrier initialisation come from ``ctx.seed`` (the
  barrier from its own stream, so it is the same for every architecture scored with one seed);
  the synthetic targets from ``target_seed``, a fixed property of the proxy like the authors'
  saved feature tensors, so that a configuration tuned by DPS scores the same task later.
- The batch: the first ``images`` (16) images of ``ctx.batch``, fewer if the batch is smaller.
- ``barrier = false`` (Table 1 ablation) drops the barrier; the transform then maps straight to
  the target's ``barrier_channels``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Hashable

import attrs
import numpy as np

from nasplug.core.errors import ArchitectureError, ConfigError
from nasplug.core.interfaces.proxy import Proxy, ProxyContext
from nasplug.core.options import non_negative_int, number_in, one_of, positive_int
from nasplug.core.seeding import derive_seed
from nasplug.core.interfaces.capabilities import Buildable
from nasplug.proxies.eproxy.config_space import EproxyTuningSpace
from nasplug.proxies.eproxy.model import INITS
from nasplug.proxies.eproxy.targets import FEATURES

#: The largest architecture of spaces whose maximum we know, by space class name.
LARGEST_ARCH: dict[str, str] = {
    "NB201Space": "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "TransNASMicroSpace": "64-41414-3_33_333",  # conv3x3 on every edge
    "NBMacroSpace": "22222222",  # MBConv k5 e6 in every layer
}
#: Architectures sampled to estimate ``MACs_max`` on other spaces.
MACS_SAMPLE = 32
_MAX_MACS: dict[tuple, float] = {}

PER_BRANCH = ("features", "transform_kernel", "barrier_kernel", "transform_channels", "barrier_channels", "levels")


def _list_of(check: Any, what: str):
    def validate(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
        if not isinstance(value, (list, tuple)) or not value or not all(check(v) for v in value):
            raise ValueError(f"{attribute.name}: expected a non-empty list of {what} (one per branch), got {value!r}")
    return validate


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _feature_set(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and all(f in FEATURES for f in v) and len(set(v)) == len(v)


def _module_options(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ValueError(f"{attribute.name}: expected a table of to_module options, got {value!r}")


@attrs.frozen
class EProxyConfig:
    """Eproxy options; defaults are the authors' configuration before DPS (docs/methods/eproxy.md 2.1).

    Per-branch options are lists, entry ``i`` for branch ``i`` (0 = deepest stage); a list may be
    longer than ``branches`` (DPS always carries three slots).

    - ``learning_rate``, ``momentum``, ``weight_decay``, ``iterations``: the SGD regression (1.2,
      0.9, 4e-5 on conv/linear weights, 10 steps); ``images``: batch images used (16).
    - ``branches`` (1..3): stage outputs regressed, deepest first (the intermediate-output choice).
    - ``features``: per branch, the synthetic features summed into the target (``net``,
      ``wave_l``, ``wave_m``, ``wave_h``, ``dot``); ``levels``: the augment coefficient.
    - ``transform_kernel`` / ``transform_channels`` (c_mid): the trainable transform conv;
      ``barrier_kernel`` / ``barrier_channels`` (c_out): the frozen barrier conv and target width.
    - ``init_net`` / ``init_barrier``: ``default`` (torch's init, the authors' non-DPS setting) or
      xavier/kaiming uniform/normal.
    - ``flops_coefficient`` (alpha) and ``max_macs``: the FLOPs term ``1 - alpha * MACs/MACs_max``.
    - ``barrier``: ``false`` for the Table 1 ablation without barrier; ``branch_decay``: weights of
      the branches in the evaluation loss (``exp``: 1/2^i, the authors'; ``constant``).
    - ``target_size``: side of the target grid (8); ``target_seed``: seed of the synthetic features;
      ``module_options``: passed to the space's ``to_module`` (e.g. smaller test networks)."""

    learning_rate: float = attrs.field(default=1.2, validator=number_in(1e-8, None))
    momentum: float = attrs.field(default=0.9, validator=number_in(0, 1))
    weight_decay: float = attrs.field(default=4e-5, validator=number_in(0, None))
    iterations: int = attrs.field(default=10, validator=positive_int)
    images: int = attrs.field(default=16, validator=positive_int)
    branches: int = attrs.field(default=1, validator=one_of(1, 2, 3))
    features: list = attrs.field(factory=lambda: [["net", "wave_h"]],
                                 validator=_list_of(_feature_set, f"feature lists over {', '.join(FEATURES)}"))
    transform_kernel: list = attrs.field(factory=lambda: [3], validator=_list_of(lambda v: v in (1, 3, 5, 7), "kernel sizes 1, 3, 5 or 7"))
    barrier_kernel: list = attrs.field(factory=lambda: [3], validator=_list_of(lambda v: v in (1, 3, 5, 7), "kernel sizes 1, 3, 5 or 7"))
    transform_channels: list = attrs.field(factory=lambda: [512], validator=_list_of(lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "channel counts >= 1"))
    barrier_channels: list = attrs.field(factory=lambda: [64], validator=_list_of(lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "channel counts >= 1"))
    levels: list = attrs.field(factory=lambda: [1.0], validator=_list_of(lambda v: _is_number(v) and v > 0, "augment levels > 0"))
    init_net: str = attrs.field(default="default", validator=one_of("default", *INITS))
    init_barrier: str = attrs.field(default="default", validator=one_of("default", *INITS))
    flops_coefficient: float = attrs.field(default=0.1, validator=number_in(-1, 1))
    max_macs: float | None = attrs.field(default=None, validator=number_in(1, None, optional=True))
    barrier: bool = attrs.field(default=True, validator=one_of(True, False))
    branch_decay: str = attrs.field(default="exp", validator=one_of("exp", "constant"))
    target_size: int = attrs.field(default=8, validator=positive_int)
    target_seed: int = attrs.field(default=0, validator=non_negative_int)
    module_options: dict = attrs.field(factory=dict, validator=_module_options)

    def __attrs_post_init__(self) -> None:
        for key in PER_BRANCH:
            if len(getattr(self, key)) < self.branches:
                raise ValueError(f"{key}: expected at least branches = {self.branches} entries, got {getattr(self, key)!r}")


class EProxy(Proxy):
    """Eproxy: few-shot regression onto synthetic targets through a frozen barrier (lower is better)."""

    requires = (Buildable,)

    Config = EProxyConfig
    direction: ClassVar[str] = "min"
    needs_data: ClassVar[bool] = True
    cost: ClassVar[str] = "expensive"

    @classmethod
    def tuning_space(cls) -> EproxyTuningSpace:
        """The Discrete Proxy Search space over this proxy's options (the ``tune`` run uses it)."""
        return EproxyTuningSpace()

    # --- pieces ---------------------------------------------------------------------------
    def _images(self, ctx: ProxyContext) -> Any:
        if ctx.batch is None:
            raise ConfigError("eproxy needs an image batch; add [data] path = \"batch.npz\" to the config")
        x = ctx.batch[0] if isinstance(ctx.batch, (tuple, list)) else ctx.batch
        if x.ndim != 4:
            raise ConfigError(f"eproxy needs NCHW images, got a batch of shape {tuple(x.shape)}")
        return x[: self.config.images].float()

    def targets(self, images: Any) -> list[Any]:
        """The regression target of each branch, ``(n, barrier_channels[i], size, size)``."""
        from nasplug.proxies.eproxy.targets import branch_target, feature_banks

        c = self.config
        used = sorted({f for feats in c.features[: c.branches] for f in feats}, key=FEATURES.index)
        channels = max(512, *c.barrier_channels[: c.branches])
        banks = feature_banks(images, channels, c.target_size, int(c.target_seed), used)
        return [branch_target(banks, c.features[i], int(images.shape[0]), c.barrier_channels[i], c.target_size, c.levels[i])
                for i in range(c.branches)]

    def build(self, arch: Hashable, images: Any, ctx: ProxyContext) -> tuple[Any, Any]:
        """``(model, barrier)`` for ``arch``, initialised from ``ctx.seed`` (torch's global RNG is
        forked, so the caller's stream is untouched); ``(None, None)`` when none of the branches'
        stage outputs depends on the input (see :meth:`losses`)."""
        import torch

        from nasplug.proxies.eproxy.model import Barrier, EproxyModel, initialise

        c = self.config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(ctx.seed, "eproxy", "network"))
            network = self.space.to_module(arch, num_classes=ctx.num_classes, **c.module_options)
            taps, varies = EproxyModel.probe(network, images)
            branches = min(c.branches, len(taps))
            if not any(varies[:branches]):
                return None, None
            outs = c.transform_channels[:branches] if c.barrier else c.barrier_channels[:branches]
            model = EproxyModel(network, taps[:branches], outs, c.transform_kernel[:branches], c.target_size)
            initialise(model, c.init_net)
            barrier = None
            if c.barrier:
                torch.manual_seed(derive_seed(ctx.seed, "eproxy", "barrier"))
                barrier = Barrier(c.transform_channels[:branches], c.barrier_channels[:branches], c.barrier_kernel[:branches])
                initialise(barrier, c.init_barrier)
                barrier.freeze()
        return model, barrier

    def regress(self, model: Any, barrier: Any, images: Any, targets: list[Any]) -> list[float]:
        """Train ``model`` for ``iterations`` steps; the evaluation loss of every iteration."""
        import torch
        import torch.nn.functional as F

        from nasplug.proxies.eproxy.model import SGD, parameter_groups

        c = self.config
        model.train()
        optimizer = SGD(parameter_groups(model, c.weight_decay), lr=c.learning_rate, momentum=c.momentum)
        losses: list[float] = []
        for _ in range(c.iterations):
            outputs = model(images)
            if barrier is not None:
                outputs = barrier(outputs)
            mses = [F.mse_loss(o, t) for o, t in zip(outputs, targets)]
            loss = sum(mses)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                weights = [0.5 ** i if c.branch_decay == "exp" else 1.0 for i in range(len(mses))]
                losses.append(float(sum(w * m.detach() for w, m in zip(weights, mses))))
        return losses

    def macs(self, network: Any, images: Any) -> float:
        from nasplug.proxies.counts import count_macs

        return float(count_macs(network, tuple(images.shape[1:])))

    def max_macs(self, images: Any, num_classes: int) -> float:
        """``MACs_max`` of the FLOPs term (see the module docstring)."""
        c = self.config
        if c.max_macs is not None:
            return float(c.max_macs)
        name = type(self.space).__name__
        key = (type(self.space).__module__, name, repr(self.space.config), repr(sorted(c.module_options.items())),
               tuple(images.shape[1:]))
        if key not in _MAX_MACS:
            import torch

            if name in LARGEST_ARCH:
                archs = [self.space.parse(LARGEST_ARCH[name])]
            else:
                archs = self.space.sample_many(MACS_SAMPLE, np.random.default_rng(0), unique=False)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                _MAX_MACS[key] = max(self.macs(self.space.to_module(a, num_classes=num_classes, **c.module_options), images)
                                     for a in archs)
        return _MAX_MACS[key]

    # --- the proxy ------------------------------------------------------------------------
    def losses(self, arch: Hashable, ctx: ProxyContext) -> tuple[list[float], Any]:
        """The evaluation loss of every iteration and the trained model (for inspection).

        A network whose branch inputs do not depend on the image (every stage output it taps is
        the same for any input) gets NaN losses, so its score ranks last, as the zero-cost
        proxies do for degenerate networks. Regressing image-dependent targets from a constant
        can do no better than predicting their mean, a loss that undercuts the 10-iteration loss
        of most working networks, so without this rule such networks score best and a
        proxy-guided search converges on them (a choice of ours; the paper does not discuss it)."""
        import torch

        images = self._images(ctx).to(ctx.device)
        model, barrier = self.build(arch, images.cpu(), ctx)
        if model is None:
            return [math.nan] * self.config.iterations, (None, None)
        targets = [t.to(ctx.device) for t in self.targets(images.cpu())]
        model.to(ctx.device)
        if barrier is not None:
            barrier.to(ctx.device)
        with torch.random.fork_rng(devices=[]):
            return self.regress(model, barrier, images, targets[: len(model.transforms)]), (model, barrier)

    def score(self, arch: Hashable, ctx: ProxyContext) -> float:
        """The last iteration's evaluation loss, scaled by the FLOPs term (lower is better)."""
        losses, (model, _barrier) = self.losses(arch, ctx)
        loss = losses[-1]
        alpha = float(self.config.flops_coefficient)
        if alpha == 0 or not math.isfinite(loss):
            return float(loss)
        images = self._images(ctx)
        try:
            macs = self.macs(model.network.cpu(), images.cpu())
        except (RuntimeError, TypeError) as exc:
            raise ArchitectureError(f"cannot count the FLOPs of {self.space.canonical(arch)} ({exc}); set flops_coefficient = 0") from None
        return float(loss * (1.0 - alpha * macs / self.max_macs(images.cpu(), ctx.num_classes)))
