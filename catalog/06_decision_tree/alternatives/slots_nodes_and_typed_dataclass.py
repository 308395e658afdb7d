# %% [answer] id=decision_tree
from __future__ import annotations

import warnings
from dataclasses import dataclass


class Node:
    """A tree node with __slots__, a __repr__ through self.__class__.__name__, and __len__ / __eq__ / __lt__."""

    __slots__ = ("feature", "threshold", "left", "right", "value")

    def __init__(self, feature: int | None = None, threshold: float | None = None,
                 left: Node | None = None, right: Node | None = None, value: int | None = None) -> None:
        self.feature, self.threshold, self.left, self.right, self.value = feature, threshold, left, right, value

    def __len__(self) -> int:
        """Number of nodes in this subtree."""
        return 1 if self.value is not None else 1 + len(self.left) + len(self.right)

    def __eq__(self, other: object) -> bool:
        return self is other

    def __lt__(self, other: Node) -> bool:
        return len(self) < len(other)

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        if self.value is not None:
            return f"{self.__class__.__name__}(value={self.value})"
        return f"{self.__class__.__name__}(x[{self.feature}] <= {self.threshold:.3g})"


@dataclass(frozen=True)
class Split:
    feature: int
    threshold: float
    gain: float


class DecisionTreeClassifier:
    """The impurity is picked with getattr from the criterion's name; splits are frozen dataclasses."""

    def __init__(self, max_depth: int = 10, min_samples_split: int = 2, criterion: str = "entropy") -> None:
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.criterion = criterion
        self.root: Node | None = None

    @staticmethod
    def _entropy(y: np.ndarray) -> float:
        if len(y) == 0:
            return 0.0
        p = np.bincount(y) / len(y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # log2(0) of absent classes, dropped below
            terms = np.where(p > 0, p * np.log2(p), 0.0)
        return float(-np.sum(terms))

    @staticmethod
    def _gini(y: np.ndarray) -> float:
        if len(y) == 0:
            return 0.0
        p = np.bincount(y) / len(y)
        return float(1.0 - np.sum(p ** 2))

    def _information_gain(self, y: np.ndarray, left_mask: np.ndarray) -> float:
        impurity = getattr(self, f"_{self.criterion}")
        y_left, y_right = y[left_mask], y[~left_mask]
        if len(y_left) == 0 or len(y_right) == 0:
            return 0.0
        n = len(y)
        return impurity(y) - (len(y_left) / n * impurity(y_left) + len(y_right) / n * impurity(y_right))

    def _best_split(self, X: np.ndarray, y: np.ndarray) -> tuple[int | None, float | None, float]:
        best: Split | None = None
        for feature in range(X.shape[1]):
            values = np.unique(X[:, feature])
            for threshold in (values[:-1] + values[1:]) / 2:
                gain = self._information_gain(y, X[:, feature] <= threshold)
                if best is None or gain > best.gain:
                    best = Split(feature, float(threshold), gain)
        return (best.feature, best.threshold, best.gain) if best else (None, None, -np.inf)

    def _grow(self, X: np.ndarray, y: np.ndarray, depth: int) -> Node:
        leaf = Node(value=int(np.argmax(np.bincount(y))))
        if depth >= self.max_depth or len(y) < self.min_samples_split or len(np.unique(y)) == 1:
            return leaf
        feature, threshold, gain = self._best_split(X, y)
        if gain <= 0:
            return leaf
        left = X[:, feature] <= threshold
        return Node(feature, threshold, self._grow(X[left], y[left], depth + 1),
                    self._grow(X[~left], y[~left], depth + 1))

    def fit(self, X: np.ndarray, y: np.ndarray) -> DecisionTreeClassifier:
        self.root = self._grow(np.asarray(X, dtype=float), np.asarray(y), 0)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        out = np.empty(len(X), dtype=int)
        for i, x in enumerate(X):
            node = self.root
            while node.value is None:
                node = node.left if x[node.feature] <= node.threshold else node.right
            out[i] = node.value
        return out


if __name__ == "__main__":
    tree = DecisionTreeClassifier(max_depth=2).fit(np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1]))
    print(tree.root, len(tree.root))
