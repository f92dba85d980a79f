"""The core's own toy space passes the space suite (so the suite itself is exercised)."""

import pytest

from nasplug.core.testing import SearchSpaceConformance, ToySpace


class TestToySpace(SearchSpaceConformance):
    @pytest.fixture
    def space(self):
        return ToySpace()
