"""Run one target's tests against a mutant: ``python mutation/run_tests.py <pytest args>``.

Exit 0 when the tests pass, or when there is nothing to run (test files that do not exist in the
tree being measured, e.g. an older revision, or a ``-k`` that selects nothing): no test caught the
mutant, so it survived. Any failure or error exits 1 (killed).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest


def main(argv: list[str]) -> int:
    args, skip = [], False
    for i, arg in enumerate(argv):
        if skip:
            args.append(arg)
            skip = False
            continue
        if arg in ("-k", "-m", "-p"):
            args.append(arg)
            skip = True
            continue
        if arg.startswith("tests/") and not Path(arg.split("::")[0]).exists():
            continue
        args.append(arg)
    if not any(a.startswith("tests/") for a in args):
        return 0
    code = pytest.main(["-x", "-q", "-p", "no:cacheprovider", *args])
    return 0 if code in (0, 5) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
