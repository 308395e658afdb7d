"""07_knn's reference solution against scikit-learn (a test-only oracle) on the wine data bundled with scikit-learn.

Tolerances: distances to 1e-9 absolute (both use the |a|^2 + |b|^2 - 2ab expansion on standardised data of
order 1, where rounding is ~1e-13); predictions exactly equal, after checking that the data have no distance tie
at the k-th neighbour (so "the k nearest" is unambiguous) -- vote ties go to the smallest label in both.
"""

from __future__ import annotations

import numpy as np
import pytest

from support import load_reference

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_wine  # noqa: E402
from sklearn.metrics.pairwise import euclidean_distances as sk_distances  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402


@pytest.fixture(scope="module")
def ns():
    return load_reference("07_knn")


@pytest.fixture(scope="module")
def wine():
    X, y = load_wine(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    order = np.random.default_rng(7).permutation(len(X))
    train, test = order[:120], order[120:]
    return X[train], y[train], X[test], y[test]


def test_distances_match_sklearn(ns, wine):
    X_train, _, X_test, _ = wine
    ours = ns["euclidean_distances"](X_test, X_train)
    assert ours.shape == (len(X_test), len(X_train))
    np.testing.assert_allclose(ours, sk_distances(X_test, X_train), rtol=0, atol=1e-9)
    self_distances = ns["euclidean_distances"](X_train, X_train)
    assert np.all(np.isfinite(self_distances))
    np.testing.assert_allclose(np.diag(self_distances), 0.0, atol=1e-6)


def test_distances_match_sklearn_far_from_origin(ns, wine):
    X_train = wine[0] + 1e4
    ours = ns["euclidean_distances"](X_train, X_train)
    assert np.all(np.isfinite(ours))
    assert np.abs(np.diag(ours)).max() <= 1e-6 * np.abs(X_train).max()
    exact = np.sqrt(((X_train[:, None, :] - X_train[None, :, :]) ** 2).sum(axis=2))
    np.testing.assert_allclose(ours, exact, rtol=0, atol=1e-3)


@pytest.mark.parametrize("k", [1, 3, 4, 5, 8, 15])
def test_predictions_match_kneighbors_classifier(ns, wine, k):
    X_train, y_train, X_test, y_test = wine
    ranked = np.sort(sk_distances(X_test, X_train), axis=1)
    assert np.min(ranked[:, k] - ranked[:, k - 1]) > 1e-9, "the oracle needs data without a tie at the k-th neighbour"
    ours = ns["KNNClassifier"](k=k).fit(X_train, y_train).predict(X_test)
    theirs = KNeighborsClassifier(n_neighbors=k, algorithm="brute").fit(X_train, y_train).predict(X_test)
    assert ours.dtype.kind in "iu" and ours.shape == (len(X_test),)
    np.testing.assert_array_equal(ours, theirs)
    assert np.mean(ours == y_test) > 0.9


def test_k1_reproduces_training_labels(ns, wine):
    X_train, y_train, _, _ = wine
    np.testing.assert_array_equal(ns["KNNClassifier"](k=1).fit(X_train, y_train).predict(X_train), y_train)
