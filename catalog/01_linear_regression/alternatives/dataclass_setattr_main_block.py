# %% [answer] id=closed_form
from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field


@dataclass
class LinearRegressionClosedForm:
    """A dataclass model with type hints; least squares with np.linalg.lstsq under a local warnings filter."""

    weights: np.ndarray | None = field(default=None, repr=False)

    def fit(self, X: np.ndarray, y: np.ndarray) -> LinearRegressionClosedForm:
        design = np.hstack([copy.copy(X), np.ones((X.shape[0], 1))])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            solution, *_ = np.linalg.lstsq(design, y, rcond=None)
        setattr(self, "weights", solution)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        *w, b = getattr(self, "weights")
        return X @ np.array(w) + b

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(fitted={self.weights is not None})"


if __name__ == "__main__":
    demo = LinearRegressionClosedForm().fit(np.array([[0.0], [1.0], [2.0]]), np.array([1.0, 3.0, 5.0]))
    print(demo, demo.weights)

# %% [answer] id=gradient_descent
from __future__ import annotations

import random


class LinearRegressionGD:
    """Hyperparameters stored and read with setattr / getattr; __slots__ and a __len__ of the history."""

    __slots__ = ("learning_rate", "n_iterations", "weights", "bias", "loss_history")

    def __init__(self, learning_rate: float = 0.01, n_iterations: int = 1000) -> None:
        for name, value in {"learning_rate": learning_rate, "n_iterations": n_iterations}.items():
            setattr(self, name, value)
        self.weights, self.bias, self.loss_history = None, 0.0, []

    def __len__(self) -> int:
        return len(self.loss_history)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LinearRegressionGD) and self.weights is other.weights

    __hash__ = object.__hash__

    def fit(self, X: np.ndarray, y: np.ndarray) -> LinearRegressionGD:
        n, d = X.shape
        w, b, history = np.zeros(d), 0.0, []
        rate = getattr(self, "learning_rate")
        for _ in range(getattr(self, "n_iterations")):
            residual = X @ w + b - y
            history.append(float(residual @ residual / (2 * n)))
            w = w - rate * (X.T @ residual) / n
            b = b - rate * residual.sum() / n
        self.weights, self.bias, self.loss_history = w, b, history
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return X @ self.weights + self.bias


if __name__ == "__main__":
    random.seed(0)
    xs = np.array([[random.random()] for _ in range(20)])
    model = LinearRegressionGD(learning_rate=0.5, n_iterations=200).fit(xs, 3 * xs[:, 0] + 1)
    print(len(model), model.weights, model.bias)
