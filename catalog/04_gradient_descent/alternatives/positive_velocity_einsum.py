# %% [answer] id=mse_loss
def mse_loss(X, y, w, b):
    r = np.dot(X, w) + b - y
    return np.einsum("i,i->", r, r) / (2.0 * r.shape[0])

# %% [answer] id=mse_grad
def mse_grad(X, y, w, b):
    r = np.dot(X, w) + b - y
    return np.mean(r[:, None] * X, axis=0), np.sum(r) / len(r)

# %% [answer] id=optimizer
class GradientDescentOptimizer:
    """Velocity stored with the opposite sign: v = mu * v + lr * g, then w = w - v (the same updates)."""

    def __init__(self, learning_rate=0.01, momentum=0.0, batch_size=None, random_state=None):
        self.lr = learning_rate
        self.mu = momentum
        self.batch_size = batch_size
        self.rng = np.random.default_rng(random_state)
        self.v_w = 0.0          # broadcasts against (d,) at the first step
        self.v_b = 0.0

    def _batch(self, X, y):
        n = X.shape[0]
        if self.batch_size is None or self.batch_size >= n:
            return X, y
        idx = np.sort(self.rng.choice(n, self.batch_size, replace=False))
        return X[idx], y[idx]

    def step(self, X, y, weights, bias, loss_fn, grad_fn):
        Xb, yb = self._batch(X, y)
        gw, gb = grad_fn(Xb, yb, weights, bias)
        self.v_w = self.mu * self.v_w + self.lr * np.asarray(gw)
        self.v_b = self.mu * self.v_b + self.lr * gb
        w = weights - self.v_w
        b = float(bias - self.v_b)
        return w, b, float(loss_fn(X, y, w, b))
