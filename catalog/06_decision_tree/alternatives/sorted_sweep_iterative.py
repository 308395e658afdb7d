# %% [answer] id=decision_tree
from dataclasses import dataclass
from typing import Optional


@dataclass
class TreeNode:
    feature: Optional[int] = None
    threshold: Optional[float] = None
    left: Optional["TreeNode"] = None
    right: Optional["TreeNode"] = None
    value: Optional[int] = None


class DecisionTreeClassifier:
    """Splits found by sorting each feature once and sweeping with cumulative class counts;
    the tree is built with an explicit stack instead of recursion."""

    def __init__(self, max_depth=10, min_samples_split=2, criterion="entropy"):
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.criterion = criterion
        self.root = None

    @staticmethod
    def _entropy(y):
        if y.size == 0:
            return 0
        _, counts = np.unique(y, return_counts=True)
        p = counts / y.size
        return -np.sum(p * np.log2(p))

    @staticmethod
    def _gini(y):
        if y.size == 0:
            return 0
        _, counts = np.unique(y, return_counts=True)
        p = counts / y.size
        return 1 - np.dot(p, p)

    def _information_gain(self, y, left_mask):
        impurity = self._entropy if self.criterion == "entropy" else self._gini
        n_left = int(np.count_nonzero(left_mask))
        if n_left == 0 or n_left == len(y):
            return 0.0
        n = len(y)
        return impurity(y) - (n_left * impurity(y[left_mask]) + (n - n_left) * impurity(y[~left_mask])) / n

    def _impurity_of_counts(self, counts):
        """counts: (k, C) class counts of k candidate children. Returns (k,) impurities."""
        totals = counts.sum(axis=1, keepdims=True)
        p = counts / np.maximum(totals, 1)
        if self.criterion == "gini":
            return 1 - np.sum(p ** 2, axis=1)
        logs = np.log2(np.where(p > 0, p, 1.0))
        return -np.sum(p * logs, axis=1)

    def _best_split(self, X, y):
        n, d = X.shape
        n_classes = int(y.max()) + 1
        one_hot = np.zeros((n, n_classes))
        one_hot[np.arange(n), y] = 1
        total = one_hot.sum(axis=0)
        parent = self._impurity_of_counts(total[None, :])[0]
        best = (None, None, -np.inf)
        for j in range(d):
            order = np.argsort(X[:, j], kind="stable")
            xs = X[order, j]
            left_counts = np.cumsum(one_hot[order], axis=0)[:-1]       # left = first i + 1 sorted rows
            valid = xs[:-1] < xs[1:]                                     # only between distinct values
            if not valid.any():
                continue
            left_counts = left_counts[valid]
            right_counts = total - left_counts
            n_left = np.arange(1, n)[valid]
            gains = parent - (n_left * self._impurity_of_counts(left_counts)
                              + (n - n_left) * self._impurity_of_counts(right_counts)) / n
            k = int(np.argmax(gains))                                    # first maximum = lowest threshold
            if gains[k] > best[2]:
                i = np.flatnonzero(valid)[k]
                best = (j, (xs[i] + xs[i + 1]) / 2, gains[k])
        return best

    def fit(self, X, y):
        X = np.asarray(X, dtype=float)
        y = np.asarray(y)
        self.root = TreeNode()
        stack = [(self.root, np.arange(len(y)), 0)]
        while stack:
            node, rows, depth = stack.pop()
            labels = y[rows]
            counts = np.bincount(labels)
            if depth >= self.max_depth or len(rows) < self.min_samples_split or counts.max() == len(rows):
                node.value = int(np.argmax(counts))
                continue
            feature, threshold, gain = self._best_split(X[rows], labels)
            if not gain > 0:
                node.value = int(np.argmax(counts))
                continue
            goes_left = X[rows, feature] <= threshold
            node.feature, node.threshold = feature, threshold
            node.left, node.right = TreeNode(), TreeNode()
            stack.append((node.right, rows[~goes_left], depth + 1))
            stack.append((node.left, rows[goes_left], depth + 1))
        return self

    def predict(self, X):
        X = np.asarray(X, dtype=float)
        out = np.zeros(len(X), dtype=np.int64)
        stack = [(self.root, np.arange(len(X)))]
        while stack:
            node, rows = stack.pop()
            if node.value is not None:
                out[rows] = node.value
                continue
            left = X[rows, node.feature] <= node.threshold
            stack.append((node.left, rows[left]))
            stack.append((node.right, rows[~left]))
        return out
