"""Markers of the combination matrices: ``quick`` (the smoke subset that ``nox -s combos`` runs),
``combos_full`` (the rest of the hand-listed matrix, run by default; ``NASPLUG_FULL_COMBOS=0``
skips it) and ``matrix_full`` (the registry-generated matrix beyond its quick tier: minutes, so it
runs only with ``NASPLUG_FULL_COMBOS=1``, as ``nox -s combos-full`` sets).

With ``NASPLUG_COMBOS_REPORT=path.json`` the session writes a summary of the registry-generated
matrix there: combinations, passed / skipped / failed, skip reasons, failures and time.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

import pytest

FULL_ENV = "NASPLUG_FULL_COMBOS"
REPORT_ENV = "NASPLUG_COMBOS_REPORT"
_started = time.time()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "quick: fast subset of the part-combination matrix (nox -s combos)")
    config.addinivalue_line("markers", f"combos_full: rest of the hand-listed matrix; skipped when {FULL_ENV}=0")
    config.addinivalue_line("markers", f"matrix_full: rest of the registry-generated matrix; runs only with {FULL_ENV}=1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    setting = os.environ.get(FULL_ENV, "")
    if setting != "1":  # the registry-generated full tier is deselected, not skipped: it is opt-in
        deselected = [i for i in items if i.get_closest_marker("matrix_full") is not None]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = [i for i in items if i.get_closest_marker("matrix_full") is None]
    for item in items:
        if item.get_closest_marker("combos_full") is not None and setting == "0":
            item.add_marker(pytest.mark.skip(reason=f"full combination matrix skipped because {FULL_ENV}=0"))


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ANN001
    path = os.environ.get(REPORT_ENV)
    if not path:
        return
    outcomes: dict[str, list] = {}
    for key in ("passed", "skipped", "failed", "error"):
        outcomes[key] = [r for r in terminalreporter.stats.get(key, []) if "test_matrix.py" in getattr(r, "nodeid", "")]
    reasons = Counter()
    for r in outcomes["skipped"]:
        text = r.longrepr[2] if isinstance(r.longrepr, tuple) else str(r.longrepr)
        reasons[text.replace("Skipped: ", "").split(";")[0][:120]] += 1
    per_test = Counter(r.nodeid.split("::")[1].split("[")[0] for key in outcomes for r in outcomes[key])
    summary = {"combinations": sum(len(v) for v in outcomes.values()), "by_run_kind": dict(per_test),
               "passed": len(outcomes["passed"]), "skipped": len(outcomes["skipped"]),
               "failed": len(outcomes["failed"]) + len(outcomes["error"]),
               "failures": [r.nodeid.split("::")[1] for r in outcomes["failed"] + outcomes["error"]],
               "skip_reasons": dict(reasons.most_common()), "seconds": round(time.time() - _started, 1),
               "full": os.environ.get(FULL_ENV) == "1"}
    Path(path).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
