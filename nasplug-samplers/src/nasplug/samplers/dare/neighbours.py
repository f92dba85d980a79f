"""DARE's second-stage neighbourhoods (X_min*): Delaunay neighbours on a PCA-2D projection of the
candidate subset, widened by k-means with the labelled samples as the initial centres.

The paper (section 3.3) counts an unlabelled sample as a neighbour of a labelled one when the two
share a Delaunay triangle; because a planar triangulation gives only about six neighbours, the
k-means cluster of the labelled sample widens the set. We keep the Delaunay neighbours first
(nearest first by cosine distance in the full embedding), then the cluster's members by the same
distance, up to ``n_star`` in all.
"""

from __future__ import annotations

import warnings

import numpy as np

from nasplug.samplers.dare.distances import cosine_block


def pca_2d(x: np.ndarray) -> np.ndarray:
    """The rows of ``x`` projected onto their first two principal components, shape (n, 2)
    (zero-padded when ``x`` has fewer than two informative dimensions)."""
    from sklearn.decomposition import PCA

    x = np.asarray(x, dtype=np.float64)
    out = np.zeros((len(x), 2))
    width = min(2, x.shape[1], max(len(x) - 1, 0))
    if width == 0:
        return out
    out[:, :width] = PCA(n_components=width, svd_solver="covariance_eigh").fit_transform(x)
    return out


def _groups(keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Members of each key value 0..size-1: ``order[starts[v]:starts[v + 1]]``."""
    order = np.argsort(keys, kind="stable")
    return order, np.searchsorted(keys[order], np.arange(size + 1))


def _site_neighbours(sites: np.ndarray, wanted: np.ndarray) -> list[np.ndarray]:
    """Delaunay neighbours of the ``wanted`` sites among distinct 2-D ``sites``. Sites that qhull
    leaves out of the triangulation (coplanar within its precision) share the neighbours of their
    nearest vertex; collinear sites fall back to their neighbours along the line."""
    from scipy.spatial import Delaunay, QhullError

    n = len(sites)
    if n <= 3:
        return [np.setdiff1d(np.arange(n), [w]) for w in wanted]
    try:
        tri = Delaunay(sites)
    except QhullError:
        axis = int(np.argmax(sites.var(axis=0)))
        order = np.argsort(sites[:, axis], kind="stable")
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n)
        return [order[max(rank[w] - 1, 0):rank[w] + 2][order[max(rank[w] - 1, 0):rank[w] + 2] != w] for w in wanted]
    indptr, indices = tri.vertex_neighbor_vertices
    rep = np.arange(n)
    if len(tri.coplanar):
        rep[tri.coplanar[:, 0]] = tri.coplanar[:, 2]
    order, starts = _groups(rep, n)
    out = []
    for w in wanted:
        r = rep[w]
        around = np.concatenate([[r], indices[indptr[r]:indptr[r + 1]]])
        found = np.unique(np.concatenate([order[starts[v]:starts[v + 1]] for v in around]))
        out.append(found[found != w])
    return out


def delaunay_neighbours(points: np.ndarray, anchors: np.ndarray) -> list[np.ndarray]:
    """For each anchor row of the 2-D ``points``, the indices of the points sharing a Delaunay
    triangle with it (points at the anchor's own location included, the anchor excluded).

    Exact duplicates (isomorphic architectures embed alike) are triangulated once and share their
    site's neighbours.
    """
    points = np.asarray(points, dtype=np.float64)
    anchors = np.asarray(anchors, dtype=np.int64)
    sites, site_of = np.unique(points, axis=0, return_inverse=True)
    site_of = site_of.ravel()
    order, starts = _groups(site_of, len(sites))
    out = []
    for a, near_sites in zip(anchors, _site_neighbours(sites, site_of[anchors])):
        near_sites = np.concatenate([[site_of[a]], near_sites])
        found = np.concatenate([order[starts[t]:starts[t + 1]] for t in near_sites])
        out.append(np.sort(found[found != a]))
    return out


def kmeans_clusters(candidates: np.ndarray, centres: np.ndarray, seed: int, max_iter: int = 300) -> np.ndarray:
    """k-means of the candidate rows with one cluster per labelled sample, started from the
    labelled embeddings (``init=centres``); returns each candidate's cluster, i.e. the index of
    the labelled sample whose cluster it joined."""
    if len(candidates) == 0:
        return np.empty(0, dtype=np.int64)
    if len(candidates) < len(centres) or len(centres) == 1:
        return np.argmin(cosine_block(candidates, centres), axis=1)
    from sklearn.cluster import KMeans

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate start centres / fewer distinct points than clusters
        km = KMeans(n_clusters=len(centres), init=np.asarray(centres, dtype=np.float32), n_init=1,
                    max_iter=max_iter, random_state=seed)
        return km.fit(np.asarray(candidates, dtype=np.float32)).labels_.astype(np.int64)


def refined_neighbourhoods(candidates: np.ndarray, labelled: np.ndarray, n_star: int, seed: int,
                           max_iter: int = 300) -> list[np.ndarray]:
    """X_min* for every labelled sample: indices into ``candidates`` (unit rows of the unlabelled
    candidate subset), Delaunay neighbours on the joint PCA-2D projection first, then members of
    the labelled sample's k-means cluster, each group nearest first, at most ``n_star`` in all."""
    k = len(labelled)
    points = pca_2d(np.vstack([labelled, candidates]))
    tri = delaunay_neighbours(points, np.arange(k))
    cluster = kmeans_clusters(candidates, labelled, seed, max_iter)
    out = []
    for i in range(k):
        delaunay = tri[i][tri[i] >= k] - k
        members = np.flatnonzero(cluster == i)
        groups = []
        for group in (delaunay, np.setdiff1d(members, delaunay)):
            d = cosine_block(labelled[i:i + 1], candidates[group])[0]
            groups.append(group[np.lexsort((group, d))])
        out.append(np.concatenate(groups)[:n_star].astype(np.int64))
    return out
