# %% [answer] id=distances
def euclidean_distances(A, B):
    """Broadcast the (m, n, d) differences and take their norm along the last axis."""
    A = np.asarray(A, dtype=float)
    B = np.asarray(B, dtype=float)
    return np.linalg.norm(A[:, None, :] - B[None, :, :], axis=2)

# %% [answer] id=knn
class KNNClassifier:
    """np.argpartition per query (a partial sort) and np.bincount for the vote."""

    def __init__(self, k=5):
        self.k = k

    def fit(self, X, y):
        self.X = X.copy()
        self.y = y.copy()
        return self

    def predict(self, X):
        order = np.argpartition(euclidean_distances(X, self.X), self.k - 1, axis=1)[:, :self.k]
        out = []
        for row in order:
            out.append(np.bincount(self.y[row]).argmax())
        return np.array(out, dtype=np.int64)
