"""DARE's stages on small synthetic embeddings whose right answer is known: batched distances
against brute force, Delaunay neighbours of a grid, k-means widening, the key point of a dense
cluster with outliers, the quantile band, the uniformity test and the ablation paths."""

from __future__ import annotations

import numpy as np
import pytest

from nasplug.samplers.dare import distances as dist
from nasplug.samplers.dare.keypoint import hopkins, key_point, quantile_interval
from nasplug.samplers.dare.neighbours import delaunay_neighbours, kmeans_clusters, refined_neighbourhoods
from nasplug.samplers.dare.selection import Settings, greedy_max_min, select


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _brute_cosine(a, b):
    return 1.0 - _unit(a) @ _unit(b).T


@pytest.mark.parametrize("block_floats", [150, dist.BLOCK_FLOATS])
def test_farthest_and_nearest_match_brute_force(block_floats):
    rng = np.random.default_rng(0)
    anchors, pool = rng.normal(size=(7, 6)), rng.normal(size=(150, 6))
    far, near = dist.farthest_and_nearest(dist.normalise(anchors), dist.normalise(pool), 15, 12, block_floats=block_floats)
    full = _brute_cosine(anchors, pool)
    np.testing.assert_array_equal(far, np.argsort(-full, axis=1)[:, :15])
    np.testing.assert_array_equal(near, np.argsort(full, axis=1)[:, :12])


def test_min_and_mean_distances_match_brute_force():
    rng = np.random.default_rng(1)
    anchors, pool = rng.normal(size=(9, 5)), rng.normal(size=(80, 5))
    a, p = dist.normalise(anchors), dist.normalise(pool)
    full = _brute_cosine(anchors, pool)
    np.testing.assert_allclose(dist.min_distance(a, p, block_floats=100), full.min(axis=0), atol=1e-5)
    np.testing.assert_allclose(dist.mean_distances(a, p, block_floats=100), full.mean(axis=1), atol=1e-5)
    np.testing.assert_allclose(dist.distances_from(a[3], p), full[3], atol=1e-5)


def test_top_sets_break_ties_by_index_and_cap_at_the_pool():
    pool = dist.normalise(np.array([[1.0, 0.0]] * 4 + [[0.0, 1.0]] * 3))
    far, near = dist.farthest_and_nearest(pool[:1], pool, 2, 20)
    assert far.tolist() == [[4, 5]]
    assert near.tolist() == [[0, 1, 2, 3, 4, 5, 6]]


@pytest.mark.parametrize("seed", range(4))
def test_top_sets_equal_a_stable_sort_on_large_rows_with_many_ties(seed):
    rng = np.random.default_rng(seed)
    d = rng.integers(0, 6, size=(5, 400)).astype(float)  # hundreds of ties at every cut
    for count in (1, 7, 60, 399, 400):
        for largest in (False, True):
            key = -d if largest else d
            expected = [sorted(range(400), key=lambda j, r=r: (key[r, j], j))[:count] for r in range(5)]
            assert dist._top(d, count, largest).tolist() == expected


def test_zero_embeddings_are_at_distance_one():
    x = dist.normalise(np.array([[0.0, 0.0], [1.0, 0.0]]))
    assert dist.distances_from(x[0], x).tolist() == [1.0, 1.0]


def _grid(side):
    xs, ys = np.meshgrid(np.arange(side, dtype=float), np.arange(side, dtype=float))
    return np.column_stack([xs.ravel(), ys.ravel()])


def test_delaunay_neighbours_of_a_grid():
    pts = _grid(5)
    centre, corner = 12, 0  # (2, 2) and (0, 0)
    got_centre, got_corner = delaunay_neighbours(pts, [centre, corner])
    axis = {7, 11, 13, 17}
    eight = axis | {6, 8, 16, 18}
    assert axis <= set(got_centre.tolist()) <= eight
    assert {1, 5} <= set(got_corner.tolist()) <= {1, 5, 6}


def test_delaunay_neighbours_of_duplicates_and_collinear_points():
    pts = np.vstack([_grid(3), [[1.0, 1.0]]])  # index 9 duplicates the centre (4)
    got = delaunay_neighbours(pts, [4, 9])
    assert 9 in got[0] and 4 in got[1]
    assert set(got[0].tolist()) - {9} == set(got[1].tolist()) - {4}
    line = np.column_stack([np.arange(6.0), 2 * np.arange(6.0)])
    assert delaunay_neighbours(line, [0, 3])[1].tolist() == [2, 4]


