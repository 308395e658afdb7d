# %% [answer] id=decision_tree
import math
from collections import Counter


class Leaf:
    def __init__(self, value):
        self.feature = None
        self.threshold = None
        self.left = None
        self.right = None
        self.value = value


class Split:
    def __init__(self, feature, threshold, left, right):
        self.feature = feature
        self.threshold = threshold
        self.left = left
        self.right = right
        self.value = None


class DecisionTreeClassifier:
    """Plain-Python style: Counter-based impurities, explicit loops, a recursive builder."""

    def __init__(self, max_depth=10, min_samples_split=2, criterion="entropy"):
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.criterion = criterion

    def _entropy(self, y):
        n = len(y)
        total = 0.0
        for count in Counter(y.tolist()).values():
            p = count / n
            total -= p * math.log2(p)
        return total

    def _gini(self, y):
        n = len(y)
        if n == 0:
            return 0.0
        return 1.0 - sum((count / n) ** 2 for count in Counter(y.tolist()).values())

    def _information_gain(self, y, left_mask):
        measure = self._gini if self.criterion == "gini" else self._entropy
        left, right = y[left_mask], y[np.logical_not(left_mask)]
        if left.size == 0 or right.size == 0:
            return 0.0
        w = left.size / y.size
        return measure(y) - w * measure(left) - (1 - w) * measure(right)

    def _best_split(self, X, y):
        best_gain, best_feature, best_threshold = 0.0, 0, 0.0
        found = False
        for j in range(X.shape[1]):
            column = X[:, j]
            values = sorted(set(column.tolist()))
            for a, b in zip(values, values[1:]):
                t = (a + b) / 2
                g = self._information_gain(y, column <= t)
                if not found or g > best_gain:
                    best_gain, best_feature, best_threshold, found = g, j, t, True
        if not found:
            return [None, None, 0.0]
        return [best_feature, best_threshold, best_gain]          # a list: SPEC asks for the three values

    def _leaf(self, y):
        counts = Counter(y.tolist())
        top = max(counts.values())
        return Leaf(min(label for label, c in counts.items() if c == top))

    def _build(self, X, y, depth):
        if depth == self.max_depth or len(y) < self.min_samples_split or len(set(y.tolist())) == 1:
            return self._leaf(y)
        feature, threshold, gain = self._best_split(X, y)
        if gain <= 0:
            return self._leaf(y)
        mask = X[:, feature] <= threshold
        return Split(feature, threshold, self._build(X[mask], y[mask], depth + 1),
                     self._build(X[~mask], y[~mask], depth + 1))

    def fit(self, X, y):
        self.root = self._build(X, y, 0)
        return self

    def _predict_one(self, node, x):
        if node.value is not None:
            return node.value
        if x[node.feature] <= node.threshold:
            return self._predict_one(node.left, x)
        return self._predict_one(node.right, x)

    def predict(self, X):
        return np.array([self._predict_one(self.root, row) for row in X], dtype=np.int32)
