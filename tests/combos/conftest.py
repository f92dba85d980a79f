"""Markers of the combination matrix: ``quick`` (the smoke subset that ``nox -s combos`` runs) and
``combos_full`` (the rest). The whole matrix takes seconds, so a plain ``pytest`` runs all of it;
``NASPLUG_FULL_COMBOS=0`` skips the ``combos_full`` part."""

from __future__ import annotations

import os

import pytest

FULL_ENV = "NASPLUG_FULL_COMBOS"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "quick: fast subset of the part-combination matrix (nox -s combos)")
    config.addinivalue_line("markers", f"combos_full: rest of the part-combination matrix; skipped when {FULL_ENV}=0")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(FULL_ENV, "1") != "0":
        return
    skip = pytest.mark.skip(reason=f"full combination matrix skipped because {FULL_ENV}=0")
    for item in items:
        if item.get_closest_marker("combos_full") is not None:
            item.add_marker(skip)
