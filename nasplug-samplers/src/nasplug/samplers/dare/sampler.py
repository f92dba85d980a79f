"""The DARE sampler plugin: distribution-aware active learning for neural predictors (Yu et al.,
IPM 2026; seed paper 000, sections 3.3-3.5)."""

from __future__ import annotations

from typing import Any, Sequence

import attrs
import numpy as np

from nasplug.core.errors import BudgetError
from nasplug.core.interfaces.sampler import Sampler, SelectionContext
from nasplug.core.options import boolean, number_in, one_of, optional_positive_int, positive_int
from nasplug.samplers.dare.selection import Settings, Trace, select

#: The paper's per-space hyperparameters (section 5.1): (m, n, m*, z).
PRESETS = {"nb201": (1000, 1000, 1000, 500), "nb101": (10_000, 10_000, 10_000, 1000)}


@attrs.frozen
class DAREConfig:
    """DARE's hyperparameters; defaults are the paper's (section 5.1) unless marked as ours.

    - ``preset``: ``"nb201"`` (m = n = m* = 1000, z = 500; also the paper's DARTS setting) or
      ``"nb101"`` (m = n = m* = 10,000, z = 1000). ``m``, ``n``, ``m_star``, ``z`` override it.
    - ``m`` / ``n``: first stage, the farthest (X_max) / nearest (X_min) unlabelled samples kept
      per labelled sample. ``m_star``: the farthest kept per labelled sample after retraining.
    - ``n_star``: size of the refined neighbourhood X_min* (Delaunay neighbours widened by
      k-means). The paper names it but gives no value; 10 is ours (a planar Delaunay vertex has
      about six neighbours, widened to ten). It bounds the pseudo-labelled set to about
      ``n_star`` x labelled.
    - ``z``, ``repetitions`` (T = 10): key-point search, ``alpha`` / ``beta``: its quantile band.
    - ``distribution``: ``"auto"`` decides per round with the Hopkins statistic of the PCA-2D
      projection of the unlabelled embeddings (non-uniform when >= ``hopkins_threshold``, 0.75,
      the customary clustering-tendency threshold; the rule is ours, the paper decides by
      inspection); ``"uniform"`` / ``"non_uniform"`` override it. ``"uniform"`` is Table 6's
      "w/o KGA".
    - ``band_ranking``: how the non-uniform case ranks the key point's band: ``"key_point"``
      (the paper: the maximum distance is computed for the key point only, so the band's
      farthest from it are taken) or ``"max_min"`` (ours: the band's farthest from the whole
      labelled set, as in the uniform case).
    - ``first_stage`` / ``second_stage``: Table 6's "w/o FS" / "w/o SS"; both false is
      "w/o TMMS" (plain max-min cosine distance over the pool; KGA depends on TMMS).
    - ``max_pseudo_labels``: cap on the pseudo-labelled set (``None`` = no cap, the paper);
      taken round-robin over the labelled samples' neighbourhoods, nearest first.
    - ``retrain_with_labels``: the retraining set is the labelled set plus the pseudo-labelled
      one (ours: keeps the refined predictor anchored to the true labels); ``False`` trains on
      the pseudo-labels alone.
    - ``kmeans_max_iter``: scikit-learn's default.
    - ``final_pick``: how the batch is taken from the final candidates (the intersection, or the
      key point's band): ``"max_min"`` (default, ours) greedily, each pick the candidate farthest
      from the labelled set and from the picks before it, so a batch never spends itself on
      near-identical networks; ``"ranked"`` (the literal reading) the top ``k`` by the ranking
      score, which in the non-uniform case is one thin slice of predicted accuracy
      (docs/methods/dare.md 4.4).
    - ``retrain``: the second stage ``"continue"``s training the current predictor on the
      pseudo-labelled set (default; the paper "re-trains the already-trained predictor"), or
      trains a ``"fresh"`` one (nasplug's reading before issue 23).
    """

    preset: str = attrs.field(default="nb201", validator=one_of(*PRESETS))
    m: int | None = attrs.field(default=None, validator=optional_positive_int)
    n: int | None = attrs.field(default=None, validator=optional_positive_int)
    m_star: int | None = attrs.field(default=None, validator=optional_positive_int)
    n_star: int = attrs.field(default=10, validator=positive_int)
    z: int | None = attrs.field(default=None, validator=optional_positive_int)
    repetitions: int = attrs.field(default=10, validator=positive_int)
    alpha: float = attrs.field(default=0.4, validator=number_in(0.0, 1.0))
    beta: float = attrs.field(default=0.5, validator=number_in(0.0, 1.0))
    distribution: str = attrs.field(default="auto", validator=one_of("auto", "uniform", "non_uniform"))
    hopkins_threshold: float = attrs.field(default=0.75, validator=number_in(0.0, 1.0))
    band_ranking: str = attrs.field(default="key_point", validator=one_of("key_point", "max_min"))
    first_stage: bool = attrs.field(default=True, validator=boolean)
    second_stage: bool = attrs.field(default=True, validator=boolean)
    max_pseudo_labels: int | None = attrs.field(default=None, validator=optional_positive_int)
    retrain_with_labels: bool = attrs.field(default=True, validator=boolean)
    final_pick: str = attrs.field(default="max_min", validator=one_of("max_min", "ranked"))
    retrain: str = attrs.field(default="continue", validator=one_of("continue", "fresh"))
    kmeans_max_iter: int = attrs.field(default=300, validator=positive_int)

    def __attrs_post_init__(self) -> None:
        if not self.alpha < self.beta:
            raise ValueError(f"beta: expected a value above alpha = {self.alpha}, got {self.beta!r}")

    def settings(self) -> Settings:
        m, n, m_star, z = PRESETS[self.preset]
        return Settings(m=self.m or m, n=self.n or n, m_star=self.m_star or m_star, n_star=self.n_star,
                        z=self.z or z, repetitions=self.repetitions, alpha=self.alpha, beta=self.beta,
                        distribution=self.distribution, hopkins_threshold=self.hopkins_threshold,
                        band_ranking=self.band_ranking,
                        first_stage=self.first_stage, second_stage=self.second_stage,
                        max_pseudo_labels=self.max_pseudo_labels, kmeans_max_iter=self.kmeans_max_iter,
                        final_pick=self.final_pick)


