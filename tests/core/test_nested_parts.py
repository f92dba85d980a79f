"""Parts nested in other parts (a proxy objective's proxy, an ensemble's members, a predictor's
encoder, a guided strategy's sampler) are built through the run's registry, not the global one."""

from __future__ import annotations

from typing import Any

import pytest

from nasplug.core.errors import ConfigError, UnknownPluginError
from nasplug.core.interfaces.proxy import Proxy
from nasplug.core.options import part_spec, part_spec_list
from nasplug.core.registry import Registry, registry
from nasplug.core.runs import run
from nasplug.core.testing import ToySpace


class DigitSum(Proxy):
    """Sum of the digits of a toy architecture (registered on one registry only)."""

    def score(self, arch: Any, ctx: Any) -> float:
        return float(sum(int(d) for d in str(arch)))


def config(tmp_path):
    return {"kind": "search", "seed": 0, "space": "toy", "strategy": "hill-climb",
            "objective": {"name": "proxy", "proxy": "digit-sum"}, "search": {"queries": 15},
            "store": {"path": str(tmp_path / "n.db")}}


def test_a_proxy_objective_finds_its_proxy_in_the_runs_registry(tmp_path):
    from nasplug.core.testing import HillClimb

    reg = Registry()
    reg.register("space", "toy", ToySpace)
    reg.register("strategy", "hill-climb", HillClimb)
    reg.register("proxy", "digit-sum", DigitSum)
    assert "digit-sum" not in registry().names("proxy")  # only the run's registry has it
    result = run(config(tmp_path), registry=reg)
    best = result.result["best_arch"]
    assert result.result["best_value"] == sum(int(d) for d in best) > 0
    with pytest.raises(UnknownPluginError, match="unknown proxy 'digit-sum'"):
        other = Registry()
        other.register("space", "toy", ToySpace)
        other.register("strategy", "hill-climb", HillClimb)
        run(config(tmp_path / "x"), registry=other)


def test_one_set_of_part_spec_validators():
    import attrs

    from nasplug.core.options import build_config

    @attrs.frozen
    class Options:
        member: Any = attrs.field(default="a", validator=part_spec)
        members: Any = attrs.field(default=("a",), validator=part_spec_list)

    assert build_config(Options, {"member": {"name": "x", "k": 1}, "members": ["x", {"name": "y"}]}, "p").member["k"] == 1
    for bad in ({"member": 3}, {"member": {"k": 1}}, {"member": ""}, {"members": []}, {"members": ["x", {"nam": 1}]}):
        with pytest.raises(ConfigError, match=r"config key 'p\.member"):
            build_config(Options, bad, "p")
