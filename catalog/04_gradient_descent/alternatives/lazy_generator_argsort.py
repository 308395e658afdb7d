# %% [answer] id=mse_loss
def mse_loss(X, y, w, b):
    residual = X.dot(w) + b - y
    return float(residual.dot(residual)) / len(y) / 2

# %% [answer] id=mse_grad
def mse_grad(X, y, w, b):
    n = X.shape[0]
    residual = X.dot(w) + b - y
    return residual.dot(X) / n, residual.sum() / n

# %% [answer] id=optimizer
from dataclasses import dataclass, field


@dataclass
class GradientDescentOptimizer:
    """A dataclass; the generator is created lazily at the first mini-batch and kept."""

    learning_rate: float = 0.01
    momentum: float = 0.0
    batch_size: int = None
    random_state: int = None
    state: dict = field(default_factory=dict)

    def step(self, X, y, weights, bias, loss_fn, grad_fn):
        n = len(y)
        if self.batch_size is None or n <= self.batch_size:
            rows = np.arange(n)
        else:
            if "rng" not in self.state:
                self.state["rng"] = np.random.default_rng(self.random_state)
            rows = np.argsort(self.state["rng"].random(n))[: self.batch_size]
        dw, db = grad_fn(X.take(rows, axis=0), y.take(rows), weights, bias)
        vw = self.momentum * self.state.get("vw", np.zeros(len(weights))) - self.learning_rate * dw
        vb = self.momentum * self.state.get("vb", 0.0) - self.learning_rate * db
        self.state["vw"], self.state["vb"] = vw, vb
        new_w = np.add(weights, vw)
        new_b = bias + vb
        return new_w, new_b, loss_fn(X, y, new_w, new_b)
