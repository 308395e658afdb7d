# %% [answer] id=decision_tree
from collections import deque


class Node:
    def __init__(self):
        self.feature = None
        self.threshold = None
        self.left = None
        self.right = None
        self.value = None

    def __repr__(self):
        if self.value is not None:
            return f"Leaf({self.value})"
        return f"Node(x[{self.feature}] <= {self.threshold:.3g})"


class DecisionTreeClassifier:
    """Every candidate split of a feature at once as a boolean matrix; breadth-first growth with a queue."""

    def __init__(self, max_depth=10, min_samples_split=2, criterion="entropy"):
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.criterion = criterion
        self.root = None

    @staticmethod
    def _entropy(y):
        counts = np.bincount(y).astype(float)
        if counts.sum() == 0:
            return 0.0
        p = counts / counts.sum()
        return float(-np.sum(p * np.log2(p, out=np.zeros_like(p), where=p > 0)))

    @staticmethod
    def _gini(y):
        counts = np.bincount(y)
        n = counts.sum()
        return 0.0 if n == 0 else float(1 - np.sum(counts ** 2) / n ** 2)

    def _measure(self, y):
        return self._gini(y) if self.criterion == "gini" else self._entropy(y)

    def _information_gain(self, y, left_mask):
        left_mask = np.asarray(left_mask, dtype=bool)
        if left_mask.all() or not left_mask.any():
            return 0.0
        frac = left_mask.mean()
        return self._measure(y) - (frac * self._measure(y[left_mask]) + (1 - frac) * self._measure(y[~left_mask]))

    def _best_split(self, X, y):
        best_feature, best_threshold, best_gain = -1, 0.0, float("-inf")
        for feature in range(X.shape[1]):
            v = np.unique(X[:, feature])
            if len(v) < 2:
                continue
            cuts = v[:-1] + (v[1:] - v[:-1]) / 2
            masks = X[:, feature][None, :] <= cuts[:, None]           # (k, n): one row per candidate
            gains = np.array([self._information_gain(y, m) for m in masks])
            k = int(np.argmax(gains))
            if gains[k] > best_gain:
                best_feature, best_threshold, best_gain = feature, float(cuts[k]), float(gains[k])
        return best_feature, best_threshold, best_gain

    def fit(self, X, y):
        self.root = Node()
        queue = deque([(self.root, X, y, 0)])
        while queue:
            node, Xn, yn, depth = queue.popleft()
            counts = np.bincount(yn)
            stop = depth >= self.max_depth or yn.shape[0] < self.min_samples_split or np.count_nonzero(counts) == 1
            if not stop:
                feature, threshold, gain = self._best_split(Xn, yn)
                stop = gain <= 0
            if stop:
                node.value = int(counts.argmax())
                continue
            mask = Xn[:, feature] <= threshold
            node.feature, node.threshold, node.left, node.right = feature, threshold, Node(), Node()
            queue.append((node.left, Xn[mask], yn[mask], depth + 1))
            queue.append((node.right, Xn[~mask], yn[~mask], depth + 1))
        return self

    def predict(self, X):
        labels = []
        for x in X:
            node = self.root
            while node.value is None:
                node = node.left if x[node.feature] <= node.threshold else node.right
            labels.append(node.value)
        return np.asarray(labels)
