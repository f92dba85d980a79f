"""mutmut hooks (mutmut 2.x imports this module from the working directory or PYTHONPATH).

``pre_mutation`` skips every mutant outside the targets of ``targets.toml`` (functions, a line
pattern, never a ``raise`` statement) and runs each target's own tests against its mutants, so a
focused set is tested in minutes rather than the whole suite per mutant.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent


def load_targets(tier: str | None = None) -> dict[str, dict]:
    """Targets of ``targets.toml``; with ``tier = "ci"`` only those not marked ``tier = "full"``.
    The tier is also read from ``$NASPLUG_MUTATION_TIER`` (how mutmut's process learns it)."""
    tier = tier or os.environ.get("NASPLUG_MUTATION_TIER", "full")
    data = tomllib.loads((HERE / "targets.toml").read_text(encoding="utf-8"))
    return {t["path"]: t for t in data["target"] if tier == "full" or t.get("tier", "ci") == "ci"}


TARGETS = load_targets()
_LINES: dict[str, set[int]] = {}


def _function_lines(tree: ast.Module, qualname: str) -> range:
    scope: list[ast.AST] = [tree]
    node: ast.AST | None = None
    for part in qualname.split("."):
        node = next((n for s in scope for n in ast.iter_child_nodes(s)
                     if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == part), None)
        if node is None:
            raise SystemExit(f"mutation/targets.toml: no function '{qualname}'; fix the target's functions list")
        scope = [node]
    return range(node.lineno, node.end_lineno + 1)


def mutable_lines(path: str, root: Path = Path(".")) -> set[int]:
    """1-based lines of ``path`` whose mutants are tested."""
    if path not in _LINES:
        target = TARGETS[path]
        source = (root / path).read_text(encoding="utf-8")
        tree = ast.parse(source)
        text = source.splitlines()
        lines = set(range(1, len(text) + 1))
        if "functions" in target:
            lines &= {i for name in target["functions"] for i in _function_lines(tree, name)}
        if "lines" in target:
            pattern = re.compile(target["lines"])
            lines = {i for i in lines if pattern.search(text[i - 1])}
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise):
                lines -= set(range(node.lineno, node.end_lineno + 1))
        _LINES[path] = lines
    return _LINES[path]


def test_command(target: dict) -> str:
    return shlex.join([sys.executable, str(HERE / "run_tests.py"), *target["tests"]])


def pre_mutation(context) -> None:
    path = os.path.relpath(os.path.abspath(context.filename))
    target = TARGETS.get(path)
    if target is None or not target.get("mutmut", True) or context.current_line_index + 1 not in mutable_lines(path):
        context.skip = True
        return
    context.config.test_command = test_command(target)
