# %% [answer] id=distances
from __future__ import annotations


def euclidean_distances(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """|a|^2 - 2 a.b + |b|^2 with type hints, clamped at zero before the square root; (len(A), len(B))."""
    squared = (A * A).sum(axis=1)[:, np.newaxis] - 2.0 * (A @ B.T) + (B * B).sum(axis=1)[np.newaxis, :]
    return np.sqrt(np.maximum(squared, 0.0))

# %% [answer] id=knn
from __future__ import annotations

import copy
import heapq
from abc import ABC, abstractmethod


class _Neighbour:
    """A training point as a heap item: ordered by distance, then index (__slots__, __lt__, __eq__)."""

    __slots__ = ("distance", "index")

    def __init__(self, distance: float, index: int) -> None:
        self.distance, self.index = distance, index

    def __lt__(self, other: _Neighbour) -> bool:
        return (self.distance, self.index) < (other.distance, other.index)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Neighbour) and (self.distance, self.index) == (other.distance, other.index)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.distance:.3g}, {self.index})"


class _Classifier(ABC):
    @abstractmethod
    def predict(self, X: np.ndarray) -> np.ndarray: ...


class KNNClassifier(_Classifier):
    """argpartition picks the k nearest (no full sort); a heap of _Neighbour items orders only those k."""

    def __init__(self, k: int = 5) -> None:
        self.k = k

    def __len__(self) -> int:
        return len(self.train_y)

    def fit(self, X: np.ndarray, y: np.ndarray) -> KNNClassifier:
        self.train_X, self.train_y = copy.deepcopy(X), np.asarray(y, dtype=int).copy()
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        distances = euclidean_distances(X, self.train_X)
        k = min(self.k, len(self))
        labels = np.empty(len(X), dtype=int)
        for row, d in enumerate(distances):
            nearest = np.argpartition(d, k - 1)[:k]
            heap = [_Neighbour(float(d[j]), int(j)) for j in nearest]
            heapq.heapify(heap)
            votes = np.bincount(self.train_y[[item.index for item in heap]])
            labels[row] = int(np.argmax(votes))          # argmax picks the smallest label among ties
        return labels


if __name__ == "__main__":
    points = np.array([[0.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    print(KNNClassifier(k=1).fit(points, np.array([0, 0, 1])).predict(np.array([[4.0, 4.0]])))
