"""DARTS genotypes: the architecture type, its canonical form and the text forms it is read from.

A DARTS cell has two inputs (nodes 0 and 1: the outputs of the two previous cells) and 4
intermediate nodes 2..5; node ``j`` sums two operations applied to two *different* earlier nodes,
and the cell output concatenates nodes 2..5. A genotype lists, for the normal and then the
reduction cell, 8 ``(op, input)`` pairs, two per intermediate node, e.g. DARTS-V2:

    Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ...],
             normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ...], reduce_concat=[2, 3, 4, 5])

The two inputs of a node are an unordered pair (the node sums them), so the canonical form lists
each node's pairs by ascending input. Distinct inputs are required, as in genotypes derived by
DARTS (top-2 edges of a node) and in NAS-Bench-301's configuration space.

Operations: NAS-Bench-301 (and every derived DARTS genotype) uses the 7 ops of :data:`OPS`;
``none`` is one of DARTS' 8 supernet primitives but never selected into a genotype, so it is only
accepted when the space is configured with ``include_none = true``.

Text forms read by :func:`parse_genotype`: the notation above (``normal_concat=range(2, 6)`` too),
and NAS-Bench-301/NASLib's *compact* form ``[[(input, op_index) x 8], [(input, op_index) x 8]]``
with ``op_index`` into :data:`OPS`.
"""

from __future__ import annotations

import ast
import itertools
from typing import Any, NamedTuple, Sequence

from nasplug.core.errors import ArchitectureError

#: The 7 genotype operations, in NASLib's compact-index order (DARTS' PRIMITIVES without "none").
OPS: tuple[str, ...] = ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3",
                        "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")
NONE = "none"
#: DARTS' 8 primitives (the supernet's candidate set).
PRIMITIVES: tuple[str, ...] = (NONE, *OPS)
NODES = 4
EDGES_PER_CELL = 2 * NODES
CONCAT = (2, 3, 4, 5)
CELLS = ("normal", "reduce")
FORMAT = "Genotype(normal=[('op', input) x 8], normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=[2, 3, 4, 5])"

Edge = tuple[str, int]
CellGenes = tuple[Edge, ...]


class DartsArch(NamedTuple):
    """A DARTS genotype in canonical form: 8 ``(op, input)`` pairs per cell, node by node, the two
    pairs of a node by ascending input. Concatenation is always nodes 2..5."""

    normal: CellGenes
    reduce: CellGenes


def _fail(problem: str) -> ArchitectureError:
    return ArchitectureError(f"not a DARTS genotype: {problem}; expected {FORMAT} with ops from "
                             f"{', '.join(OPS)} and two different earlier nodes per node")


def check_cell(genes: Any, name: str, ops: Sequence[str]) -> CellGenes:
    """One cell's 8 pairs, validated and canonically ordered."""
    if isinstance(genes, (str, bytes)) or not isinstance(genes, Sequence):
        raise _fail(f"the {name} cell must be a list of 8 (op, input) pairs, got {type(genes).__name__}")
    if len(genes) != EDGES_PER_CELL:
        raise _fail(f"the {name} cell has {len(genes)} pairs instead of {EDGES_PER_CELL}")
    out: list[Edge] = []
    for node in range(NODES):
        pair = []
        for slot in (2 * node, 2 * node + 1):
            gene = genes[slot]
            if not isinstance(gene, Sequence) or isinstance(gene, str) or len(gene) != 2:
                raise _fail(f"{name} pair {slot} is {gene!r}, not (op, input)")
            op, source = gene
            if not isinstance(op, str) or op not in ops:
                hint = " (enable it with include_none = true)" if op == NONE else ""
                raise _fail(f"unknown op {op!r} in {name} pair {slot}{hint}")
            if isinstance(source, bool) or not isinstance(source, int) or not 0 <= source < node + 2:
                raise _fail(f"{name} node {node + 2} reads {source!r}; it can read nodes 0..{node + 1}")
            pair.append((op, int(source)))
        if pair[0][1] == pair[1][1]:
            raise _fail(f"{name} node {node + 2} reads node {pair[0][1]} twice")
        out.extend(sorted(pair, key=lambda edge: edge[1]))
    return tuple(out)


def make_arch(normal: Any, reduce: Any, ops: Sequence[str] = OPS,
              normal_concat: Any = CONCAT, reduce_concat: Any = CONCAT) -> DartsArch:
    """A canonical genotype from its parts (``ArchitectureError`` naming the first problem)."""
    for name, concat in (("normal_concat", normal_concat), ("reduce_concat", reduce_concat)):
        try:
            values = tuple(int(c) for c in concat)
        except (TypeError, ValueError):
            raise _fail(f"{name} is {concat!r}") from None
        if values != CONCAT:
            raise _fail(f"{name} must be [2, 3, 4, 5] (every intermediate node), got {list(values)}")
    return DartsArch(check_cell(normal, "normal", ops), check_cell(reduce, "reduce", ops))


