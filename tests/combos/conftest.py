"""Markers of the combination matrix: ``quick`` (a small subset, always run) and ``combos_full``
(the rest, skipped unless ``NASPLUG_FULL_COMBOS=1``; ``nox -s combos-full`` sets it)."""

from __future__ import annotations

import os

import pytest

FULL_ENV = "NASPLUG_FULL_COMBOS"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "quick: fast subset of the part-combination matrix (nox -s combos)")
    config.addinivalue_line("markers", f"combos_full: rest of the part-combination matrix; skipped unless {FULL_ENV}=1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(FULL_ENV) == "1":
        return
    skip = pytest.mark.skip(reason=f"full combination matrix: set {FULL_ENV}=1 (or run nox -s combos-full)")
    for item in items:
        if item.get_closest_marker("combos_full") is not None:
            item.add_marker(skip)
