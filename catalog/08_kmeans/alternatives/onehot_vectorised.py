# %% [answer] id=kmeans
class KMeans:
    """Fully vectorised: generator made in fit, distance by expansion, update by a one-hot matrix product."""

    def __init__(self, n_clusters=3, max_iter=100, tol=1e-4, random_state=42):
        self.n_clusters = n_clusters
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    @staticmethod
    def _sq_distances(X, C):
        sq = np.sum(X ** 2, axis=1)[:, None] - 2.0 * X @ C.T + np.sum(C ** 2, axis=1)[None, :]
        return np.maximum(sq, 0.0)

    def _init_centroids_plusplus(self, X):
        n = X.shape[0]
        idx = [self._rng.choice(n)]
        for _ in range(self.n_clusters - 1):
            d2 = self._sq_distances(X, X[idx]).min(axis=1)
            d2[idx] = 0.0
            idx.append(self._rng.choice(n, p=d2 / d2.sum()))
        return X[np.array(idx)].copy()

    def fit(self, X):
        self._rng = np.random.default_rng(self.random_state)
        n, k = X.shape[0], self.n_clusters
        self.centroids = self._init_centroids_plusplus(X)
        self.n_iter = 0
        while self.n_iter < self.max_iter:
            onehot = np.eye(k)[self.predict(X)]                    # (n, k)
            counts = onehot.sum(axis=0)                            # (k,)
            new = (onehot.T @ X) / np.maximum(counts, 1)[:, None]  # (k, d)
            for j in np.flatnonzero(counts == 0):
                new[j] = X[self._rng.choice(n)]
            shift = np.linalg.norm((new - self.centroids).ravel())
            self.centroids = new
            self.n_iter += 1
            if shift < self.tol:
                break
        self.labels = self.predict(X)
        self.inertia = np.sum(self._sq_distances(X, self.centroids)[np.arange(n), self.labels])
        return self

    def predict(self, X):
        return self._sq_distances(X, self.centroids).argmin(axis=1)