def genotype_str(arch: DartsArch) -> str:
    """The genotype in DARTS notation (its canonical id)."""
    def cell(genes: CellGenes) -> str:
        return "[" + ", ".join(f"('{op}', {i})" for op, i in genes) + "]"

    return (f"Genotype(normal={cell(arch.normal)}, normal_concat=[2, 3, 4, 5], "
            f"reduce={cell(arch.reduce)}, reduce_concat=[2, 3, 4, 5])")


def compact(arch: DartsArch) -> tuple[tuple[tuple[int, int], ...], ...]:
    """NAS-Bench-301/NASLib's compact form: per cell, 8 ``(input, op_index)`` pairs."""
    try:
        return tuple(tuple((i, OPS.index(op)) for op, i in genes) for genes in arch)
    except ValueError:
        raise _fail("'none' has no index in the compact form") from None


def from_compact(value: Any, ops: Sequence[str] = OPS) -> DartsArch:
    """A canonical genotype from the compact form (two lists of 8 ``(input, op_index)``)."""
    if not isinstance(value, Sequence) or len(value) != 2:
        raise _fail("the compact form is two lists of 8 (input, op_index) pairs")
    cells = []
    for name, genes in zip(CELLS, value):
        if not isinstance(genes, Sequence) or len(genes) != EDGES_PER_CELL:
            raise _fail(f"the compact {name} cell is not 8 (input, op_index) pairs")
        converted = []
        for gene in genes:
            if (not isinstance(gene, Sequence) or len(gene) != 2
                    or not all(isinstance(v, int) and not isinstance(v, bool) for v in gene)):
                raise _fail(f"compact pair {gene!r} is not (input, op_index)")
            if not 0 <= gene[1] < len(OPS):
                raise _fail(f"compact op index {gene[1]} is outside 0..{len(OPS) - 1}")
            converted.append((OPS[gene[1]], gene[0]))
        cells.append(converted)
    return make_arch(cells[0], cells[1], ops)


def _literal(node: ast.expr) -> Any:
    """A literal, also accepting ``range(a, b)`` (DARTS prints concat lists that way)."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range"
            and not node.keywords):
        return list(range(*(ast.literal_eval(a) for a in node.args)))
    return ast.literal_eval(node)


def parse_genotype(text: str, ops: Sequence[str] = OPS) -> DartsArch:
    """A canonical genotype from DARTS notation or the compact form (no code is evaluated)."""
    shown = text if len(text) <= 120 else text[:117] + "..."
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise _fail(f"'{shown}' is not Python-literal syntax") from None
    try:
        if isinstance(tree, ast.Call):
            if not (isinstance(tree.func, ast.Name) and tree.func.id == "Genotype"):
                raise _fail(f"'{shown}' calls something other than Genotype(...)")
            fields = ("normal", "normal_concat", "reduce", "reduce_concat")
            values = dict(zip(fields, (_literal(a) for a in tree.args)))
            for kw in tree.keywords:
                if kw.arg not in fields or kw.arg in values:
                    raise _fail(f"'{shown}' has an unexpected or repeated field {kw.arg!r}")
                values[kw.arg] = _literal(kw.value)
            if "normal" not in values or "reduce" not in values:
                raise _fail(f"'{shown}' lacks normal= or reduce=")
            return make_arch(values["normal"], values["reduce"], ops,
                             values.get("normal_concat", CONCAT), values.get("reduce_concat", CONCAT))
        return from_compact(_literal(tree), ops)
    except (ValueError, TypeError, SyntaxError) as exc:
        if isinstance(exc, ArchitectureError):
            raise
        raise _fail(f"'{shown}' holds a non-literal value") from None


def to_arch(value: Any, ops: Sequence[str] = OPS) -> DartsArch:
    """A canonical genotype from a string, a :class:`DartsArch` (or any object with ``normal`` and
    ``reduce``, like DARTS' own ``Genotype`` namedtuple), a mapping, or a ``(normal, reduce)`` pair."""
    if isinstance(value, DartsArch):
        return make_arch(value.normal, value.reduce, ops)
    if isinstance(value, str):
        return parse_genotype(value, ops)
    if isinstance(value, dict):
        if "normal" not in value or "reduce" not in value:
            raise _fail("a mapping needs 'normal' and 'reduce' keys")
        return make_arch(value["normal"], value["reduce"], ops,
                         value.get("normal_concat", CONCAT), value.get("reduce_concat", CONCAT))
    if hasattr(value, "normal") and hasattr(value, "reduce"):
        return make_arch(value.normal, value.reduce, ops,
                         getattr(value, "normal_concat", CONCAT), getattr(value, "reduce_concat", CONCAT))
    if isinstance(value, Sequence) and len(value) == 2:
        first = value[0][0] if isinstance(value[0], Sequence) and value[0] else None
        if isinstance(first, Sequence) and first and isinstance(first[0], int) and not isinstance(first[0], bool):
            return from_compact(value, ops)
        return make_arch(value[0], value[1], ops)
    raise _fail(f"got an object of type {type(value).__name__}")


def input_pairs(node: int) -> list[tuple[int, int]]:
    """The possible (lower, higher) input pairs of intermediate node ``node`` (0..3), in order."""
    return list(itertools.combinations(range(node + 2), 2))