def test_kmeans_clusters_follow_the_labelled_centres():
    rng = np.random.default_rng(2)
    a = _unit(np.array([1.0, 0.1, 0.0]) + 0.05 * rng.normal(size=(30, 3)))
    b = _unit(np.array([0.0, 0.1, 1.0]) + 0.05 * rng.normal(size=(20, 3)))
    centres = _unit(np.array([[0.0, 0.1, 1.0], [1.0, 0.1, 0.0]]))
    labels = kmeans_clusters(np.vstack([a, b]), centres, seed=0)
    assert labels.tolist() == [1] * 30 + [0] * 20


def test_refined_neighbourhoods_put_delaunay_first_and_cap_at_n_star():
    rng = np.random.default_rng(3)
    cand = dist.normalise(rng.normal(size=(200, 4)))
    lab = dist.normalise(rng.normal(size=(3, 4)))
    sets = refined_neighbourhoods(cand, lab, n_star=8, seed=0)
    assert [len(s) for s in sets] == [8, 8, 8]
    for s in sets:
        assert len(set(s.tolist())) == 8 and s.min() >= 0 and s.max() < 200


def _cluster_with_outliers(seed=4):
    rng = np.random.default_rng(seed)
    core = np.array([1.0, 1.0, 0.0, 0.0])
    dense = core + 0.05 * rng.normal(size=(300, 4))
    outliers = rng.normal(size=(20, 4)) * 3.0
    labelled = np.vstack([core + 0.01 * rng.normal(size=4), outliers[:3] + 0.01, -core])
    return labelled, np.vstack([dense, outliers])


def test_key_point_is_the_labelled_sample_in_the_dense_cluster():
    labelled, unlabelled = _cluster_with_outliers()
    rng = np.random.default_rng(0)
    assert key_point(dist.normalise(labelled), dist.normalise(unlabelled), z=50, repetitions=10, rng=rng) == 0


def test_quantile_interval_is_the_band_farthest_first():
    d = np.random.default_rng(5).permutation(100).astype(float)
    band = quantile_interval(d, 0.4, 0.5)
    assert d[band].tolist() == list(range(49, 39, -1))
    wide = quantile_interval(d, 0.4, 0.45, at_least=12)
    assert len(wide) == 12 and d[wide].min() == 40.0
    assert len(quantile_interval(d, 0.95, 1.0, at_least=10)) == 10


def test_hopkins_separates_uniform_from_concentrated():
    rng = np.random.default_rng(6)
    uniform = rng.random((3000, 2))
    _, concentrated = _cluster_with_outliers()
    assert hopkins(uniform, np.random.default_rng(0)) < 0.65
    assert hopkins(concentrated, np.random.default_rng(0)) > 0.8


def _pool(seed=7):
    labelled, unlabelled = _cluster_with_outliers(seed)
    return np.vstack([labelled, unlabelled]), np.arange(len(labelled))


def test_without_two_stage_is_plain_max_min_distance():
    emb, lab = _pool()
    chosen, trace = select(emb, lab, 5, Settings(first_stage=False, second_stage=False, final_pick="ranked"),
                           np.random.default_rng(0))
    e = dist.normalise(emb)
    score = dist.min_distance(e[lab], e)
    score[lab] = -1
    assert trace.mode == "max_min_only"
    assert sorted(chosen) == sorted(np.argsort(-score)[:5].tolist())
    greedy, _ = select(emb, lab, 5, Settings(first_stage=False, second_stage=False), np.random.default_rng(0))
    unl = np.setdiff1d(np.arange(len(emb)), lab)
    assert greedy == unl[greedy_max_min(5, np.arange(len(unl)), e[lab], e[unl])].tolist()


def _angles(*degrees):
    r = np.radians(degrees)
    return np.stack([np.cos(r), np.sin(r)], axis=1).astype(np.float32)


