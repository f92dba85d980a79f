"""FairNAS (Chu et al., ICCV 2021): strict fairness. See ``docs/methods/spos_fairnas.md``."""

from __future__ import annotations

from typing import Any

import numpy as np

from nasplug.core.errors import ConfigError
from nasplug.search.oneshot.spos import SPOS


class FairNAS(SPOS):
    """FairNAS: every op of every decision trained exactly once per step (m paths, one update).

    Each step draws, for every decision, a random permutation of its ``m`` options; path ``j``
    takes the ``j``-th entry of every permutation. The ``m`` paths run on the same batch, their
    gradients accumulate and one optimiser update follows. The search after training is SPOS's
    evolutionary search (the paper's multi-objective NSGA-II reduces to it for accuracy alone)."""

    def check_supernet(self, supernet: Any) -> None:
        if not getattr(supernet, "every_path_is_a_member", True):
            raise ConfigError("FairNAS trains paths of independent per-decision choices, which are not all members of this "
                              "space (e.g. DARTS cells need two inputs per node); use spos")
        if len(set(supernet.decisions)) != 1:
            raise ConfigError(f"FairNAS needs the same number of options at every decision, got {sorted(set(supernet.decisions))}; use spos on this space")

    def paths(self, supernet: Any, rng: np.random.Generator) -> list[tuple[int, ...]]:
        self.check_supernet(supernet)
        decisions = supernet.decisions
        perms = [rng.permutation(d) for d in decisions]
        return [tuple(int(p[j]) for p in perms) for j in range(decisions[0])]
