# %% [answer] id=pca
class PCA:
    """PCA with np.cov and a fixed sign convention: the largest-|.| entry of every component is negative."""

    def __init__(self, n_components, method="eigh"):
        self.n_components = n_components
        self.method = method

    def _flip(self, rows):
        biggest = rows[np.arange(len(rows)), np.argmax(np.abs(rows), axis=1)]
        return rows * -np.sign(biggest)[:, None]

    def fit(self, X):
        X = np.asarray(X, dtype=float)
        n = X.shape[0]
        self.mean = np.mean(X, axis=0)
        if self.method == "svd":
            U, s, Vt = np.linalg.svd(X - self.mean)
            lam = s * s / (n - 1)
            rows = Vt[: len(s)]
        else:
            lam, vecs = np.linalg.eigh(np.cov(X, rowvar=False))
            idx = np.argsort(-lam)
            lam = lam[idx]
            rows = vecs.T[idx]
        total = np.trace(np.cov(X, rowvar=False).reshape(X.shape[1], X.shape[1]))
        k = self.n_components
        self.components = self._flip(rows[:k])
        self.explained_variance = lam[:k].copy()
        self.explained_variance_ratio = lam[:k] / total
        return self

    def transform(self, X):
        return np.einsum("nd,kd->nk", X - self.mean, self.components)

    def fit_transform(self, X):
        self.fit(X)
        return self.transform(X)

    def inverse_transform(self, Z):
        return np.einsum("nk,kd->nd", Z, self.components) + self.mean
