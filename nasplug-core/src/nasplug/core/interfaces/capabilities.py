"""Optional capabilities of a search space, as ``typing.Protocol`` classes.

:class:`~nasplug.core.interfaces.space.SearchSpace` keeps a small required core (parse,
canonical, sample, mutate, neighbours, distance, size). Everything else a space may or may not
offer is a protocol checked with ``isinstance``, so a caller asks "can you?" instead of catching
``NotImplementedError``::

    if isinstance(space, Enumerable):
        pool = list(space.enumerate())

:func:`require` does the same and fails with a one-line error naming the part that needs the
capability and what to do instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Hashable, Iterator, Protocol, Sequence, runtime_checkable

from nasplug.core.errors import BenchmarkError, ConfigError

if TYPE_CHECKING:
    from nasplug.core.interfaces.benchmark import Benchmark
    from nasplug.core.interfaces.space import CellGraph


@runtime_checkable
class Enumerable(Protocol):
    """A finite space that lists every architecture once, in a fixed order."""

    def enumerate(self) -> Iterator[Hashable]: ...


@runtime_checkable
class Positional(Protocol):
    """A fixed-length string-like form: one choice index per position (NB201: six edges of five
    ops). Position-wise strategies (DSM-NAS, REINFORCE, NSGA-II) need it."""

    def position_choices(self) -> tuple[int, ...]:
        """How many choices each position has."""

    def to_positions(self, arch: Hashable) -> tuple[int, ...]:
        """``arch`` as one choice index per position (``0 <= p[i] < position_choices()[i]``)."""

    def from_positions(self, positions: Sequence[int]) -> Hashable:
        """The architecture with these choices; ``ArchitectureError`` where the combination is
        not a member (e.g. a MobileNet unit with a gap between layers)."""


@runtime_checkable
class Graphable(Protocol):
    """Architectures as DAGs with labelled nodes (``op_vocabulary``, ``max_nodes`` on the class)."""

    def graph(self, arch: Hashable) -> CellGraph: ...


@runtime_checkable
class Buildable(Protocol):
    """Architectures as ``torch.nn.Module`` networks taking NCHW images and returning logits.

    Convention for proxies that read intermediate features (Eproxy, zen, FT-ScoreNet): the module
    also has ``forward_stages(x) -> list[Tensor]``, the feature map at the end of each resolution
    stage, the last one being what global pooling and the classifier read."""

    def to_module(self, arch: Hashable, num_classes: int = 10, **options: Any) -> Any: ...


@runtime_checkable
class Benchmarked(Protocol):
    """A tabular benchmark bound to the space, read from a path or ``NASPLUG_BENCHMARKS``."""

    def load_benchmark(self, path: str | None = None) -> Benchmark: ...


@runtime_checkable
class HasSupernet(Protocol):
    """A weight-sharing supernet of the space (``torch.nn.Module``): ``decisions`` (options per
    decision), ``forward(x, path=...)`` for one architecture (one option index per decision),
    ``forward(x, weights=...)`` for per-decision option weights, ``path_of(arch)``,
    ``arch_of(path)`` and ``extract(arch)``, the space's ``to_module(arch)`` network holding the
    supernet's weights for ``arch``."""

    def supernet(self, num_classes: int = 10, **options: Any) -> Any: ...


_WHAT = {
    Enumerable: ("an enumerable (finite) space", "give a number of architectures instead"),
    Positional: ("a space with a positional form (position_choices)", "use rea, random or local_search"),
    Graphable: ("a space with a graph form", "use an encoder that needs no graph (e.g. onehot)"),
    Buildable: ("a space that builds networks (to_module)", "use a benchmark objective or a data-free proxy such as params"),
    Benchmarked: ("a space with a tabular benchmark", "use a proxy objective instead"),
    HasSupernet: ("a space with a weight-sharing supernet", "use nb201 (or another space offering supernet())"),
}


def require(space: Any, capability: type, who: str) -> Any:
    """``space`` if it offers ``capability``, else a one-line error: ``who`` needs it, the space
    lacks it, and what to do instead (``BenchmarkError`` for a missing benchmark)."""
    if isinstance(space, capability):
        return space
    what, fix = _WHAT.get(capability, (capability.__name__, "choose another space"))
    name = getattr(space, "name", None) or type(space).__name__
    error = BenchmarkError if capability is Benchmarked else ConfigError
    raise error(f"{who} needs {what}; search space '{name}' has none; {fix}")
