# %% [answer] id=neural_network
class NeuralNetwork:
    """standard_normal draws scaled by hand, einsum products, a one-hot mask and an update loop over names."""

    PARAMS = ("W1", "b1", "W2", "b2")

    def __init__(self, input_size, hidden_size, output_size, learning_rate=0.01, reg_lambda=0.0,
                 random_state=None):
        self.learning_rate = learning_rate
        self.reg_lambda = reg_lambda
        self.rng = np.random.default_rng(random_state)
        self.W1 = self.rng.standard_normal((input_size, hidden_size)) * (2.0 / input_size) ** 0.5
        self.W2 = self.rng.standard_normal((hidden_size, output_size)) * (2.0 / hidden_size) ** 0.5
        self.b1 = np.zeros((hidden_size,))
        self.b2 = np.zeros((output_size,))
        self.grads = None

    @staticmethod
    def _relu(z):
        return z * (z > 0)

    @staticmethod
    def _relu_grad(z):
        return np.heaviside(z, 0.0)

    @staticmethod
    def _softmax(Z):
        E = np.exp(Z - np.max(Z, axis=-1)[:, None])
        return E / np.sum(E, axis=-1)[:, None]

    def forward(self, X):
        Z1 = np.einsum("nd,dh->nh", X, self.W1) + self.b1
        A1 = self._relu(Z1)
        P = self._softmax(np.einsum("nh,hc->nc", A1, self.W2) + self.b2)
        self._cache = (X, Z1, A1, P)
        return P

    def compute_loss(self, probs, y):
        Y = (np.arange(probs.shape[1])[None, :] == np.asarray(y)[:, None])
        cross_entropy = -np.sum(Y * np.log(np.clip(probs, 1e-12, 1.0))) / probs.shape[0]
        return cross_entropy + 0.5 * self.reg_lambda * (np.einsum("ij,ij->", self.W1, self.W1)
                                                        + np.einsum("ij,ij->", self.W2, self.W2))

    def backward(self, y):
        X, Z1, A1, P = self._cache
        Y = (np.arange(P.shape[1])[None, :] == np.asarray(y)[:, None]).astype(float)
        G2 = (P - Y) / len(Y)
        G1 = np.einsum("nc,hc->nh", G2, self.W2) * self._relu_grad(Z1)
        self.grads = {
            "W2": np.einsum("nh,nc->hc", A1, G2) + self.reg_lambda * self.W2,
            "b2": np.einsum("nc->c", G2),
            "W1": np.einsum("nd,nh->dh", X, G1) + self.reg_lambda * self.W1,
            "b1": np.einsum("nh->h", G1),
        }
        for name in self.PARAMS:
            setattr(self, name, getattr(self, name) - self.learning_rate * self.grads[name])

    def train(self, X, y, epochs=100, verbose=False):
        losses = []
        for _ in range(epochs):
            P = self.forward(X)
            losses.append(self.compute_loss(P, y))
            self.backward(y)
        if verbose:
            print(f"final loss {losses[-1]:.4f}")
        return losses
