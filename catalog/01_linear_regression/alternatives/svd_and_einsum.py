# %% [answer] id=closed_form
class LinearRegressionClosedForm:
    """Least squares from the thin SVD, dropping singular values at rounding level."""

    def __init__(self):
        self.weights = None

    def fit(self, X, y):
        A = np.concatenate([X, np.ones((len(X), 1))], axis=1)
        U, s, Vt = np.linalg.svd(A, full_matrices=False)
        keep = s > s[0] * max(A.shape) * np.finfo(float).eps
        self.weights = Vt[keep].T @ ((U[:, keep].T @ y) / s[keep])
        return self

    def predict(self, X):
        return X @ self.weights[: X.shape[1]] + self.weights[X.shape[1]]

# %% [answer] id=gradient_descent
class LinearRegressionGD:
    """Gradient descent with the parameters kept as one vector [w, b]."""

    def __init__(self, learning_rate=0.01, n_iterations=1000):
        self.learning_rate = learning_rate
        self.n_iterations = n_iterations

    def fit(self, X, y):
        A = np.c_[X, np.ones(len(X))]
        theta = np.zeros(A.shape[1])
        self.loss_history = []
        for _ in range(self.n_iterations):
            r = A @ theta - y
            self.loss_history.append(np.einsum("i,i->", r, r) / (2 * len(y)))
            theta -= self.learning_rate * np.einsum("ij,i->j", A, r) / len(y)
        self.weights, self.bias = theta[:-1].copy(), theta[-1]
        return self

    def predict(self, X):
        return X @ self.weights + self.bias