class DARESampler(Sampler):
    """DARE: two-stage max-min sampling with pseudo-label refinement and key-point guidance.

    Each round: embed the pool with the current predictor; first stage, per labelled sample the
    ``m`` farthest and ``n`` nearest unlabelled samples by cosine distance (batched, O(N*d)
    memory); second stage, neighbourhoods from a Delaunay triangulation of the PCA-2D candidate
    subset widened by k-means, intersected with the nearest sets and pseudo-labelled by the
    current predictor; the current predictor is trained further on them (``continue_fit``, seed
    drawn from ``ctx.rng``; ``retrain = "fresh"``: a new one), the pool re-embedded, the ``m*``
    farthest per labelled sample taken and intersected with the first stage's (in the
    non-uniform case, the key point's quantile band replaces the per-sample farthest sets). The
    batch is taken from that candidate set by greedy max-min cosine distance (``final_pick``;
    ``"ranked"``: the ``k`` best by max-min distance, or by distance from the key point). When
    the candidates are fewer than ``k``, the rest come, by that ranking, from the refined
    farthest sets, then from the whole unlabelled pool (our rule; the paper does not say).

    The predictor should be ``dare_gcn`` (the consistency-trained GCN) for the paper's setting;
    any predictor with ``embed`` works. ``last_trace`` records the last selection's decisions.
    """

    Config = DAREConfig
    needs_predictor = True

    def __init__(self, config: Any = None, *, space: Any) -> None:
        super().__init__(config, space=space)
        self.last_trace: Trace | None = None

    def choose(self, ctx: SelectionContext, k: int) -> Sequence[int]:
        if ctx.predictor is None or len(ctx.labelled) == 0:
            raise BudgetError("DARE selects relative to labelled architectures and their trained predictor; "
                              "label an initial random set first (predict.initial_sampler = \"random\")")
        pool = list(ctx.pool)
        embeddings = np.asarray(ctx.predictor.embed(pool), dtype=np.float32)
        chosen, self.last_trace = select(embeddings, ctx.labelled, k, self.config.settings(), ctx.rng,
                                         refine=self._refiner(ctx, pool))
        return chosen

    def _refiner(self, ctx: SelectionContext, pool: list) -> Any:
        """Retrain on pseudo-labels from the current predictor and re-embed the pool."""
        if ctx.new_predictor is None:
            return None

        def refine(pseudo: np.ndarray) -> np.ndarray:
            archs = [pool[i] for i in pseudo]
            targets = np.asarray(ctx.predictor.predict(archs), dtype=float)
            if self.config.retrain_with_labels:
                archs = [pool[i] for i in ctx.labelled] + archs
                targets = np.concatenate([np.asarray(ctx.labels, dtype=float), targets])
            seed = int(ctx.rng.integers(2**31 - 1))
            if self.config.retrain == "continue":
                refined = ctx.predictor.continue_fit(archs, targets, seed=seed)
            else:
                refined = ctx.new_predictor().fit(archs, targets, seed=seed)
            return np.asarray(refined.embed(pool), dtype=np.float32)

        return refine
