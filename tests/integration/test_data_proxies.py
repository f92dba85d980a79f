"""Proxies that need images get the [data] batch; without one the run fails with a one-line fix."""

import numpy as np
import pytest
import torch

from nasplug.core.errors import ConfigError
from nasplug.core.interfaces import Proxy
from nasplug.core.registry import Registry
from nasplug.core.runs import run
from nasplug.core.store import Store


class OutputNorm(Proxy):
    """Mean absolute logit on the batch at initialisation (test proxy that needs data)."""

    needs_data = True

    def score(self, arch, ctx):
        torch.manual_seed(ctx.seed)
        x, y = ctx.batch
        assert x.shape[1:] == (3, 32, 32) and x.dtype == torch.float32 and len(y) == len(x)
        with torch.no_grad():
            out = self.space.to_module(arch, num_classes=ctx.num_classes)(x)
        assert out.shape == (len(x), ctx.num_classes)
        return float(out.abs().mean())


@pytest.fixture
def reg():
    r = Registry()
    r.register("proxy", "output-norm", OutputNorm)
    return r


def config(tmp_path, benchmarks, data=True):
    cfg = {"kind": "score", "seed": 2, "space": "nb201", "proxy": "output-norm", "score": {"archs": 4},
           "store": {"path": str(tmp_path / "d.db")}}
    if data:
        cfg["data"] = {"path": str(benchmarks / "images" / "cifar100_test_20.npz"), "batch_size": 8, "num_classes": 100}
    return cfg


def test_score_run_with_an_image_batch(tmp_path, benchmarks, reg):
    first = run(config(tmp_path, benchmarks), registry=reg)
    again = run(config(tmp_path, benchmarks), registry=reg)
    with Store(tmp_path / "d.db") as store:
        a = [e.value for e in store.evaluations(first.id)]
        b = [e.value for e in store.evaluations(again.id)]
    assert len(a) == 4 and np.all(np.isfinite(a)) and a == b


def test_missing_data_names_the_fix(tmp_path, benchmarks, reg):
    with pytest.raises(ConfigError, match=r"needs images; add \[data\] path"):
        run(config(tmp_path, benchmarks, data=False), registry=reg)
    bad = config(tmp_path, benchmarks)
    bad["data"]["path"] = str(tmp_path / "nope.npz")
    with pytest.raises(ConfigError, match="not found"):
        run(bad, registry=reg)
    assert not (tmp_path / "d.db").exists()
