# %% [answer] id=kmeans
import math
from typing import List


class KMeans:
    """k-means++ keeping the nearest-centroid distance up to date; sums accumulated per cluster with np.add.at."""

    def __init__(self, n_clusters=3, max_iter=100, tol=1e-4, random_state=42):
        self.n_clusters = n_clusters
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.rng = np.random.default_rng(random_state)

    def _init_centroids_plusplus(self, X):
        n, d = X.shape
        centroids = np.empty((self.n_clusters, d))
        centroids[0] = X[self.rng.choice(n)]
        nearest_sq = np.linalg.norm(X - centroids[0], axis=1) ** 2
        for j in range(1, self.n_clusters):
            centroids[j] = X[self.rng.choice(n, p=nearest_sq / np.sum(nearest_sq))]
            nearest_sq = np.minimum(nearest_sq, np.linalg.norm(X - centroids[j], axis=1) ** 2)
        return centroids

    def fit(self, X):
        n, d = X.shape
        self.centroids = self._init_centroids_plusplus(X)
        iterations: List[int] = []
        for it in range(1, self.max_iter + 1):
            iterations.append(it)
            labels = self.predict(X)
            sums = np.zeros((self.n_clusters, d))
            np.add.at(sums, labels, X)
            counts = np.bincount(labels, minlength=self.n_clusters)
            new = np.empty_like(sums)
            for j in range(self.n_clusters):
                new[j] = sums[j] / counts[j] if counts[j] > 0 else X[self.rng.integers(n)]
            old, self.centroids = self.centroids, new
            if math.sqrt(float(np.sum((new - old) ** 2))) < self.tol:
                break
        self.n_iter = len(iterations)
        self.labels = self.predict(X)
        residual = X - self.centroids[self.labels]
        self.inertia = float(np.einsum("ij,ij->", residual, residual))
        return self

    def predict(self, X):
        distances = np.linalg.norm(X[:, np.newaxis, :] - self.centroids[np.newaxis, :, :], axis=-1)
        return np.argmin(distances, axis=1).astype(np.int64)
