# %% [answer] id=neural_network
import math


class NeuralNetwork:
    """He-uniform initialisation (W2 drawn first), instance-method helpers and a loop over the samples in backward."""

    def __init__(self, input_size, hidden_size, output_size, learning_rate=0.01, reg_lambda=0.0,
                 random_state=None):
        self.learning_rate = learning_rate
        self.reg_lambda = reg_lambda
        rng = np.random.default_rng(random_state)
        # He uniform: U(-sqrt(6 / fan_in), sqrt(6 / fan_in)) has standard deviation sqrt(2 / fan_in).
        self.W2 = rng.uniform(-math.sqrt(6 / hidden_size), math.sqrt(6 / hidden_size), size=(hidden_size, output_size))
        self.W1 = rng.uniform(-math.sqrt(6 / input_size), math.sqrt(6 / input_size), size=(input_size, hidden_size))
        self.b1 = np.zeros(hidden_size)
        self.b2 = np.zeros(output_size)
        self.grads = {}

    def _relu(self, z):
        return np.where(z > 0, z, 0.0)

    def _relu_grad(self, z):
        return z > 0                                      # a boolean mask: only its values count

    def _softmax(self, Z):
        top = np.max(Z, axis=1, keepdims=True)
        log_norm = top + np.log(np.sum(np.exp(Z - top), axis=1, keepdims=True))
        return np.exp(Z - log_norm)

    def forward(self, X):
        self.last_X = np.array(X, dtype=float)
        self.last_Z1 = self.last_X @ self.W1 + self.b1
        self.last_A1 = self._relu(self.last_Z1)
        self.last_probs = self._softmax(self.last_A1 @ self.W2 + self.b2)
        return self.last_probs

    def compute_loss(self, probs, y):
        total = 0.0
        for i, label in enumerate(y):
            total -= math.log(max(float(probs[i, int(label)]), 1e-300))
        penalty = float(np.sum(self.W1 * self.W1) + np.sum(self.W2 * self.W2))
        return total / len(y) + 0.5 * self.reg_lambda * penalty

    def backward(self, y):
        n = len(y)
        dW1, db1 = np.zeros_like(self.W1), np.zeros_like(self.b1)
        dW2, db2 = np.zeros_like(self.W2), np.zeros_like(self.b2)
        for i in range(n):
            error = self.last_probs[i].copy()
            error[int(y[i])] -= 1.0
            dW2 += np.outer(self.last_A1[i], error)
            db2 += error
            hidden = (self.W2 @ error) * self._relu_grad(self.last_Z1[i])
            dW1 += np.outer(self.last_X[i], hidden)
            db1 += hidden
        self.grads = {
            "W1": dW1 / n + self.reg_lambda * self.W1,
            "b1": db1 / n,
            "W2": dW2 / n + self.reg_lambda * self.W2,
            "b2": db2 / n,
        }
        self.W1 = self.W1 - self.learning_rate * self.grads["W1"]
        self.b1 = self.b1 - self.learning_rate * self.grads["b1"]
        self.W2 = self.W2 - self.learning_rate * self.grads["W2"]
        self.b2 = self.b2 - self.learning_rate * self.grads["b2"]

    def train(self, X, y, epochs=100, verbose=False):
        history = []
        for epoch in range(epochs):
            history.append(self.compute_loss(self.forward(X), y))
            self.backward(y)
            if verbose:
                print(epoch, history[-1])
        return history
