# %% [answer] id=logistic_regression
import math


class LogisticRegression:
    """Sigmoid on clipped logits, per-sample loops for the loss and the gradient."""

    def __init__(self, learning_rate=0.01, n_iterations=1000, reg_lambda=0.0):
        self.learning_rate = learning_rate
        self.n_iterations = n_iterations
        self.reg_lambda = reg_lambda

    def _sigmoid(self, z):
        # exp(500) is about 1e217: clipping there keeps exp finite and changes p by < 1e-217.
        return 1.0 / (1.0 + np.exp(-np.clip(z, -500.0, 500.0)))

    def fit(self, X, y):
        n, d = X.shape
        self.weights = np.zeros(d)
        self.bias = 0.0
        self.loss_history = []
        for _ in range(self.n_iterations):
            p = self._sigmoid(X @ self.weights + self.bias)
            loss = 0.0
            grad_w = np.zeros(d)
            grad_b = 0.0
            for i in range(n):
                pi = min(max(float(p[i]), 1e-12), 1.0 - 1e-12)
                loss -= y[i] * math.log(pi) + (1 - y[i]) * math.log(1.0 - pi)
                grad_w += (p[i] - y[i]) * X[i]
                grad_b += p[i] - y[i]
            loss = loss / n + self.reg_lambda * float(self.weights @ self.weights) / (2 * n)
            self.loss_history.append(loss)
            grad_w = grad_w / n + self.reg_lambda * self.weights / n
            self.weights = self.weights - self.learning_rate * grad_w
            self.bias = self.bias - self.learning_rate * grad_b / n
        return self

    def predict_proba(self, X):
        return self._sigmoid(X @ self.weights + self.bias)

    def predict(self, X, threshold=0.5):
        return np.where(self.predict_proba(X) >= threshold, 1, 0)
