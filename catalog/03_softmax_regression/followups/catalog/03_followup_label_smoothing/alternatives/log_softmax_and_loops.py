# %% [answer] id=smoothed_gradient
def smoothed_softmax_gradient(X, y, W, b, eps):
    """Probabilities from a log-sum-exp, targets filled in a loop, the gradient as einsum."""
    n, C = X.shape[0], W.shape[1]
    Z = X @ W + b
    top = Z.max(axis=1, keepdims=True)
    log_p = Z - top - np.log(np.exp(Z - top).sum(axis=1, keepdims=True))
    Q = np.full((n, C), eps / C)
    for i in range(n):
        Q[i, int(y[i])] += 1.0 - eps
    G = (np.exp(log_p) - Q) / n
    return np.einsum("nd,nc->dc", X, G), np.einsum("nc->c", G)
