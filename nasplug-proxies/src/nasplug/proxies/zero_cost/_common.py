"""Machinery shared by the zero-cost proxies: a fresh, seeded network per score, weight-init
schemes of the reference implementations, device choice, the image batch, and the rule that a
numerical failure is reported as a non-finite score instead of an exception.

Every score builds its own network with ``space.to_module`` inside a forked torch RNG seeded with
``ProxyContext.seed``, so the same seed gives the same weights (and the same noise) whatever ran
before, BatchNorm running statistics never leak between calls, and no proxy has to undo in-place
changes (sign flips, BN removal) on a network somebody else holds.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from typing import Any, Callable, ClassVar, Hashable, Iterator, Mapping

import attrs
import numpy as np

from nasplug.core.errors import ConfigError
from nasplug.core.interfaces.proxy import Proxy, ProxyContext
from nasplug.core.options import one_of
from nasplug.core.interfaces.capabilities import Buildable

#: Weight-initialisation schemes (``init`` option); ``"default"`` keeps the builder's own init
#: (PyTorch's layer defaults), as Abdelfattah et al. and Mellor et al. did.
INIT_SCHEMES = ("default", "kaiming_normal_fan_in", "kaiming_normal_fan_out", "gaussian")


def init_option(default: str) -> Any:
    """An ``attrs`` field for the ``init`` option with the proxy's reference default."""
    return attrs.field(default=default, validator=one_of(*INIT_SCHEMES))


def _module_options(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is not None and not (isinstance(value, Mapping) and all(isinstance(k, str) for k in value)):
        raise ValueError(f"{attribute.name}: expected a table of to_module options (e.g. {{channels = 8}}), got {value!r}")


def module_options_field(default: Any = None) -> Any:
    """``module_options``: extra keyword options for ``space.to_module`` (e.g. a narrower net)."""
    return attrs.field(default=default, validator=_module_options,
                       converter=lambda v: dict(v) if isinstance(v, Mapping) else v)


def resolve_device(name: str | None) -> Any:
    """The torch device ``name`` asks for; CUDA only when asked and available (else CPU, warned)."""
    import torch

    name = (name or "cpu").strip()
    if name.startswith("cuda"):
        if torch.cuda.is_available():
            return torch.device(name)
        warnings.warn(f"proxy context asks for device {name!r} but CUDA is not available; scoring on the CPU",
                      RuntimeWarning, stacklevel=3)
        return torch.device("cpu")
    if name != "cpu":
        raise ConfigError(f"device {name!r} is not supported by the zero-cost proxies; use \"cpu\" or \"cuda[:index]\"")
    return torch.device("cpu")


@contextlib.contextmanager
def seeded(seed: int, device: Any) -> Iterator[None]:
    """Torch's global RNG forked and seeded with ``seed`` (CPU, plus ``device`` if CUDA), so
    ``to_module``'s weight init is a pure function of the seed and the caller's RNG is untouched."""
    import torch

    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        yield


def generator(seed: int, *labels: object) -> Any:
    """A CPU ``torch.Generator`` for noise inputs, derived from ``seed`` and ``labels``."""
    import torch

    from nasplug.core.seeding import derive_seed

    return torch.Generator().manual_seed(derive_seed(seed, *labels))


def apply_init(module: Any, scheme: str) -> None:
    """Re-initialise conv/linear weights (biases to 0) and BN (weight 1, bias 0) per ``scheme``."""
    import torch
    from torch import nn

    if scheme == "default":
        return
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear)):
                if scheme == "gaussian":
                    nn.init.normal_(m.weight)
                else:
                    mode = "fan_in" if scheme == "kaiming_normal_fan_in" else "fan_out"
                    nn.init.kaiming_normal_(m.weight, mode=mode, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm)) and m.weight is not None:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)


def weight_layers(module: Any) -> list[Any]:
    """The convolution and linear layers: the units the gradient proxies sum over."""
    from torch import nn

    return [m for m in module.modules() if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear))]


def logits_of(output: Any) -> Any:
    """The logits of a forward pass (the last element when a network returns a tuple)."""
    return output[-1] if isinstance(output, (tuple, list)) else output


