# %% [answer] id=neural_network
class NeuralNetwork:
    """In-place updates, a log-softmax for the loss and np.add.at for the label term."""

    def __init__(self, input_size, hidden_size, output_size, learning_rate=0.01, reg_lambda=0.0,
                 random_state=None):
        self.learning_rate = learning_rate
        self.reg_lambda = reg_lambda
        generator = np.random.default_rng(random_state)
        self.W1 = generator.normal(size=(input_size, hidden_size)) * np.sqrt(2 / input_size)
        self.W2 = generator.normal(size=(hidden_size, output_size)) * np.sqrt(2 / hidden_size)
        self.b1 = np.zeros(hidden_size, dtype=np.float64)
        self.b2 = np.zeros(output_size, dtype=np.float64)

    @staticmethod
    def _relu(z):
        return np.clip(z, 0.0, None)

    @staticmethod
    def _relu_grad(z):
        grad = np.zeros_like(z, dtype=float)
        grad[z > 0] = 1.0
        return grad

    @staticmethod
    def _softmax(Z):
        Z = Z - Z.max(axis=1)[:, np.newaxis]
        Z = np.exp(Z)
        Z /= Z.sum(axis=1)[:, np.newaxis]
        return Z

    def forward(self, X):
        self.X = X.copy()
        self.hidden_in = X.dot(self.W1) + self.b1
        self.hidden_out = self._relu(self.hidden_in)
        self.probs = self._softmax(self.hidden_out.dot(self.W2) + self.b2)
        return self.probs

    def compute_loss(self, probs, y):
        rows = np.arange(probs.shape[0])
        picked = np.log(np.maximum(probs[rows, y], 1e-12))
        l2 = np.sum(np.square(self.W1)) + np.sum(np.square(self.W2))
        return float(-picked.mean() + self.reg_lambda * l2 / 2)

    def backward(self, y):
        n = self.X.shape[0]
        delta_out = self.probs.copy()
        np.add.at(delta_out, (np.arange(n), y), -1.0)
        delta_out /= n
        delta_hidden = delta_out.dot(self.W2.T) * self._relu_grad(self.hidden_in)
        self.grads = {
            "W1": self.X.T.dot(delta_hidden) + self.reg_lambda * self.W1,
            "b1": delta_hidden.sum(axis=0),
            "W2": self.hidden_out.T.dot(delta_out) + self.reg_lambda * self.W2,
            "b2": delta_out.sum(axis=0),
        }
        self.W1 -= self.learning_rate * self.grads["W1"]
        self.b1 -= self.learning_rate * self.grads["b1"]
        self.W2 -= self.learning_rate * self.grads["W2"]
        self.b2 -= self.learning_rate * self.grads["b2"]

    def train(self, X, y, epochs=100, verbose=False):
        history = []
        for epoch in range(1, epochs + 1):
            loss = self.compute_loss(self.forward(X), y)
            self.backward(y)
            history.append(loss)
            if verbose and epoch % 50 == 0:
                print(f"epoch {epoch}: loss {loss:.5f}")
        return history
