# %% [answer] id=softmax_regression
class SoftmaxRegression:
    """Softmax through log-sum-exp; one-hot labels from rows of the identity; loss from log-probabilities."""

    def __init__(self, learning_rate=0.01, n_iterations=1000, reg_lambda=0.0):
        self.learning_rate = learning_rate
        self.n_iterations = n_iterations
        self.reg_lambda = reg_lambda

    @staticmethod
    def _log_softmax(Z):
        m = Z.max(axis=1, keepdims=True)
        return Z - (m + np.log(np.exp(Z - m).sum(axis=1, keepdims=True)))

    @staticmethod
    def _softmax(Z):
        m = Z.max(axis=1, keepdims=True)
        logsumexp = m + np.log(np.exp(Z - m).sum(axis=1, keepdims=True))
        return np.exp(Z - logsumexp)

    def fit(self, X, y):
        n = X.shape[0]
        n_classes = int(np.max(y)) + 1
        onehot = np.eye(n_classes)[y]
        self.W = np.zeros((X.shape[1], n_classes))
        self.b = np.zeros(n_classes)
        self.loss_history = []
        for _ in range(self.n_iterations):
            log_p = self._log_softmax(X @ self.W + self.b)
            cross_entropy = -np.sum(onehot * log_p) / n
            self.loss_history.append(cross_entropy + 0.5 * self.reg_lambda * np.sum(self.W * self.W) / n)
            delta = np.exp(log_p) - onehot
            self.W -= self.learning_rate * (X.T @ delta + self.reg_lambda * self.W) / n
            self.b -= self.learning_rate * delta.mean(axis=0)
        return self

    def predict_proba(self, X):
        return np.exp(self._log_softmax(X @ self.W + self.b))

    def predict(self, X):
        return self.predict_proba(X).argmax(axis=1)
