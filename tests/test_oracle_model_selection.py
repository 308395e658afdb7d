"""Oracle for 10_model_selection: the reference solution against scikit-learn (test-only) on bundled data.

Tolerances: index counts must match exactly; cross-validated accuracies must match scikit-learn's
cross_val_score on the same folds to 1e-12 (both count correct predictions of the same model).
Where the specification differs from scikit-learn on purpose it is stated below:
- the test set has int(n * test_size) rows (floor); scikit-learn's train_test_split takes ceil(n * test_size);
- the last k-fold fold takes all n % k leftover rows; scikit-learn's KFold gives one extra row to each of the first n % k folds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import datasets, model_selection
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import NearestCentroid

from support import load_reference

NS = load_reference("10_model_selection")
train_test_split = NS["train_test_split"]
k_fold_cross_validation = NS["k_fold_cross_validation"]
stratified_k_fold = NS["stratified_k_fold"]


@pytest.fixture(scope="module")
def iris():
    X, y = datasets.load_iris(return_X_y=True)
    return X, y


@pytest.fixture(scope="module")
def cancer():
    X, y = datasets.load_breast_cancer(return_X_y=True)
    return X, y


@pytest.mark.parametrize("test_size", [0.2, 0.4, 0.5])
def test_split_sizes_match_sklearn_when_n_times_test_size_is_whole(iris, test_size):
    X, y = iris
    ours = train_test_split(X, y, test_size=test_size, random_state=0)
    theirs = model_selection.train_test_split(X, y, test_size=test_size, random_state=0)
    assert [len(a) for a in ours] == [len(a) for a in theirs]


def test_split_size_is_floor_where_sklearn_takes_ceil(cancer):
    X, y = cancer
    n = len(X)                                   # 569 * 0.25 = 142.25
    ours = train_test_split(X, y, test_size=0.25, random_state=0)
    theirs = model_selection.train_test_split(X, y, test_size=0.25, random_state=0)
    assert len(ours[1]) == math.floor(n * 0.25) == 142
    assert len(theirs[1]) == math.ceil(n * 0.25) == 143


@pytest.mark.parametrize("test_size", [0.2, 0.4])
def test_stratified_class_counts_match_sklearn(iris, test_size):
    X, y = iris                                  # 50 per class: n_c * test_size is whole
    _, _, _, y_ours = train_test_split(X, y, test_size=test_size, random_state=1, stratify=y)
    _, _, _, y_theirs = model_selection.train_test_split(X, y, test_size=test_size, random_state=1, stratify=y)
    assert np.array_equal(np.bincount(y_ours, minlength=3), np.bincount(y_theirs, minlength=3))


def test_stratified_class_counts_on_imbalanced_data(cancer):
    X, y = cancer                                # 212 malignant, 357 benign
    _, X_test, _, y_test = train_test_split(X, y, test_size=0.3, random_state=2, stratify=y)
    assert np.array_equal(np.bincount(y_test), [int(212 * 0.3), int(357 * 0.3)])
    _, _, _, y_theirs = model_selection.train_test_split(X, y, test_size=0.3, random_state=2, stratify=y)
    # scikit-learn allocates ceil(0.3 * 569) = 171 test rows; ours floors per class: 63 + 107 = 170.
    assert np.all(np.abs(np.bincount(y_test) - np.bincount(y_theirs)) <= 1)


class _Recorder:
    """NearestCentroid on X[:, 1:], logging the row ids (X[:, 0]) of every fit and predict."""

    log: list = []

    def __init__(self):
        self.inner = NearestCentroid()

    def fit(self, X, y):
        self.train = X[:, 0].astype(int)
        self.inner.fit(X[:, 1:], y)
        return self

    def predict(self, X):
        _Recorder.log.append((self.train, X[:, 0].astype(int)))
        return self.inner.predict(X[:, 1:])


def _record(X, y, k, random_state=42):
    _Recorder.log = []
    X_ids = np.column_stack([np.arange(len(X)), X])
    result = k_fold_cross_validation(X_ids, y, _Recorder, {}, k=k, random_state=random_state)
    return result, list(_Recorder.log)


@pytest.mark.parametrize("dataset, k", [("iris", 5), ("iris", 4), ("cancer", 5)])
def test_fold_sizes_against_kfold(dataset, k, request):
    X, y = request.getfixturevalue(dataset)
    n = len(X)
    _, folds = _record(X, y, k)
    ours = [len(test) for _, test in folds]
    theirs = [len(test) for _, test in model_selection.KFold(n_splits=k, shuffle=True, random_state=0).split(X)]
    assert sum(ours) == sum(theirs) == n
    if n % k == 0:
        assert ours == theirs
    else:
        assert ours == [n // k] * (k - 1) + [n // k + n % k]
        assert sorted(theirs, reverse=True) == [n // k + 1] * (n % k) + [n // k] * (k - n % k)


@pytest.mark.parametrize("dataset, k", [("iris", 5), ("cancer", 3)])
def test_cv_accuracy_matches_cross_val_score_on_the_same_folds(dataset, k, request):
    X, y = request.getfixturevalue(dataset)
    result, folds = _record(X, y, k)
    cv = [(train, test) for train, test in folds]
    expected = cross_val_score(NearestCentroid(), X, y, cv=cv, scoring="accuracy")
    # An independent NumPy loop over the same folds as a second opinion.
    by_hand = []
    for train, test in folds:
        centroids = np.array([X[train][y[train] == c].mean(axis=0) for c in np.unique(y)])
        predicted = np.argmin(((X[test][:, None, :] - centroids[None]) ** 2).sum(axis=2), axis=1)
        by_hand.append(np.mean(predicted == y[test]))
    np.testing.assert_allclose(result["scores"], expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result["scores"], by_hand, rtol=0, atol=1e-12)
    assert result["mean"] == pytest.approx(np.mean(expected), abs=1e-12)
    assert result["std"] == pytest.approx(np.std(expected), abs=1e-12)


@pytest.mark.parametrize("dataset, k", [("iris", 5), ("iris", 3), ("cancer", 10)])
def test_stratified_per_class_fold_counts_match_stratified_kfold(dataset, k, request):
    X, y = request.getfixturevalue(dataset)
    ours = [np.bincount(y[test], minlength=y.max() + 1) for _, test in stratified_k_fold(X, y, k=k)]
    theirs = [np.bincount(y[test], minlength=y.max() + 1)
              for _, test in model_selection.StratifiedKFold(n_splits=k, shuffle=True, random_state=0).split(X, y)]
    # Both spread each class as evenly as possible; which fold gets an extra row may differ.
    for c in range(y.max() + 1):
        assert sorted(f[c] for f in ours) == sorted(f[c] for f in theirs)
    tested = np.concatenate([test for _, test in stratified_k_fold(X, y, k=k)])
    assert np.array_equal(np.sort(tested), np.arange(len(y)))
