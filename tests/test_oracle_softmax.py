"""03_softmax_regression: the reference solution against scikit-learn and SciPy (test-only oracles).

scikit-learn's multinomial LogisticRegression minimises sum(cross-entropy) + ||W||^2 / 2 / C_sk
with an unpenalised intercept; dividing by n shows it is our loss
mean(cross-entropy) + reg_lambda / (2n) * ||W||^2 with C_sk = 1 / reg_lambda.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax as scipy_softmax
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from support import load_reference

REG_LAMBDA = 15.0
LEARNING_RATE = 1.0
ITERATIONS = 1000


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return (X - X.mean(axis=0)) / X.std(axis=0), y


@pytest.fixture(scope="module")
def SoftmaxRegression():
    return load_reference("03_softmax_regression")["SoftmaxRegression"]


@pytest.fixture(scope="module")
def fitted(SoftmaxRegression, iris):
    X, y = iris
    return SoftmaxRegression(learning_rate=LEARNING_RATE, n_iterations=ITERATIONS, reg_lambda=REG_LAMBDA).fit(X, y)


def test_softmax_matches_scipy_including_huge_logits(SoftmaxRegression):
    rng = np.random.default_rng(0)
    Z = rng.normal(scale=3.0, size=(20, 5))
    for offset in (0.0, 1e3, -1e3, 1e4, -1e4):
        np.testing.assert_allclose(SoftmaxRegression._softmax(Z + offset), scipy_softmax(Z, axis=1),
                                   rtol=1e-9, atol=1e-12)


def test_gradient_descent_reaches_sklearns_regularised_optimum(fitted, iris):
    X, y = iris
    sk = LogisticRegression(C=1.0 / REG_LAMBDA, tol=1e-12, max_iter=10_000).fit(X, y)
    # The penalty pins W down uniquely (its columns sum to zero at the optimum): tolerance 1e-6.
    np.testing.assert_allclose(fitted.W, sk.coef_.T, atol=1e-6)
    # The unpenalised bias is only defined up to a common shift: compare centred vectors.
    np.testing.assert_allclose(fitted.b - fitted.b.mean(), sk.intercept_ - sk.intercept_.mean(), atol=1e-6)
    np.testing.assert_allclose(fitted.predict_proba(X), sk.predict_proba(X), atol=1e-6)
    np.testing.assert_array_equal(fitted.predict(X), sk.predict(X))


def test_loss_history_is_sklearn_log_loss_plus_penalty(SoftmaxRegression, fitted, iris):
    X, y = iris
    n = len(y)
    first = 200  # loss_history[200] is the loss at the parameters after 200 updates
    partial = SoftmaxRegression(learning_rate=LEARNING_RATE, n_iterations=first, reg_lambda=REG_LAMBDA).fit(X, y)
    expected = log_loss(y, partial.predict_proba(X)) + REG_LAMBDA / (2 * n) * np.sum(partial.W ** 2)
    assert fitted.loss_history[first] == pytest.approx(expected, rel=1e-9)
    assert fitted.loss_history[0] == pytest.approx(np.log(3), rel=1e-9)
