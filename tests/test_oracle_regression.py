"""The reference solutions of 01 and 02 against scikit-learn, an implementation written elsewhere."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LinearRegression, LogisticRegression

from support import load_reference


@pytest.fixture(scope="module")
def diabetes():
    data = load_diabetes()
    X = (data.data - data.data.mean(axis=0)) / data.data.std(axis=0)
    return X, data.target


def test_closed_form_matches_sklearn_on_diabetes(diabetes):
    X, y = diabetes
    ours = load_reference("01_linear_regression")["LinearRegressionClosedForm"]().fit(X, y)
    theirs = LinearRegression().fit(X, y)
    np.testing.assert_allclose(ours.weights[:-1], theirs.coef_, rtol=1e-9, atol=1e-9)
    assert ours.weights[-1] == pytest.approx(theirs.intercept_, rel=1e-12)


def test_gradient_descent_reaches_sklearn_on_diabetes(diabetes):
    X, y = diabetes
    ours = load_reference("01_linear_regression")["LinearRegressionGD"](learning_rate=0.2, n_iterations=20000).fit(X, y)
    theirs = LinearRegression().fit(X, y)
    # Standardised diabetes features: X^T X / n has eigenvalues from about 0.009 to 4.1, so
    # a step of 0.2 is stable (< 2 / 4.1) and
    # 20 000 steps shrink the error by exp(-35).
    np.testing.assert_allclose(ours.weights, theirs.coef_, rtol=1e-6, atol=1e-6)
    assert ours.bias == pytest.approx(theirs.intercept_, abs=1e-6)


def test_logistic_regression_matches_sklearn_on_breast_cancer():
    data = load_breast_cancer()
    X = (data.data - data.data.mean(axis=0)) / data.data.std(axis=0)
    y = data.target
    reg_lambda = 10.0
    ours = load_reference("02_logistic_regression")["LogisticRegression"](
        learning_rate=1.0, n_iterations=5000, reg_lambda=reg_lambda).fit(X, y)
    # scikit-learn minimises C * sum(log-loss) + ||w||^2 / 2, the same objective as
    # mean(log-loss) + reg_lambda / (2n) ||w||^2 when C = 1 / reg_lambda.
    theirs = LogisticRegression(C=1 / reg_lambda, tol=1e-12, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(ours.weights, theirs.coef_[0], atol=2e-3)
    assert ours.bias == pytest.approx(theirs.intercept_[0], abs=2e-3)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X)[:, 1], atol=1e-3)
    n = len(y)
    p = theirs.predict_proba(X)[:, 1]
    their_loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)) + reg_lambda / (2 * n) * np.sum(theirs.coef_ ** 2)
    assert ours.loss_history[-1] == pytest.approx(their_loss, abs=1e-6)


def test_stable_sigmoid_matches_sklearn_expit_free_formula():
    sigmoid = load_reference("02_logistic_regression")["LogisticRegression"]._sigmoid
    z = np.linspace(-50, 50, 1001)
    np.testing.assert_allclose(sigmoid(z), np.exp(-np.logaddexp(0, -z)), rtol=1e-13)
