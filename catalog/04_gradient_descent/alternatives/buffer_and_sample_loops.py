# %% [answer] id=mse_loss
def mse_loss(X, y, w, b):
    """Loop over the samples."""
    total = 0.0
    for i in range(len(y)):
        error = float(X[i] @ w) + b - y[i]
        total += error * error
    return total / (2 * len(y))

# %% [answer] id=mse_grad
def mse_grad(X, y, w, b):
    """Loop over the samples, accumulating the per-sample gradients."""
    n, d = X.shape
    dw = np.zeros(d)
    db = 0.0
    for i in range(n):
        error = float(X[i] @ w + b - y[i])
        dw += error * X[i]
        db += error
    return dw / n, db / n

# %% [answer] id=optimizer
class GradientDescentOptimizer:
    """PyTorch-style momentum buffer (buf = mu * buf + g; p -= lr * buf), equivalent for a constant learning rate.

    Weights and bias are kept as one parameter vector; batches from a permutation.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, batch_size=None, random_state=None):
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.batch_size = batch_size
        self.generator = np.random.default_rng(random_state)
        self.buffer = None

    def step(self, X, y, weights, bias, loss_fn, grad_fn):
        n = len(X)
        if self.batch_size is not None and self.batch_size < n:
            picked = self.generator.permutation(n)[: self.batch_size]
            grad_w, grad_b = grad_fn(X[picked, :], y[picked], weights, bias)
        else:
            grad_w, grad_b = grad_fn(X, y, weights, bias)
        g = np.append(grad_w, grad_b)
        if self.buffer is None:
            self.buffer = g.copy()
        else:
            self.buffer = self.momentum * self.buffer + g
        params = np.append(weights, bias) - self.learning_rate * self.buffer
        new_weights, new_bias = params[:-1], params[-1]
        return new_weights, new_bias, loss_fn(X, y, new_weights, new_bias)
