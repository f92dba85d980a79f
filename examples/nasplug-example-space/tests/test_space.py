"""The example space against nasplug's own search-space conformance suite, plus property tests.

This is all a third party needs to test a space: subclass ``SearchSpaceConformance`` and provide a
``space`` fixture; every contract test of the suite then runs on your class.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution, entry_points

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nasplug.core.errors import ArchitectureError, ConfigError
from nasplug.core.options import build_config
from nasplug.core.testing import SearchSpaceConformance
from nasplug_example_space import StagedCNNSpace

SPACE = StagedCNNSpace()
archs = st.integers(0, 2**32 - 1).map(lambda seed: SPACE.sample(np.random.default_rng(seed)))


class TestStagedCNNConformance(SearchSpaceConformance):
    @pytest.fixture
    def space(self):
        return StagedCNNSpace(StagedCNNSpace.Config(width_multiplier=0.25))


@settings(max_examples=50, deadline=None)
@given(archs, st.integers(0, 2**32 - 1))
def test_mutate_changes_one_position(arch, seed):
    child = SPACE.mutate(arch, np.random.default_rng(seed))
    assert SPACE.distance(arch, child) == 1 and child in SPACE.neighbours(arch)


@settings(max_examples=50, deadline=None)
@given(archs, archs, archs)
def test_distance_is_a_metric(a, b, c):
    d = SPACE.distance
    assert d(a, a) == 0 and d(a, b) == d(b, a) and d(a, c) <= d(a, b) + d(b, c)
    assert (d(a, b) == 0) == (SPACE.canonical(a) == SPACE.canonical(b))


def test_string_form_and_network():
    arch = SPACE.parse("2x32k3-1x64k5-3x48k3")
    assert SPACE.canonical(arch) == "2x32k3-1x64k5-3x48k3"
    assert len(SPACE.graph(arch).ops) == 2 + 6
    with torch.no_grad():
        stages = SPACE.to_module(arch).eval().forward_stages(torch.randn(2, 3, 32, 32))
    assert [tuple(s.shape) for s in stages] == [(2, 32, 32, 32), (2, 64, 16, 16), (2, 48, 8, 8)]
    for bad in ("2x32k3-1x64k5", "2x30k3-1x64k5-3x48k3", "junk", 7):
        with pytest.raises(ArchitectureError):
            SPACE.parse(bad)
    with pytest.raises(ConfigError):
        build_config(StagedCNNSpace.Config, {"width_multiplier": 0}, "space")


def test_registered_through_its_entry_point():
    try:
        distribution("nasplug-example-space")
    except PackageNotFoundError:
        pytest.skip("nasplug-example-space is not installed (pip install it to check its entry point)")
    (ep,) = [e for e in entry_points(group="nasplug.spaces") if e.name == "staged-cnn"]
    assert ep.load() is StagedCNNSpace
    assert ep.dist.metadata["Name"] == "nasplug-example-space"
