# %% [answer] id=softmax_regression
class SoftmaxRegression:
    """Weights and bias stacked into one (d + 1, C) matrix with a ones column; a mask keeps L2 off the bias row."""

    def __init__(self, learning_rate=0.01, n_iterations=1000, reg_lambda=0.0):
        self.learning_rate = learning_rate
        self.n_iterations = n_iterations
        self.reg_lambda = reg_lambda
        self.loss_history = []

    @staticmethod
    def _softmax(Z):
        Z = Z - Z.max(axis=-1, keepdims=True)
        np.exp(Z, out=Z)
        Z /= Z.sum(axis=-1, keepdims=True)
        return Z

    def fit(self, X, y):
        n, d = X.shape
        C = y.max() + 1
        A = np.hstack([X, np.ones((n, 1))])
        Y = (y[:, None] == np.arange(C)).astype(float)
        theta = np.zeros((d + 1, C))
        mask = np.ones((d + 1, 1))
        mask[-1] = 0.0
        self.loss_history = []
        for _ in range(self.n_iterations):
            P = self._softmax(A @ theta)
            loss = -np.einsum("ij,ij->", Y, np.log(P + 1e-12)) / n
            loss += self.reg_lambda / (2 * n) * np.sum((theta * mask) ** 2)
            self.loss_history.append(loss)
            theta = theta - self.learning_rate * (A.T @ (P - Y) + self.reg_lambda * mask * theta) / n
        self.W = theta[:-1].copy()
        self.b = theta[-1].copy()
        return self

    def predict_proba(self, X):
        return self._softmax(X @ self.W + self.b)

    def predict(self, X):
        return np.argmax(X @ self.W + self.b, axis=1)
