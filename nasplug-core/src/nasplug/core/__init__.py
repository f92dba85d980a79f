"""nasplug core: the interfaces, registries, runner and store that every nasplug plugin builds on.

The core knows nothing of any particular plugin: search spaces, encoders, predictors, samplers,
proxies, strategies, objectives and executors are all found through entry points (see
:mod:`nasplug.core.registry`) or registered from code through the pluggy hook
``nasplug_register_parts`` (see :mod:`nasplug.core.hookspecs`).
"""

from nasplug.core.errors import NasplugError

__version__ = "0.1.0"

__all__ = ["NasplugError", "__version__"]
