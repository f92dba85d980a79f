"""Key-point guided adaptive sampling (DARE section 3.4, Eq. 5) and the uniform/non-uniform test.

The key point is the labelled sample whose summed cosine distance to ``z`` random unlabelled
samples, averaged over ``T`` draws, is smallest: the labelled sample at the centre of the dense
region. Sampling is then restricted to the unlabelled samples whose distance from it ranks within
the ``[alpha, beta]`` quantile interval of the sorted distances (0.4-0.5, the paper's best in
Fig. 3), which keeps selections away both from the redundant core and from sparse outliers.
"""

from __future__ import annotations

import numpy as np

from nasplug.samplers.dare.distances import mean_distances


def key_point(labelled: np.ndarray, unlabelled: np.ndarray, z: int, repetitions: int,
              rng: np.random.Generator) -> int:
    """Row of ``labelled`` (unit rows) that is the key point; ties go to the lower row."""
    z = min(z, len(unlabelled))
    total = np.zeros(len(labelled))
    for _ in range(repetitions):
        probe = rng.choice(len(unlabelled), size=z, replace=False)
        total += mean_distances(labelled, unlabelled[probe]) * z
    return int(np.argmin(total / repetitions))


def quantile_interval(distances: np.ndarray, alpha: float, beta: float, at_least: int = 1) -> np.ndarray:
    """Indices whose rank in the ascending (stable) sort of ``distances`` lies in
    ``[floor(alpha * N), ceil(beta * N))``, farthest first. The interval is widened outwards (up
    to the far end first) when it holds fewer than ``at_least`` indices."""
    n = len(distances)
    order = np.argsort(distances, kind="stable")
    lo, hi = int(np.floor(alpha * n)), int(np.ceil(beta * n))
    short = max(0, min(at_least, n) - (hi - lo))
    grow = min(short, n - hi)
    hi += grow
    lo -= short - grow
    return order[lo:hi][::-1].copy()


def _uniform_in_hull(points: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` points uniform over the convex hull of 2-D ``points`` (triangles of the hull's
    triangulation drawn by area); the bounding box when the hull is degenerate."""
    from scipy.spatial import ConvexHull, Delaunay, QhullError

    try:
        corners = points[ConvexHull(points).vertices]
        tri = corners[Delaunay(corners).simplices]
    except QhullError:
        lo, hi = points.min(axis=0), points.max(axis=0)
        return lo + rng.random((count, 2)) * (hi - lo)
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    area = 0.5 * np.abs((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))
    pick = rng.choice(len(tri), size=count, p=area / area.sum())
    r1, r2 = np.sqrt(rng.random((count, 1))), rng.random((count, 1))
    return (1 - r1) * a[pick] + r1 * (1 - r2) * b[pick] + r1 * r2 * c[pick]


def hopkins(unit_rows: np.ndarray, rng: np.random.Generator, probes: int = 500, sample: int = 50_000) -> float:
    """Hopkins statistic of the rows' PCA-2D projection, with probes uniform over the projection's
    convex hull: about 0.5 for an even spread over its region, towards 1 when the samples crowd
    into dense regions with sparse, scattered outskirts (DARE's Fig. 2). Uses at most ``sample``
    rows and ``probes`` probe points, all drawn from ``rng``."""
    from scipy.spatial import cKDTree

    from nasplug.samplers.dare.neighbours import pca_2d

    x = unit_rows if len(unit_rows) <= sample else unit_rows[np.sort(rng.choice(len(unit_rows), sample, replace=False))]
    if len(x) < 4:
        return 0.5
    pts = pca_2d(x)
    probes = max(1, min(probes, len(pts) - 1))
    tree = cKDTree(pts)
    u = tree.query(_uniform_in_hull(pts, probes, rng), k=1)[0]
    picked = rng.choice(len(pts), probes, replace=False)
    w = tree.query(pts[picked], k=2)[0][:, 1]
    total = u.sum() + w.sum()
    return float(u.sum() / total) if total > 0 else 0.5
