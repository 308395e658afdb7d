# %% [answer] id=neural_network
class NeuralNetwork:
    """Two-layer network: linear (d -> h), ReLU, linear (h -> C), softmax.

    Parameters: W1 (d, h), b1 (h,), W2 (h, C), b2 (C,).  After backward: grads, a dict with
    keys 'W1', 'b1', 'W2', 'b2' holding arrays of the same shapes as the parameters.
    """

    def __init__(self, input_size, hidden_size, output_size, learning_rate=0.01, reg_lambda=0.0,
                 random_state=None):
        """Sizes are ints. Sets W1 (input_size, hidden_size) and W2 (hidden_size, output_size) drawn from
        np.random.default_rng(random_state) with standard deviation sqrt(2 / fan_in) (He), and zero biases
        b1 (hidden_size,) and b2 (output_size,)."""
        self.learning_rate = learning_rate
        self.reg_lambda = reg_lambda
        rng = np.random.default_rng(random_state)
        self.W1 = rng.normal(0.0, np.sqrt(2.0 / input_size), size=(input_size, hidden_size))
        self.b1 = np.zeros(hidden_size)
        self.W2 = rng.normal(0.0, np.sqrt(2.0 / hidden_size), size=(hidden_size, output_size))
        self.b2 = np.zeros(output_size)
        self.grads = {}
        self.cache = {}

    @staticmethod
    def _relu(z):
        """z: any shape. Returns max(z, 0), same shape."""
        return np.maximum(z, 0.0)

    @staticmethod
    def _relu_grad(z):
        """z: any shape. Returns the integer mask 1 where z > 0, else 0, same shape (SPEC: only values count)."""
        return np.where(z > 0, 1, 0)

    @staticmethod
    def _softmax(Z):
        """Z: (n, C) logits. Returns (n, C) probabilities, each row summing to 1."""
        shifted = Z - Z.max(axis=1, keepdims=True)                # (n, C), row max is 0
        exp = np.exp(shifted)
        return exp / exp.sum(axis=1, keepdims=True)

    def forward(self, X):
        """X: (n, d). Returns probs (n, C); caches what backward needs."""
        Z1 = X @ self.W1 + self.b1                                  # (n, h)
        A1 = self._relu(Z1)                                         # (n, h)
        Z2 = A1 @ self.W2 + self.b2                                 # (n, C)
        probs = self._softmax(Z2)                                   # (n, C)
        self.cache = {"X": X, "Z1": Z1, "A1": A1, "probs": probs}
        return probs

    def compute_loss(self, probs, y):
        """probs: (n, C), y: (n,) ints. Returns mean cross-entropy + reg_lambda / 2 * (sum W1^2 + sum W2^2)."""
        n = len(y)
        data_loss = -np.mean(np.log(probs[np.arange(n), y] + 1e-12))
        reg_loss = self.reg_lambda / 2 * (np.sum(self.W1 ** 2) + np.sum(self.W2 ** 2))
        return float(data_loss + reg_loss)

    def backward(self, y):
        """y: (n,) ints for the last forward batch.

        Stores self.grads = {'W1': (d, h), 'b1': (h,), 'W2': (h, C), 'b2': (C,)}, the gradients of compute_loss
        averaged over the batch (L2 on the weights only), then sets param = param - learning_rate * grad for all four.
        """
        X, Z1, A1, probs = self.cache["X"], self.cache["Z1"], self.cache["A1"], self.cache["probs"]
        n = X.shape[0]
        Y = np.eye(probs.shape[1])[y]                               # (n, C) one-hot
        dZ2 = (probs - Y) / n                                       # (n, C)
        dW2 = A1.T @ dZ2 + self.reg_lambda * self.W2                # (h, C)
        db2 = dZ2.sum(axis=0)                                       # (C,)
        dA1 = dZ2 @ self.W2.T                                       # (n, h), W2 before its update
        dZ1 = dA1 * self._relu_grad(Z1)                             # (n, h)
        dW1 = X.T @ dZ1 + self.reg_lambda * self.W1                 # (d, h)
        db1 = dZ1.sum(axis=0)                                       # (h,)
        self.grads = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
        self.W1 = self.W1 - self.learning_rate * dW1
        self.b1 = self.b1 - self.learning_rate * db1
        self.W2 = self.W2 - self.learning_rate * dW2
        self.b2 = self.b2 - self.learning_rate * db2

    def train(self, X, y, epochs=100, verbose=False):
        """X: (n, d), y: (n,) ints. Full-batch gradient descent; returns the list of per-epoch losses."""
        losses = []
        for epoch in range(epochs):
            probs = self.forward(X)
            loss = self.compute_loss(probs, y)
            self.backward(y)
            losses.append(loss)
            if verbose and (epoch % 100 == 0 or epoch == epochs - 1):
                print(f"epoch {epoch:4d}  loss {loss:.4f}")
        return losses
