"""The reference decision tree of 06_decision_tree against scikit-learn (a test-only oracle).

Data: the wine recognition data bundled with scikit-learn (178 rows, 13 features, 3 classes), whose root split is
unique for both criteria (no ties, so scikit-learn's random feature order cannot matter there).

Tolerances: scikit-learn stores X as float32, so its thresholds are midpoints of float32-rounded values: compared
with rtol 1e-6. Impurities and gains are float64 on both sides: compared with atol 1e-9.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_wine
from sklearn.metrics import mutual_info_score
from sklearn.tree import DecisionTreeClassifier as SklearnTree

from support import load_reference

ns = load_reference("06_decision_tree")
DecisionTreeClassifier = ns["DecisionTreeClassifier"]
X_WINE, Y_WINE = load_wine(return_X_y=True)


def root_of(tree):
    """(feature, threshold, gain) of a fitted scikit-learn tree's root, gain weighted by child sizes."""
    t = tree.tree_
    left, right = t.children_left[0], t.children_right[0]
    n, n_left, n_right = t.n_node_samples[0], t.n_node_samples[left], t.n_node_samples[right]
    gain = t.impurity[0] - (n_left * t.impurity[left] + n_right * t.impurity[right]) / n
    return int(t.feature[0]), float(t.threshold[0]), float(gain)


@pytest.mark.parametrize("criterion", ["entropy", "gini"])
def test_root_impurity_matches_sklearn(criterion):
    tree = SklearnTree(criterion=criterion, max_depth=1, random_state=0).fit(X_WINE, Y_WINE)
    ours = DecisionTreeClassifier(criterion=criterion)
    impurity = ours._entropy(Y_WINE) if criterion == "entropy" else ours._gini(Y_WINE)
    assert impurity == pytest.approx(tree.tree_.impurity[0], abs=1e-9)   # scikit-learn's entropy is in bits too


@pytest.mark.parametrize("criterion", ["entropy", "gini"])
def test_root_split_matches_sklearn(criterion):
    feature, threshold, gain = DecisionTreeClassifier(criterion=criterion)._best_split(X_WINE, Y_WINE)
    for random_state in range(3):                  # the root has no tie: every feature order agrees
        sk_feature, sk_threshold, sk_gain = root_of(
            SklearnTree(criterion=criterion, max_depth=1, random_state=random_state).fit(X_WINE, Y_WINE))
        assert feature == sk_feature
        assert threshold == pytest.approx(sk_threshold, rel=1e-6)
        assert gain == pytest.approx(sk_gain, abs=1e-9)


def test_stump_predictions_match_sklearn():
    ours = DecisionTreeClassifier(max_depth=1).fit(X_WINE, Y_WINE)
    theirs = SklearnTree(criterion="entropy", max_depth=1, random_state=0).fit(X_WINE, Y_WINE)
    assert ours.root.feature == theirs.tree_.feature[0]
    np.testing.assert_array_equal(ours.predict(X_WINE), theirs.predict(X_WINE))


@pytest.mark.parametrize("criterion", ["entropy", "gini"])
def test_full_depth_fits_the_training_data_like_sklearn(criterion):
    X = X_WINE[:, [0, 9]]                          # alcohol, colour intensity: no duplicate rows, small and quick
    assert len(np.unique(X, axis=0)) == len(X)
    ours = DecisionTreeClassifier(max_depth=100, criterion=criterion).fit(X, Y_WINE)
    theirs = SklearnTree(criterion=criterion, random_state=0).fit(X, Y_WINE)
    assert np.mean(theirs.predict(X) == Y_WINE) == 1.0
    assert np.mean(ours.predict(X) == Y_WINE) == 1.0


def test_information_gain_is_mutual_information_in_bits():
    # The entropy gain of a split equals the mutual information between the label and the side (nats / ln 2).
    rng = np.random.default_rng(0)
    for _ in range(5):
        mask = rng.random(len(Y_WINE)) < rng.uniform(0.1, 0.9)
        gain = DecisionTreeClassifier()._information_gain(Y_WINE, mask)
        assert gain == pytest.approx(mutual_info_score(Y_WINE, mask) / np.log(2), abs=1e-9)


def test_gini_gain_against_numpy():
    rng = np.random.default_rng(1)
    mask = rng.random(len(Y_WINE)) < 0.3

    def gini(y):
        p = np.bincount(y, minlength=3) / len(y)
        return 1 - p @ p

    expected = gini(Y_WINE) - (mask.mean() * gini(Y_WINE[mask]) + (1 - mask.mean()) * gini(Y_WINE[~mask]))
    gain = DecisionTreeClassifier(criterion="gini")._information_gain(Y_WINE, mask)
    assert gain == pytest.approx(expected, abs=1e-12)
