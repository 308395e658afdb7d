"""Oracle checks of the 05_neural_network reference against scikit-learn's MLPClassifier and plain NumPy.

MLPClassifier (one hidden ReLU layer, softmax output, loss = mean cross-entropy
+ alpha / (2 n) * sum(W**2)) is the same network as the notebook's with
alpha = reg_lambda * n, so with the same weights its predict_proba must equal
the reference's forward, and one full-batch SGD epoch (no momentum, constant
step) must equal one reference training epoch.  The gradients are also checked
against central finite differences of a loss written here in NumPy.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from support import load_reference

ASSIGNMENT = "05_neural_network"
KEYS = ("W1", "b1", "W2", "b2")


@pytest.fixture(scope="module")
def NeuralNetwork():
    return load_reference(ASSIGNMENT)["NeuralNetwork"]


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X, y.astype(np.int64)


def sklearn_mlp(X, y, hidden, alpha, lr):
    """A fitted-for-one-epoch MLPClassifier whose weights the test then overwrites."""
    clf = MLPClassifier(hidden_layer_sizes=(hidden,), activation="relu", solver="sgd", alpha=alpha,
                        batch_size=len(X), learning_rate="constant", learning_rate_init=lr, momentum=0.0,
                        nesterovs_momentum=False, shuffle=False, max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.partial_fit(X, y, classes=np.unique(y))
    return clf


def set_weights(clf, net):
    clf.coefs_ = [net.W1.copy(), net.W2.copy()]
    clf.intercepts_ = [net.b1.copy(), net.b2.copy()]


def test_forward_equals_sklearn_predict_proba(NeuralNetwork, iris):
    X, y = iris
    net = NeuralNetwork(input_size=4, hidden_size=10, output_size=3, random_state=0)
    net.b1 = np.random.default_rng(1).normal(scale=0.3, size=10)
    net.b2 = np.random.default_rng(2).normal(scale=0.3, size=3)
    clf = sklearn_mlp(X, y, 10, alpha=0.0, lr=0.1)
    set_weights(clf, net)
    np.testing.assert_allclose(net.forward(X), clf.predict_proba(X), rtol=1e-10, atol=1e-12)


def test_one_training_epoch_equals_sklearn_sgd(NeuralNetwork, iris):
    X, y = iris
    n, reg, lr = len(X), 0.01, 0.3
    net = NeuralNetwork(input_size=4, hidden_size=8, output_size=3, learning_rate=lr, reg_lambda=reg, random_state=3)
    clf = sklearn_mlp(X, y, 8, alpha=reg * n, lr=lr)
    set_weights(clf, net)
    losses = net.train(X, y, epochs=1)
    clf.partial_fit(X, y)
    # sklearn's loss_ is the loss before its epoch's update, the same convention as train.
    assert losses[0] == pytest.approx(clf.loss_, rel=1e-9)
    for ours, theirs in [(net.W1, clf.coefs_[0]), (net.W2, clf.coefs_[1]),
                         (net.b1, clf.intercepts_[0]), (net.b2, clf.intercepts_[1])]:
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


def numpy_loss(X, y, P, reg):
    Z2 = np.maximum(X @ P["W1"] + P["b1"], 0) @ P["W2"] + P["b2"]
    Z2 = Z2 - Z2.max(axis=1, keepdims=True)
    log_probs = Z2 - np.log(np.exp(Z2).sum(axis=1, keepdims=True))
    return -np.mean(log_probs[np.arange(len(y)), y]) + reg / 2 * (np.sum(P["W1"] ** 2) + np.sum(P["W2"] ** 2))


@pytest.mark.parametrize("reg", [0.0, 0.2])
def test_gradients_equal_finite_differences(NeuralNetwork, iris, reg):
    X, y = iris[0][::10], iris[1][::10]                 # 15 flowers, all three species
    net = NeuralNetwork(input_size=4, hidden_size=6, output_size=3, learning_rate=0.1, reg_lambda=reg, random_state=5)
    net.b1 = np.random.default_rng(6).normal(scale=0.5, size=6)
    net.b2 = np.random.default_rng(7).normal(scale=0.5, size=3)
    P = {key: getattr(net, key).copy() for key in KEYS}
    assert np.abs(X @ P["W1"] + P["b1"]).min() > 1e-3   # no ReLU kink inside the finite-difference step
    net.forward(X)
    net.backward(y)
    h = 1e-6
    for key in KEYS:
        numeric = np.zeros_like(P[key])
        for index in np.ndindex(P[key].shape):
            plus, minus = P[key].copy(), P[key].copy()
            plus[index] += h
            minus[index] -= h
            numeric[index] = (numpy_loss(X, y, {**P, key: plus}, reg)
                              - numpy_loss(X, y, {**P, key: minus}, reg)) / (2 * h)
        np.testing.assert_allclose(net.grads[key], numeric, rtol=1e-5, atol=1e-8, err_msg=key)
        # backward applied the step to the pre-update parameters
        np.testing.assert_allclose(getattr(net, key), P[key] - 0.1 * net.grads[key], rtol=1e-12, atol=1e-15)


def test_training_accuracy_on_iris_is_close_to_sklearn(NeuralNetwork, iris):
    X, y = iris
    net = NeuralNetwork(input_size=4, hidden_size=16, output_size=3, learning_rate=0.2, random_state=0)
    losses = net.train(X, y, epochs=500)
    ours = np.mean(net.forward(X).argmax(axis=1) == y)
    clf = MLPClassifier(hidden_layer_sizes=(16,), solver="sgd", alpha=0.0, batch_size=len(X), learning_rate_init=0.2,
                        momentum=0.0, nesterovs_momentum=False, max_iter=500, shuffle=False, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = clf.fit(X, y).score(X, y)
    assert losses[-1] < 0.2 * losses[0]
    assert ours >= 0.95 and ours >= theirs - 0.03, (ours, theirs)
