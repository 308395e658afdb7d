# %% [answer] id=closed_form
class LinearRegressionClosedForm:
    """Least squares through the Moore-Penrose pseudo-inverse, bias last."""

    def __init__(self):
        self.weights = None

    def fit(self, X, y):
        design = np.hstack([X, np.ones((X.shape[0], 1))])
        self.weights = np.linalg.pinv(design) @ y
        return self

    def predict(self, X):
        return np.dot(X, self.weights[:-1]) + self.weights[-1]

# %% [answer] id=gradient_descent
class LinearRegressionGD:
    """Gradient descent written with an explicit loop over the samples."""

    def __init__(self, learning_rate=0.01, n_iterations=1000):
        self.learning_rate = learning_rate
        self.n_iterations = n_iterations

    def fit(self, X, y):
        n, d = X.shape
        self.weights = np.zeros(d)
        self.bias = 0.0
        self.loss_history = []
        for _ in range(self.n_iterations):
            grad_w = np.zeros(d)
            grad_b = 0.0
            total = 0.0
            for i in range(n):
                error = float(X[i] @ self.weights + self.bias - y[i])
                total += error * error
                grad_w += error * X[i]
                grad_b += error
            self.loss_history.append(total / (2 * n))
            self.weights = self.weights - self.learning_rate * grad_w / n
            self.bias -= self.learning_rate * grad_b / n
        return self

    def predict(self, X):
        return np.array([float(row @ self.weights) + self.bias for row in X])
