"""The Zen-NAS ResNet-like search space as a nasplug plugin (entry point ``zen_resnet``).

Membership: a well-formed structure string (see :mod:`.structure`) whose network satisfies the
space's budget: Zen-NAS model size <= ``max_params`` (1M, counted with a ``budget_classes``-way
classifier, 100 as in Zen-NAS's CIFAR runs) and at most ``max_layers`` layers (18, Zen-NAS's
CIFAR setting and the FT-ScoreNet paper's; its code uses 16). Either limit can be switched off
with ``None``.

* ``sample``: the FT-ScoreNet search's initialisation prior (docs/methods/ftscorenet.md 1.6): 6 SuperRes blocks,
  type, kernel and strides uniform, widths uniform in 48..320, bottlenecks in 32..80, 1 or 2
  sub-layers, the stem and output widths in 48..320; draws outside the budget are rejected.
* ``mutate``: Zen-NAS's move (``search_space_XXBL.gen_search_space``): pick one block uniformly
  and replace it by a random candidate: conv layers change width by a factor in
  {2.5, 2, 1.5, 1.25, 1/1.25, 1/1.5, 1/2, 1/2.5}; SuperRes blocks draw a type x kernel in the 6
  block kinds, width and bottleneck by those factors (rounded to 8) and sub-layers within ±2;
  strides are kept. Candidates outside the budget are redrawn.
* ``neighbours``: the single-field changes, block by block in order: stem width ±8, stem stride
  flip; for each SuperRes block type flip, each other kernel, width ±8, stride flip, bottleneck
  ±8, sub-layers ±1; output width ±8, output stride flip — those inside the budget.
* ``distance``: L1 distance between per-field embeddings (blocks aligned by position): a
  categorical field (type, kernel, stride) costs 1 when it differs, widths count steps of 8,
  sub-layers count 1 each, and a block present in one network only costs 1 + 1.5 + its width,
  bottleneck and sub-layer terms. An injective embedding, so a metric.
* ``graph``: a chain input -> stem -> blocks (labelled by kind and kernel) -> output layer -> output.
* Genes (for the NSGA-II/DE search): the 40-gene template of the FT-ScoreNet code — stem (width,
  stride), 6 x (type, kernel, width, stride, bottleneck, sub-layers), output (width, stride).
"""

from __future__ import annotations

from typing import Any, ClassVar, Hashable, Sequence

import attrs
import numpy as np

from nasplug.core.errors import ArchitectureError
from nasplug.core.interfaces.space import CellGraph, SearchSpace
from nasplug.core.options import optional_positive_int, positive_int
from nasplug.spaces.zen_resnet.structure import (
    BLOCK_TYPES, CHANNEL_STEP, KERNELS, MAX_BLOCKS, MAX_BOTTLENECK, MAX_OUT, MAX_SUB_LAYERS, STRIDES,
    ResBlock, ZenArch, gene_model_size, model_size, num_layers, parse_string, to_string,
)

#: Width factors of a Zen-NAS mutation.
SCALES = (2.5, 2.0, 1.5, 1.25, 1.0, 1 / 1.25, 1 / 1.5, 1 / 2, 1 / 2.5)
#: Gene kinds of the 40-gene template, in order.
GENE_KINDS: tuple[str, ...] = ("channels", "stride") + ("type", "kernel", "channels", "stride", "bottleneck", "sub_layers") * MAX_BLOCKS + ("channels", "stride")
#: The values each gene kind takes (ordered kinds: channels, bottleneck, sub_layers).
GENE_VALUES: dict[str, tuple[int, ...]] = {
    "channels": tuple(range(CHANNEL_STEP, MAX_OUT + 1, CHANNEL_STEP)),
    "bottleneck": tuple(range(CHANNEL_STEP, MAX_BOTTLENECK + 1, CHANNEL_STEP)),
    "sub_layers": tuple(range(1, MAX_SUB_LAYERS + 1)),
    "type": (0, 1),
    "kernel": KERNELS,
    "stride": STRIDES,
}
ORDERED_GENES = frozenset({"channels", "bottleneck", "sub_layers"})
_GENE_INDEX = {kind: {v: i for i, v in enumerate(values)} for kind, values in GENE_VALUES.items()}
_INIT_CHANNELS = GENE_VALUES["channels"][5:40]      # 48..320
_INIT_BOTTLENECK = GENE_VALUES["channels"][3:10]    # 32..80


@attrs.frozen
class ZenResNetConfig:
    """``max_params``: Zen-NAS model-size budget (None: unlimited); ``max_layers``: layer budget;
    ``budget_classes``: classifier width the budget counts; ``sample_tries``: rejection-sampling
    attempts before giving up."""

    max_params: int | None = attrs.field(default=1_000_000, validator=optional_positive_int)
    max_layers: int | None = attrs.field(default=18, validator=optional_positive_int)
    budget_classes: int = attrs.field(default=100, validator=positive_int)
    sample_tries: int = attrs.field(default=10_000, validator=positive_int)


