"""NAS-Bench-201 against the core's search-space conformance suite."""

import pytest

from nasplug.core.testing import SearchSpaceConformance
from nasplug.spaces.nb201 import NB201Space


class TestNB201Conformance(SearchSpaceConformance):
    @pytest.fixture
    def space(self):
        return NB201Space()
