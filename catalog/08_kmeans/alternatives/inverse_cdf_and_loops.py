# %% [answer] id=kmeans
class KMeans:
    """k-means++ drawn by inverse CDF, assignment with a loop over the points, stop before applying a tiny move."""

    def __init__(self, n_clusters=3, max_iter=100, tol=1e-4, random_state=42):
        self.n_clusters = n_clusters
        self.max_iter = max_iter
        self.tol = tol
        self.rng = np.random.default_rng(random_state)
        self.centroids = None
        self.labels = None
        self.inertia = None
        self.n_iter = 0

    def _init_centroids_plusplus(self, X):
        n = len(X)
        chosen = [int(self.rng.integers(0, n))]
        closest = np.sum((X - X[chosen[0]]) ** 2, axis=1)
        while len(chosen) < self.n_clusters:
            cumulative = np.cumsum(closest)
            u = self.rng.random() * cumulative[-1]
            index = int(np.searchsorted(cumulative, u, side="right"))
            index = min(index, n - 1)
            while closest[index] == 0.0:          # never re-pick a chosen point (u landed on a flat step)
                index -= 1
            chosen.append(index)
            closest = np.minimum(closest, np.sum((X - X[index]) ** 2, axis=1))
        return X[chosen].astype(float)

    def fit(self, X):
        n = X.shape[0]
        self.centroids = self._init_centroids_plusplus(X)
        for iteration in range(self.max_iter):
            labels = self.predict(X)
            new = np.zeros_like(self.centroids)
            for j in range(self.n_clusters):
                mask = labels == j
                if mask.any():
                    new[j] = X[mask].mean(axis=0)
                else:
                    # re-seed at the point worst served by its current centroid
                    errors = np.sum((X - self.centroids[labels]) ** 2, axis=1)
                    new[j] = X[int(np.argmax(errors))]
            moved = np.sqrt(np.sum((new - self.centroids) ** 2))
            self.n_iter = iteration + 1
            if moved < self.tol:
                break
            self.centroids = new
        self.labels = self.predict(X)
        self.inertia = sum(float(np.sum((X[i] - self.centroids[self.labels[i]]) ** 2)) for i in range(n))
        return self

    def predict(self, X):
        out = np.zeros(len(X), dtype=np.int32)
        for i, x in enumerate(X):
            best, best_d = 0, np.inf
            for j, c in enumerate(self.centroids):
                dist = float(np.dot(x - c, x - c))
                if dist < best_d:
                    best, best_d = j, dist
            out[i] = best
        return out