def _round8(x: float, high: int) -> int:
    return int(min(high, max(CHANNEL_STEP, round(x / CHANNEL_STEP) * CHANNEL_STEP)))


def scaled_widths(width: int, high: int) -> list[int]:
    """Zen-NAS's candidate widths for ``width``: the scale factors, rounded to 8, within 8..high."""
    return sorted({_round8(width * s, high) for s in SCALES})


class ZenResNetSpace(SearchSpace):
    """Zen-NAS ResNet-like space: stem, 1-6 SuperRes blocks, output layer, under a parameter budget."""

    Config: ClassVar[type] = ZenResNetConfig
    op_vocabulary: ClassVar[tuple[str, ...]] = (
        "input", "output", "conv3x3", "conv1x1",
        *(f"k1k{k}k1" for k in KERNELS), *(f"k{k}k{k}" for k in KERNELS))
    max_nodes: ClassVar[int] = MAX_BLOCKS + 4

    # --- membership -----------------------------------------------------------------------
    def _as_arch(self, value: Any) -> ZenArch:
        if isinstance(value, ZenArch):
            return value
        return parse_string(value)

    def violation(self, arch: ZenArch) -> str | None:
        """Why ``arch`` is outside the budget, or ``None`` when it fits."""
        c = self.config
        if c.max_layers is not None and num_layers(arch) > c.max_layers:
            return f"{num_layers(arch)} layers exceed max_layers={c.max_layers}"
        if c.max_params is not None:
            size = model_size(arch, c.budget_classes)
            if size > c.max_params:
                return f"model size {size} exceeds max_params={c.max_params}"
        return None

    def feasible(self, arch: ZenArch) -> bool:
        return self.violation(arch) is None

    def parse(self, text: Any) -> ZenArch:
        """The architecture written as a Zen-NAS structure string (or a :class:`ZenArch`)."""
        arch = self._as_arch(text)
        problem = self.violation(arch)
        if problem is not None:
            raise ArchitectureError(f"architecture outside the zen_resnet budget: {problem}; "
                                    "shrink it or raise the space's max_params / max_layers")
        return arch

    def canonical(self, arch: Hashable) -> str:
        return to_string(self.parse(arch))

    def model_size(self, arch: Hashable) -> int:
        """Zen-NAS model size with the ``budget_classes`` classifier (what the budget limits)."""
        return model_size(self._as_arch(arch), self.config.budget_classes)

    def num_layers(self, arch: Hashable) -> int:
        return num_layers(self._as_arch(arch))

    # --- sampling and moves ---------------------------------------------------------------
    def _draw(self, rng: np.random.Generator) -> ZenArch | None:
        """One draw of the initialisation prior as genes, or ``None`` when outside the budget
        (checked on plain integers first: most draws are rejected)."""
        sizes = [len(_INIT_CHANNELS), len(STRIDES)]
        sizes += [len(BLOCK_TYPES), len(KERNELS), len(_INIT_CHANNELS), len(STRIDES), len(_INIT_BOTTLENECK), 2] * MAX_BLOCKS
        sizes += [len(_INIT_CHANNELS), len(STRIDES)]
        idx = (rng.random(len(sizes)) * np.asarray(sizes)).astype(int)
        choices = {"channels": _INIT_CHANNELS, "stride": STRIDES, "type": (0, 1), "kernel": KERNELS,
                   "bottleneck": _INIT_BOTTLENECK, "sub_layers": (1, 2)}
        genes = [choices[kind][i] for kind, i in zip(GENE_KINDS, idx)]
        c = self.config
        if c.max_params is not None and gene_model_size(genes, c.budget_classes) > c.max_params:
            return None
        arch = self.from_genes(genes)
        return arch if self.feasible(arch) else None

    def sample(self, rng: np.random.Generator) -> ZenArch:
        """A draw from the FT-ScoreNet initialisation prior, rejected until inside the budget."""
        for _ in range(self.config.sample_tries):
            arch = self._draw(rng)
            if arch is not None:
                return arch
        raise ArchitectureError(f"no architecture inside the zen_resnet budget in {self.config.sample_tries} draws; "
                                "raise max_params / max_layers")

    def _replace_block(self, arch: ZenArch, index: int, rng: np.random.Generator) -> ZenArch:
        pick = lambda seq: seq[int(rng.integers(len(seq)))]  # noqa: E731
        last = len(arch.blocks) + 1
        if index == 0:
            return attrs.evolve(arch, stem_out=pick(scaled_widths(arch.stem_out, MAX_OUT)))
        if index == last:
            return attrs.evolve(arch, head_out=pick(scaled_widths(arch.head_out, MAX_OUT)))
        b = arch.blocks[index - 1]
        subs = sorted({n for n in range(b.sub_layers - 2, b.sub_layers + 3) if 1 <= n <= MAX_SUB_LAYERS})
        new = ResBlock(pick(BLOCK_TYPES), pick(KERNELS), pick(scaled_widths(b.out, MAX_OUT)), b.stride,
                       pick(scaled_widths(b.bottleneck, MAX_BOTTLENECK)), pick(subs))
        blocks = arch.blocks[:index - 1] + (new,) + arch.blocks[index:]
        return attrs.evolve(arch, blocks=blocks)

    def mutate(self, arch: Hashable, rng: np.random.Generator) -> ZenArch:
        """Zen-NAS's move: one block replaced by a random candidate, inside the budget."""
        base = self.parse(arch)
        for _ in range(200):
            index = int(rng.integers(len(base.blocks) + 2))
            child = self._replace_block(base, index, rng)
            if child != base and self.feasible(child):
                return child
        options = self.neighbours(base)
        if not options:
            raise ArchitectureError(f"{to_string(base)} has no neighbour inside the budget")
        return options[int(rng.integers(len(options)))]

    def _field_changes(self, arch: ZenArch) -> list[ZenArch]:
        out: list[ZenArch] = []
        flip = {1: 2, 2: 1}

        def width(c: int, d: int, high: int) -> int | None:
            return c + d if CHANNEL_STEP <= c + d <= high else None

        for d in (-CHANNEL_STEP, CHANNEL_STEP):
            if (w := width(arch.stem_out, d, MAX_OUT)) is not None:
                out.append(attrs.evolve(arch, stem_out=w))
        out.append(attrs.evolve(arch, stem_stride=flip[arch.stem_stride]))
        for i, b in enumerate(arch.blocks):
            variants = [attrs.evolve(b, kind=BLOCK_TYPES[1 - BLOCK_TYPES.index(b.kind)])]
            variants += [attrs.evolve(b, kernel=k) for k in KERNELS if k != b.kernel]
            variants += [attrs.evolve(b, out=w) for d in (-CHANNEL_STEP, CHANNEL_STEP)
                         if (w := width(b.out, d, MAX_OUT)) is not None]
            variants.append(attrs.evolve(b, stride=flip[b.stride]))
            variants += [attrs.evolve(b, bottleneck=w) for d in (-CHANNEL_STEP, CHANNEL_STEP)
                         if (w := width(b.bottleneck, d, MAX_BOTTLENECK)) is not None]
            variants += [attrs.evolve(b, sub_layers=n) for n in (b.sub_layers - 1, b.sub_layers + 1)
                         if 1 <= n <= MAX_SUB_LAYERS]
            out += [attrs.evolve(arch, blocks=arch.blocks[:i] + (v,) + arch.blocks[i + 1:]) for v in variants]
        for d in (-CHANNEL_STEP, CHANNEL_STEP):
            if (w := width(arch.head_out, d, MAX_OUT)) is not None:
                out.append(attrs.evolve(arch, head_out=w))
        out.append(attrs.evolve(arch, head_stride=flip[arch.head_stride]))
        return out

    def neighbours(self, arch: Hashable) -> list[ZenArch]:
        """The single-field changes of ``arch`` (module docstring) that stay inside the budget."""
        return [a for a in self._field_changes(self.parse(arch)) if self.feasible(a)]

    @staticmethod
    def _embed(arch: ZenArch) -> np.ndarray:
        def onehot(value: Any, choices: Sequence[Any]) -> list[float]:
            return [0.5 if value == c else 0.0 for c in choices]

        rows = [[1.0, *onehot(arch.stem_stride, STRIDES), arch.stem_out / CHANNEL_STEP]]
        for i in range(MAX_BLOCKS):
            if i < len(arch.blocks):
                b = arch.blocks[i]
                rows.append([1.0, *onehot(b.kind, BLOCK_TYPES), *onehot(b.kernel, KERNELS), *onehot(b.stride, STRIDES),
                             b.out / CHANNEL_STEP, b.bottleneck / CHANNEL_STEP, float(b.sub_layers)])
            else:
                rows.append([0.0] * 11)
        rows.append([1.0, *onehot(arch.head_stride, STRIDES), arch.head_out / CHANNEL_STEP])
        return np.concatenate([np.asarray(r, dtype=float) for r in rows])

    def distance(self, a: Hashable, b: Hashable) -> float:
        """L1 distance of the per-field embeddings (see the module docstring)."""
        return float(np.abs(self._embed(self._as_arch(a)) - self._embed(self._as_arch(b))).sum())

    # --- graphs and networks --------------------------------------------------------------
    def graph(self, arch: Hashable) -> CellGraph:
        """A chain: input, stem, the SuperRes blocks by kind and kernel, output layer, output."""
        a = self._as_arch(arch)
        ops = ["input", "conv3x3"]
        ops += [f"k1k{b.kernel}k1" if b.kind == "K1KXK1" else f"k{b.kernel}k{b.kernel}" for b in a.blocks]
        ops += ["conv1x1", "output"]
        n = len(ops)
        adjacency = np.zeros((n, n), dtype=np.int8)
        adjacency[np.arange(n - 1), np.arange(1, n)] = 1
        return CellGraph(adjacency=adjacency, ops=tuple(ops))

    def to_module(self, arch: Hashable, num_classes: int = 10, **options: Any) -> Any:
        """The network (see :mod:`.network`); it has ``forward_stages``. Takes no options."""
        from nasplug.core.errors import ConfigError
        from nasplug.spaces.zen_resnet.network import ZenResNet

        if options:
            raise ConfigError(f"to_module option '{sorted(options)[0]}' is not known to zen_resnet; it takes none")
        return ZenResNet(self._as_arch(arch), num_classes=num_classes)

    # --- positional form: the 40-gene template of FT-ScoreNet's NSGA-II search -------------
    def position_choices(self) -> tuple[int, ...]:
        """How many values each of the 40 genes takes (see :data:`GENE_VALUES`)."""
        return tuple(len(GENE_VALUES[kind]) for kind in GENE_KINDS)

    def position_values(self) -> tuple[tuple[int, ...], ...]:
        """The value grid of each gene; ordered genes are arithmetic grids (step 8 or 1)."""
        return tuple(GENE_VALUES[kind] for kind in GENE_KINDS)

    def ordered_positions(self) -> tuple[bool, ...]:
        """Which genes are ordered numbers (widths, bottlenecks, sub-layers) rather than categories."""
        return tuple(kind in ORDERED_GENES for kind in GENE_KINDS)

    def to_positions(self, arch: Hashable) -> tuple[int, ...]:
        """The value index of each gene of a 6-block architecture."""
        return tuple(_GENE_INDEX[kind][v] for kind, v in zip(GENE_KINDS, self.to_genes(arch)))

    def _genes_at(self, positions: Sequence[int]) -> list[int]:
        p = [int(v) for v in positions]
        if len(p) != len(GENE_KINDS) or any(not 0 <= v < len(GENE_VALUES[k]) for v, k in zip(p, GENE_KINDS)):
            raise ArchitectureError(f"zen_resnet positions must be {len(GENE_KINDS)} value indices of the gene template, got {tuple(p)!r}")
        return [GENE_VALUES[kind][v] for kind, v in zip(GENE_KINDS, p)]

    def from_positions(self, positions: Sequence[int]) -> ZenArch:
        """The architecture of these gene values; ``ArchitectureError`` outside the budget."""
        return self.parse(self.from_genes(self._genes_at(positions)))

    def penalty(self, positions: Sequence[int]) -> float:
        """How far a gene vector outside the budget is: its model size (FT-ScoreNet's search
        gives such an individual the objectives ``(-size, -size)``)."""
        return float(model_size(self.from_genes(self._genes_at(positions)), self.config.budget_classes))

    # --- genes (the FT-ScoreNet NSGA-II template) ------------------------------------------
    def to_genes(self, arch: Hashable) -> tuple[int, ...]:
        """The 40 genes of a 6-block architecture (type: 0 = K1KXK1, 1 = KXKX)."""
        a = self._as_arch(arch)
        if len(a.blocks) != MAX_BLOCKS:
            raise ArchitectureError(f"the gene template needs {MAX_BLOCKS} SuperRes blocks, {to_string(a)} has {len(a.blocks)}")
        genes = [a.stem_out, a.stem_stride]
        for b in a.blocks:
            genes += [BLOCK_TYPES.index(b.kind), b.kernel, b.out, b.stride, b.bottleneck, b.sub_layers]
        return tuple(genes + [a.head_out, a.head_stride])

    def from_genes(self, genes: Sequence[int]) -> ZenArch:
        """The architecture of 40 genes (budget not checked: see :meth:`violation`)."""
        g = [int(v) for v in genes]
        if len(g) != len(GENE_KINDS):
            raise ArchitectureError(f"expected {len(GENE_KINDS)} genes, got {len(g)}")
        for i, (kind, v) in enumerate(zip(GENE_KINDS, g)):
            if v not in GENE_VALUES[kind]:
                raise ArchitectureError(f"gene {i} ({kind}) = {v} is not one of the allowed values")
        blocks = tuple(ResBlock(BLOCK_TYPES[g[i]], g[i + 1], g[i + 2], g[i + 3], g[i + 4], g[i + 5])
                       for i in range(2, 2 + 6 * MAX_BLOCKS, 6))
        return ZenArch(g[0], g[1], blocks, g[-2], g[-1])
