# %% [answer] id=pca
import math


class PCA:
    """Covariance summed sample by sample; the SVD of Xc.T, whose left singular vectors are the directions."""

    def __init__(self, n_components, method="eigh"):
        self.n_components = n_components
        self.method = method
        self.mean = None
        self.components = None
        self.explained_variance = None
        self.explained_variance_ratio = None

    def fit(self, X):
        n, d = X.shape
        mean = np.zeros(d)
        for row in X:
            mean += row
        mean /= n
        self.mean = mean
        if self.method == "eigh":
            cov = np.zeros((d, d))
            for row in X:
                diff = row - mean
                cov += np.outer(diff, diff)
            cov /= n - 1
            values, vectors = np.linalg.eigh(cov)
            values, vectors = values[::-1], vectors[:, ::-1]
            directions = [vectors[:, j] for j in range(self.n_components)]
            total = sum(cov[j, j] for j in range(d))
        else:
            U, s, _ = np.linalg.svd((X - mean).T, full_matrices=False)
            values = s ** 2 / (n - 1)
            directions = [-U[:, j] for j in range(self.n_components)]
            total = float(np.sum(values))
        self.components = np.array(directions)
        self.explained_variance = np.array([values[j] for j in range(self.n_components)])
        self.explained_variance_ratio = self.explained_variance / total
        return self

    def transform(self, X):
        Z = np.empty((len(X), len(self.components)))
        for i in range(len(X)):
            for j in range(len(self.components)):
                Z[i, j] = math.fsum((X[i] - self.mean) * self.components[j])
        return Z

    def fit_transform(self, X):
        return self.fit(X).transform(X)

    def inverse_transform(self, Z):
        out = np.tile(self.mean, (len(Z), 1))
        for j in range(len(self.components)):
            out += np.outer(Z[:, j], self.components[j])
        return out
