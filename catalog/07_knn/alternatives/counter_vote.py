# %% [answer] id=distances
def euclidean_distances(A, B):
    """sqrt of the summed squared differences, looping only over the d features."""
    total = np.zeros((A.shape[0], B.shape[0]))
    for j in range(A.shape[1]):
        diff = A[:, j][:, np.newaxis] - B[:, j][np.newaxis, :]
        total += diff * diff
    return np.sqrt(total)

# %% [answer] id=knn
from collections import Counter


class KNNClassifier:
    """Counter vote with an explicit smallest-label tie break, one query at a time."""

    def __init__(self, k=5):
        self.k = k
        self.points = None
        self.labels = None

    def fit(self, X, y):
        self.points = np.array(X, dtype=float)
        self.labels = [int(label) for label in y]
        return self

    def predict(self, X):
        distances = euclidean_distances(X, self.points)
        predictions = []
        for row in distances:
            idx = np.argpartition(row, self.k - 1)[: self.k] if self.k < len(row) else np.arange(len(row))
            counts = Counter(self.labels[i] for i in idx)
            top = max(counts.values())
            predictions.append(min(label for label, count in counts.items() if count == top))
        return np.array(predictions)
