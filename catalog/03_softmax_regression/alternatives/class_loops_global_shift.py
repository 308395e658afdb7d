# %% [answer] id=softmax_regression
import math


class SoftmaxRegression:
    """Loops over the classes and the samples; the softmax shifts by the global maximum; int32 labels."""

    def __init__(self, learning_rate=0.01, n_iterations=1000, reg_lambda=0.0):
        self.learning_rate = learning_rate
        self.n_iterations = n_iterations
        self.reg_lambda = reg_lambda
        self.W = None
        self.b = None
        self.loss_history = []

    def _softmax(self, Z):
        E = np.exp(Z - Z.max())
        return E / E.sum(axis=1)[:, None]

    def fit(self, X, y):
        n, d = X.shape
        C = int(y.max()) + 1
        Y = np.zeros((n, C))
        for i in range(n):
            Y[i, int(y[i])] = 1.0
        self.W = np.zeros((d, C))
        self.b = np.zeros(C)
        self.loss_history = []
        for _ in range(self.n_iterations):
            P = self._softmax(X @ self.W + self.b)
            total = 0.0
            for i in range(n):
                total -= math.log(max(P[i, int(y[i])], 1e-300))
            penalty = 0.0
            for k in range(C):
                penalty += float(self.W[:, k] @ self.W[:, k])
            self.loss_history.append(total / n + self.reg_lambda * penalty / (2 * n))
            new_W = self.W.copy()
            new_b = self.b.copy()
            for k in range(C):
                residual = P[:, k] - Y[:, k]
                new_W[:, k] = self.W[:, k] - self.learning_rate * (residual @ X / n + self.reg_lambda / n * self.W[:, k])
                new_b[k] = self.b[k] - self.learning_rate * residual.sum() / n
            self.W, self.b = new_W, new_b
        return self

    def predict_proba(self, X):
        return self._softmax(X @ self.W + self.b)

    def predict(self, X):
        P = self.predict_proba(X)
        return np.array([int(np.argmax(row)) for row in P], dtype=np.int32)
