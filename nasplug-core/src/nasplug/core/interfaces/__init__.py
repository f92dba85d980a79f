"""The interfaces every nasplug part implements (one module per kind).

Each part is a class with a nested, frozen ``attrs`` class ``Config`` holding its options with the
papers' defaults; the registry builds ``Config`` from a TOML table and passes it to the part.
"""

from nasplug.core.interfaces.base import Part
from nasplug.core.interfaces.benchmark import Benchmark
from nasplug.core.interfaces.encoder import Encoder
from nasplug.core.interfaces.executor import Executor, TaskError, TaskFailed
from nasplug.core.interfaces.objective import Evaluation, Objective
from nasplug.core.interfaces.predictor import Predictor
from nasplug.core.interfaces.proxy import Proxy, ProxyContext
from nasplug.core.interfaces.sampler import Sampler, SelectionContext
from nasplug.core.interfaces.space import CellGraph, SearchSpace
from nasplug.core.interfaces.strategy import Strategy, Told

__all__ = [
    "Part", "Benchmark", "Encoder", "Executor", "Evaluation", "Objective", "Predictor", "Proxy",
    "ProxyContext", "Sampler", "SelectionContext", "CellGraph", "SearchSpace", "Strategy", "TaskError", "TaskFailed",
    "Told",
]
