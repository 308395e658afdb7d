# %% [answer] id=pca
class PCA:
    """Covariance as X.T @ X / (n - 1) - correction, order with np.flip, every component negated."""

    def __init__(self, n_components, method="eigh"):
        self.n_components = n_components
        self.method = method

    def fit(self, X):
        n, d = X.shape
        k = self.n_components
        self.mean = X.sum(axis=0) / n
        centred = X - self.mean[None, :]
        if self.method == "svd":
            _, s, vt = np.linalg.svd(centred, full_matrices=False)
            var = (s ** 2) / (n - 1)
            self.components = -vt[:k, :]
        else:
            gram = np.dot(centred.T, centred) / (n - 1)
            gram = (gram + gram.T) / 2
            w, v = np.linalg.eigh(gram)
            var = np.flip(w)
            self.components = -np.flip(v, axis=1)[:, :k].T
        self.explained_variance = np.asarray(var[:k], dtype=np.float64)
        total_variance = np.var(X, axis=0, ddof=1).sum()
        self.explained_variance_ratio = self.explained_variance / total_variance
        return self

    def transform(self, X):
        return np.dot(X - self.mean, self.components.T)

    def fit_transform(self, X):
        model = self.fit(X)
        return np.dot(X - model.mean, model.components.T)

    def inverse_transform(self, Z):
        return self.mean + np.dot(Z, self.components)
