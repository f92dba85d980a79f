"""SearchSpace: the set of architectures, their neighbourhood structure, graphs and networks."""

from __future__ import annotations

import abc
from typing import ClassVar, Hashable, Sequence

import attrs
import numpy as np

from nasplug.core.interfaces.base import Part

Arch = Hashable

#: The graph key of an architecture whose output does not depend on its input (no path from the
#: input to the output); such networks all compute a constant and predict at chance level.
DISCONNECTED = "disconnected"


@attrs.frozen
class CellGraph:
    """A DAG in operation-on-node form: ``adjacency[i, j] = 1`` for an edge i -> j (upper
    triangular), ``ops[i]`` the label of node i, taken from the space's ``op_vocabulary``."""

    adjacency: np.ndarray = attrs.field(eq=attrs.cmp_using(eq=np.array_equal))
    ops: tuple[str, ...]


class SearchSpace(Part, abc.ABC):
    """A set of architectures with sampling, local moves and a metric.

    Architectures are hashable values chosen by the space; the core never looks inside them. It
    stores ``canonical(arch)`` (a string; isomorphic architectures share one) and rebuilds an
    architecture with ``parse``. Every method that draws randomness takes a ``numpy`` Generator,
    so results depend on the seed alone.

    This is the required core. What a space may also offer (``enumerate``, a positional form,
    ``graph``, ``to_module``, ``load_benchmark``) is a protocol of
    :mod:`nasplug.core.interfaces.capabilities`, checked with ``isinstance``; fixed-length
    positional spaces can derive from :class:`PositionalSpace`.
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

    def graph_key(self, arch: Arch) -> str:
        """An id shared by architectures that are the same network: the same function of the
        input up to the names of their weights (isomorphic cells, edges that reach no output).
        Samplers label one architecture per key, and ``search.dedupe = "graph"`` evaluates one.
        :data:`DISCONNECTED` marks a network that ignores its input. The default is the
        canonical id, exact wherever ``canonical`` already merges isomorphic architectures."""
        return self.canonical(arch)

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




class PositionalSpace(SearchSpace):
    """Base of fixed-length positional spaces (one choice index per position): ``neighbours``
    (every single-position change, position by position, choices in index order, skipping
    combinations that are not members) and ``distance`` (Hamming over positions) come from
    ``position_choices``, ``to_positions`` and ``from_positions``, which subclasses define."""

    @abc.abstractmethod
    def position_choices(self) -> tuple[int, ...]:
        """How many choices each position has."""

    @abc.abstractmethod
    def to_positions(self, arch: Arch) -> tuple[int, ...]:
        """``arch`` as one choice index per position."""

    @abc.abstractmethod
    def from_positions(self, positions: Sequence[int]) -> Arch:
        """The architecture with these choices; ``ArchitectureError`` for a non-member."""

    def neighbours(self, arch: Arch) -> list[Arch]:
        from nasplug.core.errors import ArchitectureError

        base = self.to_positions(arch)
        out = []
        for k, choices in enumerate(self.position_choices()):
            for c in range(choices):
                if c != base[k]:
                    try:
                        out.append(self.from_positions(base[:k] + (c,) + base[k + 1:]))
                    except ArchitectureError:
                        continue
        return out

    def distance(self, a: Arch, b: Arch) -> float:
        """Hamming distance: the positions whose choices differ."""
        return float(sum(x != y for x, y in zip(self.to_positions(a), self.to_positions(b))))
