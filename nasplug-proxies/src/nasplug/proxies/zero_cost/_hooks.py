"""Forward-hook helpers: ReLU activation patterns, BatchNorm removal, pre-pooling features."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

def relu_types() -> tuple[type, ...]:
    """Activations whose on/off pattern defines the linear regions (NASWOT, TE-NAS)."""
    from torch import nn

    return (nn.ReLU, nn.ReLU6)


@contextlib.contextmanager
def on_relu_outputs(module: Any, callback: Callable[[Any], None]) -> Iterator[int]:
    """Call ``callback(output)`` after every ReLU module's forward; yields the number of ReLUs.

    The output is read, not the input: ``output > 0`` equals ``input > 0`` for a ReLU, and the
    output is still intact when the ReLU works in place.
    """
    handles = [m.register_forward_hook(lambda _m, _i, out: callback(out))
               for m in module.modules() if isinstance(m, relu_types())]
    try:
        yield len(handles)
    finally:
        for h in handles:
            h.remove()


def strip_batchnorm(module: Any) -> Any:
    """``module`` with every BatchNorm replaced by the identity (synflow scores the network
    without BN, as Abdelfattah et al.'s ``bn=False`` copy and FreeREA's disabled BN do)."""
    from torch import nn

    for name, child in list(module.named_children()):
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(module, name, nn.Identity())
        else:
            strip_batchnorm(child)
    return module


def pre_pool_features(module: Any, x: Any) -> Any:
    """The feature map that global pooling and the classifier read: ``forward_stages(x)[-1]``
    where the network follows that convention, else the input of the last
    ``AdaptiveAvgPool2d`` seen in a forward pass, else the output itself."""
    from torch import nn

    if hasattr(module, "forward_stages"):
        return module.forward_stages(x)[-1]
    captured: list[Any] = []
    pools = [m for m in module.modules() if isinstance(m, nn.AdaptiveAvgPool2d)]
    handles = [p.register_forward_hook(lambda _m, inp, _o: captured.append(inp[0])) for p in pools]
    try:
        out = module(x)
    finally:
        for h in handles:
            h.remove()
    if captured:
        return captured[-1]
    return out[-1] if isinstance(out, (tuple, list)) else out
