"""Install a throwaway distribution with entry points on ``sys.path``, for tests of discovery.

Tests of the registry (a broken plugin, two distributions registering one name, a run kind from
outside the core) need what a real ``pip install`` gives: a ``*.dist-info`` folder that
``importlib.metadata`` and stevedore find. :func:`install_distribution` writes one (and the modules
it points to) into a folder and puts that folder first on ``sys.path``; nothing is patched.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Mapping


def install_distribution(folder: str | Path, name: str, entry_points: Mapping[str, Mapping[str, str]], *,
                         version: str = "1.0", modules: Mapping[str, str] | None = None) -> Path:
    """Write distribution ``name`` into ``folder`` with ``entry_points`` (group -> {name: "module:attr"})
    and ``modules`` (dotted module name -> source), prepend ``folder`` to ``sys.path`` and return it.
    Undo with :func:`uninstall_distribution` (pytest's ``monkeypatch.syspath_prepend`` also works)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    info = folder / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
    lines = []
    for group, eps in entry_points.items():
        lines.append(f"[{group}]")
        lines.extend(f"{ep} = {target}" for ep, target in eps.items())
        lines.append("")
    (info / "entry_points.txt").write_text("\n".join(lines), encoding="utf-8")
    for module, source in (modules or {}).items():
        path = folder.joinpath(*module.split(".")).with_suffix(".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    import importlib

    importlib.invalidate_caches()
    return folder


def uninstall_distribution(folder: str | Path) -> None:
    """Take ``folder`` off ``sys.path`` again (its modules stay imported)."""
    while str(folder) in sys.path:
        sys.path.remove(str(folder))
