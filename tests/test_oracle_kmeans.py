"""The reference KMeans of 08_kmeans against scikit-learn (a test-only oracle).

On well-separated blobs (scikit-learn's make_blobs, a generator bundled with
scikit-learn) and on the iris measurements (load_iris), both fitted from the
same starting centroids, the reference must give the same partition up to a
relabelling (adjusted Rand index 1) and the same inertia within 1e-6 relative.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans as SkKMeans
from sklearn.datasets import load_iris, make_blobs
from sklearn.metrics import adjusted_rand_score

from support import load_reference


@pytest.fixture(scope="module")
def KMeans():
    return load_reference("08_kmeans")["KMeans"]


def same_partition(a, b) -> bool:
    return adjusted_rand_score(a, b) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("k, seed", [(3, 0), (4, 1), (6, 2)])
def test_separated_blobs_match_sklearn(KMeans, k, seed):
    X, truth = make_blobs(n_samples=60 * k, centers=k, cluster_std=0.5, center_box=(-40, 40), random_state=seed)
    ours = KMeans(n_clusters=k, max_iter=100, tol=1e-4, random_state=seed).fit(X)
    theirs = SkKMeans(n_clusters=k, init="k-means++", n_init=3, random_state=seed).fit(X)
    assert same_partition(ours.labels, theirs.labels_)
    assert same_partition(ours.labels, truth)
    assert ours.inertia == pytest.approx(theirs.inertia_, rel=1e-6)
    assert ours.n_iter < 100
    assert np.array_equal(ours.labels, ours.predict(X))


def test_iris_from_the_same_start_matches_sklearn(KMeans):
    """Lloyd's iterations from identical starting centroids reach the same local minimum."""
    X = load_iris().data
    model = KMeans(n_clusters=3, max_iter=300, tol=1e-10, random_state=0)
    start = model._init_centroids_plusplus(X)
    model._init_centroids_plusplus = lambda data: start.copy()
    model.fit(X)
    theirs = SkKMeans(n_clusters=3, init=start, n_init=1, max_iter=300, tol=1e-10, algorithm="lloyd").fit(X)
    assert same_partition(model.labels, theirs.labels_)
    assert model.inertia == pytest.approx(theirs.inertia_, rel=1e-6)
    order = [int(np.argmin(np.sum((theirs.cluster_centers_ - c) ** 2, axis=1))) for c in model.centroids]
    np.testing.assert_allclose(model.centroids, theirs.cluster_centers_[order], rtol=1e-6, atol=1e-9)


def test_inertia_matches_an_independent_numpy_computation(KMeans):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    model = KMeans(n_clusters=5, random_state=3).fit(X)
    distances = np.linalg.norm(X[:, None, :] - model.centroids[None, :, :], axis=2)
    assert np.array_equal(model.labels, distances.argmin(axis=1))
    assert model.inertia == pytest.approx(float(np.sum(distances.min(axis=1) ** 2)), rel=1e-9)