class ZeroCostProxy(Proxy):
    """Base of the training-free proxies: builds the seeded network and turns numerical trouble
    into a non-finite score (the runner ranks those last) instead of an exception.

    Subclasses implement :meth:`compute` and set ``init_scheme`` via their ``Config.init``.
    """

    requires = (Buildable,)

    #: Errors that mean "the network/score is numerically degenerate", reported as NaN.
    numerical_errors: ClassVar[tuple[type[BaseException], ...]] = (FloatingPointError, ZeroDivisionError,
                                                                    np.linalg.LinAlgError)

    def score(self, arch: Hashable, ctx: ProxyContext) -> float:
        import torch

        device = resolve_device(getattr(ctx, "device", "cpu"))
        with seeded(ctx.seed, device):
            try:
                value = self.compute(arch, ctx, device)
            except (*self.numerical_errors, torch.linalg.LinAlgError):
                value = math.nan
        return float(value)

    def compute(self, arch: Hashable, ctx: ProxyContext, device: Any) -> float:
        raise NotImplementedError

    def fitness(self, value: float) -> float:
        """Direction applied; a non-finite value (diverged or degenerate network) ranks last."""
        if not math.isfinite(value):
            return -math.inf
        return super().fitness(value)

    # --- helpers for subclasses ---------------------------------------------------------------
    def build(self, arch: Hashable, ctx: ProxyContext, device: Any, *, init: str | None = None,
              module_options: Mapping[str, Any] | None = None, train: bool = True) -> Any:
        """A fresh network for ``arch`` (inside :func:`seeded`), re-initialised per ``init``."""
        options = dict(module_options if module_options is not None else (getattr(self.config, "module_options", None) or {}))
        module = self.space.to_module(arch, num_classes=ctx.num_classes, **options)
        apply_init(module, init or getattr(self.config, "init", "default"))
        module.to(device)
        module.train(train)
        return module

    def build_narrow(self, arch: Hashable, ctx: ProxyContext, device: Any, narrow: Mapping[str, Any]) -> Any:
        """The network TE-NAS-style proxies score: ``module_options`` when configured, else the
        ``narrow`` variant (e.g. one channel, one cell per stage) when the space's ``to_module``
        accepts those options, else the network as built."""
        if self.config.module_options is not None:
            return self.build(arch, ctx, device)
        try:
            return self.build(arch, ctx, device, module_options=narrow)
        except (TypeError, ConfigError):
            return self.build(arch, ctx, device, module_options={})

    def batch(self, ctx: ProxyContext, device: Any, limit: int | None = None) -> tuple[Any, Any]:
        """The context's image batch ``(x, y)`` on ``device`` (first ``limit`` images)."""
        import torch

        name = type(self).__name__
        if ctx.batch is None:
            raise ConfigError(f"proxy {name} needs an image batch; add [data] path = \"batch.npz\" (or source = \"sample\") to the config")
        x, y = ctx.batch
        x = torch.as_tensor(x, dtype=torch.float32)
        y = torch.as_tensor(y, dtype=torch.long)
        if limit is not None:
            x, y = x[:limit], y[:limit]
        if x.ndim != 4 or len(x) != len(y) or len(x) < 2:
            raise ConfigError(f"proxy {name} needs an NCHW batch of at least 2 images with one label each, got x {tuple(x.shape)}, y {tuple(y.shape)}")
        if self.needs_labels and (int(y.min()) < 0 or int(y.max()) >= ctx.num_classes):
            raise ConfigError(f"proxy {name}: labels span {int(y.min())}..{int(y.max())} but num_classes is {ctx.num_classes}; set [data] num_classes")
        return x.to(device), y.to(device)


def sum_over_layers(module: Any, per_layer: Callable[[Any], Any]) -> float:
    """``sum(per_layer(layer))`` over conv/linear layers with a gradient, in float64."""
    import torch

    total = 0.0
    with torch.no_grad():
        for layer in weight_layers(module):
            if layer.weight.grad is not None:
                total += float(per_layer(layer).double().sum())
    return total
