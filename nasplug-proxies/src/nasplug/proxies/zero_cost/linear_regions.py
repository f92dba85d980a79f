"""Number of linear regions (Chen et al., TE-NAS, ICLR 2021; after Xiong et al. 2020): the
number of distinct ReLU activation patterns that a set of Gaussian inputs produces in the
untrained network, i.e. how many linear pieces of the piecewise-linear function the samples hit.
Higher is better (more expressive). No data.

TE-NAS counts on a deliberately thin network (one channel, one cell) fed 3,000 tiny inputs
(1 x 3 x 3, a 9-dimensional input space), so that the count stays below the number of samples.
``module_options = None`` (default) asks the space for that network: ``to_module(arch,
channels=1, cells_per_stage=1)`` when the space accepts those options (NAS-Bench-201 does), else
the network as built. A network with an RGB stem and stride-2 reductions cannot take 1 x 3 x 3
images, so (our choice) each input is a Gaussian ``channels x pattern_size x pattern_size``
pattern upsampled (nearest) to ``input_size`` x ``input_size``: with the default 1 x 1 pattern,
a random colour filling a 4 x 4 image, i.e. a 3-dimensional input space. On 60 NAS-Bench-201
cells this kept the count unsaturated (55..2,743 of 3,000) where i.i.d. Gaussian 4 x 4 images hit
3,000 distinct patterns for most cells.
"""

from __future__ import annotations

from typing import Any, Hashable

import attrs
import numpy as np
import torch

from nasplug.core.interfaces.proxy import ProxyContext
from nasplug.core.options import positive_int
from nasplug.proxies.zero_cost._common import ZeroCostProxy, generator, init_option, logits_of, module_options_field
from nasplug.proxies.zero_cost._hooks import on_relu_outputs

#: The TE-NAS thin network, asked of spaces that take these ``to_module`` options.
THIN_OPTIONS = {"channels": 1, "cells_per_stage": 1}


@attrs.frozen
class LinearRegionsConfig:
    """TE-NAS defaults: batches of 1,000 Gaussian inputs, 3 batches, Kaiming-normal (fan-in);
    ``pattern_size``/``input_size``: the low-dimensional inputs (ours, see the module doc)."""

    batch_size: int = attrs.field(default=1000, validator=positive_int)
    batches: int = attrs.field(default=3, validator=positive_int)
    input_size: int = attrs.field(default=4, validator=positive_int)
    pattern_size: int = attrs.field(default=1, validator=positive_int)
    channels: int = attrs.field(default=3, validator=positive_int)
    init: str = init_option("kaiming_normal_fan_in")
    module_options: Any = module_options_field()


def count_distinct_rows(codes: np.ndarray) -> int:
    """The number of distinct rows of a 2-D array."""
    packed = np.ascontiguousarray(codes)
    return len({row.tobytes() for row in packed})


class LinearRegionsProxy(ZeroCostProxy):
    """nregions: distinct ReLU activation patterns over Gaussian inputs (higher is better)."""

    Config = LinearRegionsConfig
    direction = "max"
    needs_data = False
    needs_labels = False
    cost = "cheap"

    def compute(self, arch: Hashable, ctx: ProxyContext, device: Any) -> float:
        c = self.config
        module = self.build_narrow(arch, ctx, device, THIN_OPTIONS)
        g = generator(ctx.seed, "nregions")
        rows: list[np.ndarray] = []
        for _ in range(c.batches):
            pattern = torch.randn((c.batch_size, c.channels, c.pattern_size, c.pattern_size), generator=g)
            x = torch.nn.functional.interpolate(pattern, size=(c.input_size, c.input_size), mode="nearest").to(device)
            layers: list[np.ndarray] = []

            def collect(out: Any) -> None:
                bits = (out.detach().reshape(len(x), -1) > 0).cpu().numpy()
                layers.append(np.packbits(bits, axis=1))

            with torch.no_grad(), on_relu_outputs(module, collect) as relus:
                logits_of(module(x))
            if relus == 0:
                return float("nan")
            rows.append(np.concatenate(layers, axis=1))
        return float(count_distinct_rows(np.concatenate(rows, axis=0)))
