# %% [answer] id=ridge_gradient
def ridge_gradient(X, y, w, b, reg_lambda):
    """The bias as a column of ones, and a penalty mask that leaves it out."""
    n, d = X.shape
    Xa = np.hstack([X, np.ones((n, 1))])
    theta = np.concatenate([w, [b]])
    mask = np.concatenate([np.ones(d), [0.0]])
    grad = Xa.T @ (Xa @ theta - y) / n + reg_lambda * mask * theta
    return grad[:d], float(grad[d])
