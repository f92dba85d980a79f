"""SearchSpace: the set of architectures, their neighbourhood structure, graphs and networks."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any, ClassVar, Hashable, Iterator

import attrs
import numpy as np

from nasplug.core.interfaces.base import Part

if TYPE_CHECKING:
    from nasplug.core.interfaces.benchmark import Benchmark

Arch = Hashable


@attrs.frozen
class CellGraph:
    """A DAG in operation-on-node form: ``adjacency[i, j] = 1`` for an edge i -> j (upper
    triangular), ``ops[i]`` the label of node i, taken from the space's ``op_vocabulary``."""

    adjacency: np.ndarray = attrs.field(eq=attrs.cmp_using(eq=np.array_equal))
    ops: tuple[str, ...]


class SearchSpace(Part, abc.ABC):
    """A set of architectures with sampling, local moves, a metric, graphs and networks.

    Architectures are hashable values chosen by the space; the core never looks inside them. It
    stores ``canonical(arch)`` (a string; isomorphic architectures share one) and rebuilds an
    architecture with ``parse``. Every method that draws randomness takes a ``numpy`` Generator,
    so results depend on the seed alone.
    """

    group: ClassVar[str] = "nasplug.spaces"
    #: Labels of graph nodes, fixed order; encoders build one-hot features over it.
    op_vocabulary: ClassVar[tuple[str, ...]] = ()
    #: The largest number of nodes ``graph`` returns (encoders pad to it).
    max_nodes: ClassVar[int] = 0

    # --- membership -----------------------------------------------------------------------
    @abc.abstractmethod
    def parse(self, text: str) -> Arch:
        """The architecture written as ``text``; ``ArchitectureError`` if it is not in the space."""

    @abc.abstractmethod
    def canonical(self, arch: Arch) -> str:
        """A stable string id; ``parse(canonical(a))`` is equivalent to ``a``."""

    def contains(self, arch: Arch) -> bool:
        """Whether ``arch`` is a member of the space."""
        try:
            self.parse(self.canonical(arch))
        except Exception:
            return False
        return True

    # --- sampling and moves ---------------------------------------------------------------
    @abc.abstractmethod
    def sample(self, rng: np.random.Generator) -> Arch:
        """One architecture drawn uniformly at random (or by the space's documented prior)."""

    @abc.abstractmethod
    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        """A random neighbour of ``arch``: a different architecture at distance 1 where possible."""

    @abc.abstractmethod
    def neighbours(self, arch: Arch) -> list[Arch]:
        """All architectures one elementary change away from ``arch``, in a fixed order."""

    @abc.abstractmethod
    def distance(self, a: Arch, b: Arch) -> float:
        """A metric on the space (e.g. Hamming distance over positions)."""

    def size(self) -> int | None:
        """The number of architectures, or ``None`` where the space is infinite or unknown."""
        return None

    def enumerate(self) -> Iterator[Arch]:
        """Every architecture once, in a fixed order (finite spaces only)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be enumerated")

    def sample_many(self, n: int, rng: np.random.Generator, *, unique: bool = True) -> list[Arch]:
        """``n`` sampled architectures, distinct by canonical id when ``unique``."""
        out: list[Arch] = []
        seen: set[str] = set()
        limit = self.size()
        if unique and limit is not None and n > limit:
            from nasplug.core.errors import BudgetError
            raise BudgetError(f"asked for {n} distinct architectures but the space has only {limit}; lower the number")
        while len(out) < n:
            arch = self.sample(rng)
            key = self.canonical(arch)
            if unique and key in seen:
                continue
            seen.add(key)
            out.append(arch)
        return out

    # --- positional (string-like) form ------------------------------------------------------
    def position_choices(self) -> tuple[int, ...]:
        """How many choices each position of the string-like encoding has (NB201: six 5s).

        Spaces with a fixed-length string form implement ``position_choices``, ``to_positions``
        and ``from_positions``; position-wise strategies (DSM-NAS, REINFORCE, NSGA-II) use them.
        """
        raise NotImplementedError(f"{type(self).__name__} has no positional form")

    def to_positions(self, arch: Arch) -> tuple[int, ...]:
        """``arch`` as one choice index per position (``0 <= p[i] < position_choices()[i]``)."""
        raise NotImplementedError(f"{type(self).__name__} has no positional form")

    def from_positions(self, positions: tuple[int, ...]) -> Arch:
        """The architecture with these choices; ``ArchitectureError`` where the combination is
        not a member (e.g. a MobileNet unit with a gap between layers)."""
        raise NotImplementedError(f"{type(self).__name__} has no positional form")

    # --- graphs and networks --------------------------------------------------------------
    def graph(self, arch: Arch) -> CellGraph:
        """The architecture as a DAG with labelled nodes (cell spaces; sequences as chains)."""
        raise NotImplementedError(f"{type(self).__name__} has no graph form")

    def to_graph(self, arch: Arch) -> Any:
        """A ``torch_geometric.data.Data`` with one-hot node features ``x`` over
        ``op_vocabulary`` and ``edge_index`` from ``graph(arch)``."""
        import torch
        from torch_geometric.data import Data  # heavy: imported only when graphs are needed

        g = self.graph(arch)
        index = {op: i for i, op in enumerate(self.op_vocabulary)}
        x = torch.zeros(len(g.ops), len(self.op_vocabulary))
        for node, op in enumerate(g.ops):
            x[node, index[op]] = 1.0
        src, dst = np.nonzero(g.adjacency)
        edge_index = torch.as_tensor(np.stack([src, dst]), dtype=torch.long)
        return Data(x=x, edge_index=edge_index, num_nodes=len(g.ops))

    def to_module(self, arch: Arch, num_classes: int = 10, **options: Any) -> Any:
        """The architecture as a ``torch.nn.Module`` taking NCHW images and returning logits.

        Convention for proxies that read intermediate features (Eproxy, zen, FT-ScoreNet): the
        module also has ``forward_stages(x) -> list[Tensor]``, the NCHW feature map at the end
        of each resolution stage, the last one being what global pooling + classifier read.
        """
        raise NotImplementedError(f"{type(self).__name__} does not build networks")

    # --- benchmark ------------------------------------------------------------------------
    def load_benchmark(self, path: str | None = None) -> "Benchmark":
        """The tabular benchmark bound to this space, read from ``path`` or ``NASPLUG_BENCHMARKS``."""
        from nasplug.core.errors import BenchmarkError
        raise BenchmarkError(f"search space '{type(self).__name__}' has no tabular benchmark; use a proxy objective instead")

