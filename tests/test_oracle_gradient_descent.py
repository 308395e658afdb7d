"""Oracle: the reference solution of 04_gradient_descent against scikit-learn (test-only) and plain NumPy.

Data: scikit-learn's bundled diabetes set (442 x 10), features standardised to mean 0 and
standard deviation 1 so that gradient descent converges in a few thousand steps.
"""

from __future__ import annotations

import numpy as np
import pytest

from support import load_reference

sklearn_datasets = pytest.importorskip("sklearn.datasets")
sklearn_linear = pytest.importorskip("sklearn.linear_model")
sklearn_metrics = pytest.importorskip("sklearn.metrics")


@pytest.fixture(scope="module")
def ns():
    return load_reference("04_gradient_descent")


@pytest.fixture(scope="module")
def diabetes():
    X, y = sklearn_datasets.load_diabetes(return_X_y=True)
    return (X - X.mean(axis=0)) / X.std(axis=0), y


@pytest.fixture(scope="module")
def least_squares(diabetes):
    X, y = diabetes
    return sklearn_linear.LinearRegression().fit(X, y)


def run(ns, X, y, steps, **kwargs):
    opt = ns["GradientDescentOptimizer"](**kwargs)
    w, b, losses = np.zeros(X.shape[1]), 0.0, []
    for _ in range(steps):
        w, b, loss = opt.step(X, y, w, b, ns["mse_loss"], ns["mse_grad"])
        losses.append(loss)
    return w, b, losses


def test_mse_loss_is_half_sklearn_mse(ns, diabetes, least_squares):
    X, y = diabetes
    rng = np.random.default_rng(0)
    for w, b in [(least_squares.coef_, least_squares.intercept_), (rng.normal(size=10), 3.0)]:
        expected = sklearn_metrics.mean_squared_error(y, X @ w + b) / 2
        assert ns["mse_loss"](X, y, w, b) == pytest.approx(expected, rel=1e-12)


def test_mse_grad_matches_numpy_and_vanishes_at_the_sklearn_solution(ns, diabetes, least_squares):
    X, y = diabetes
    n = len(y)
    rng = np.random.default_rng(1)
    w, b = rng.normal(size=10), -2.0
    residual = np.einsum("ij,j->i", X, w) + b - y                 # independent of the reference code path
    dw, db = ns["mse_grad"](X, y, w, b)
    np.testing.assert_allclose(dw, np.einsum("ij,i->j", X, residual) / n, rtol=1e-12, atol=1e-10)
    assert db == pytest.approx(residual.sum() / n, rel=1e-12)
    # At the least-squares optimum the gradient is zero (up to rounding of a ~150-sized target).
    dw0, db0 = ns["mse_grad"](X, y, least_squares.coef_, least_squares.intercept_)
    assert np.abs(dw0).max() < 1e-9 and abs(db0) < 1e-9


def test_momentum_gd_reaches_sklearn_least_squares(ns, diabetes, least_squares):
    X, y = diabetes
    w, b, losses = run(ns, X, y, 2000, learning_rate=0.2, momentum=0.9)
    np.testing.assert_allclose(w, least_squares.coef_, rtol=0, atol=1e-6)
    assert b == pytest.approx(least_squares.intercept_, abs=1e-6)
    best = sklearn_metrics.mean_squared_error(y, least_squares.predict(X)) / 2
    assert losses[-1] == pytest.approx(best, rel=1e-10)


def test_plain_and_minibatch_gd_approach_the_sklearn_loss(ns, diabetes, least_squares):
    X, y = diabetes
    best = sklearn_metrics.mean_squared_error(y, least_squares.predict(X)) / 2
    _, _, plain = run(ns, X, y, 2000, learning_rate=0.2)
    assert np.all(np.diff(plain) <= 1e-9)                           # full batch, small step: monotone
    assert plain[-1] == pytest.approx(best, rel=1e-3)
    _, _, sgd = run(ns, X, y, 1500, learning_rate=0.02, batch_size=32, random_state=0)
    assert sgd[-1] < 1.05 * best
    _, _, again = run(ns, X, y, 1500, learning_rate=0.02, batch_size=32, random_state=0)
    assert sgd == again                                             # same seed, same trajectory
