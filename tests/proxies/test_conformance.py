"""Built-in proxies against the core proxy conformance suite."""

import pytest

from nasplug.core.testing import ProxyConformance
from nasplug.proxies.counts import FlopsProxy, ParamsProxy


class TestParams(ProxyConformance):
    @pytest.fixture
    def proxy_cls(self):
        return ParamsProxy


class TestFlops(ProxyConformance):
    @pytest.fixture
    def proxy_cls(self):
        return FlopsProxy