def test_greedy_max_min_never_takes_two_near_copies():
    labelled = _angles(0)
    pool = _angles(180, 179, 90, 45)
    # ranked by distance to the labelled point alone: 180 and 179, one network twice
    assert np.argsort(-dist.min_distance(labelled, pool))[:2].tolist() == [0, 1]
    assert greedy_max_min(2, np.arange(4), labelled, pool).tolist() == [0, 2]  # 180, then 90
    assert greedy_max_min(3, np.array([3, 1, 0]), labelled, pool).tolist() == [0, 3, 1]
    assert greedy_max_min(9, np.array([1, 2]), labelled, pool).tolist() == [1, 2]  # at most the candidates


def test_final_pick_max_min_spreads_the_key_points_band():
    emb, lab = _pool()
    s = Settings(m=50, n=50, m_star=50, z=100, distribution="non_uniform", second_stage=False)
    chosen, trace = select(emb, lab, 6, s, np.random.default_rng(0))
    e = dist.normalise(emb)
    unl = np.setdiff1d(np.arange(len(emb)), lab)
    band = unl[quantile_interval(dist.distances_from(e[trace.key_point], e[unl]), 0.4, 0.5)]
    assert set(chosen) <= set(band.tolist())
    assert chosen == band[greedy_max_min(6, np.arange(len(band)), e[lab], e[band])].tolist()


def test_non_uniform_selection_stays_in_the_key_points_band():
    emb, lab = _pool()
    s = Settings(m=50, n=50, m_star=50, z=100, distribution="non_uniform")
    chosen, trace = select(emb, lab, 8, s, np.random.default_rng(0))
    e = dist.normalise(emb)
    unl = np.setdiff1d(np.arange(len(emb)), lab)
    d = dist.distances_from(e[trace.key_point], e[unl])
    band = set(unl[quantile_interval(d, 0.4, 0.5)].tolist())
    assert trace.key_point == 0 and trace.mode == "non_uniform"
    assert set(chosen) <= band and trace.filled == 0


def test_uniform_first_stage_only_picks_far_outliers():
    emb, lab = _pool()
    chosen, trace = select(emb, lab, 5, Settings(m=30, n=30, distribution="uniform", second_stage=False), np.random.default_rng(0))
    assert trace.mode == "uniform"
    assert all(i >= len(lab) + 300 for i in chosen)  # all from the sparse outliers, none from the dense cluster


def test_second_stage_retrains_on_pseudo_labels_and_fills_when_the_intersection_is_small():
    emb, lab = _pool()
    seen = {}

    def refine(pseudo):
        seen["pseudo"] = pseudo
        return np.random.default_rng(1).normal(size=emb.shape)  # unrelated: the farthest sets barely overlap

    s = Settings(m=5, n=40, m_star=5, n_star=6, distribution="uniform", max_pseudo_labels=12)
    chosen, trace = select(emb, lab, 10, s, np.random.default_rng(0), refine=refine)
    assert len(seen["pseudo"]) == trace.pseudo_labelled == 12
    assert not set(seen["pseudo"].tolist()) & set(lab.tolist())
    assert trace.intersection < 10 and trace.filled == 10 - trace.intersection
    assert len(set(chosen)) == 10 and not set(chosen) & set(lab.tolist())


def test_auto_mode_is_recorded_and_deterministic():
    emb, lab = _pool()
    s = Settings(m=40, n=40, m_star=40, z=100)
    a = select(emb, lab, 6, s, np.random.default_rng(9))
    b = select(emb, lab, 6, s, np.random.default_rng(9))
    assert a[0] == b[0] and a[1].hopkins is not None and a[1].mode == "non_uniform"


def test_band_ranked_by_max_min_takes_the_band_members_farthest_from_all_labelled():
    emb, lab = _pool()
    s = Settings(m=50, n=50, m_star=50, z=100, distribution="non_uniform", band_ranking="max_min", second_stage=False,
                 final_pick="ranked")
    chosen, trace = select(emb, lab, 6, s, np.random.default_rng(0))
    e = dist.normalise(emb)
    unl = np.setdiff1d(np.arange(len(emb)), lab)
    band = unl[quantile_interval(dist.distances_from(e[trace.key_point], e[unl]), 0.4, 0.5)]
    score = dist.min_distance(e[lab], e[band])
    assert sorted(chosen) == sorted(band[np.argsort(-score, kind="stable")[:6]].tolist())
