"""Eproxy and its Discrete Proxy Search space (Li et al., "Extensible and Efficient Proxy for
Neural Architecture Search", ICCV 2023)."""

from nasplug.proxies.eproxy.config_space import EproxyTuningSpace
from nasplug.proxies.eproxy.proxy import EProxy, EProxyConfig

__all__ = ["EProxy", "EProxyConfig", "EproxyTuningSpace"]
