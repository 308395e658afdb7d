# %% [answer] id=manhattan
def manhattan_distances(A, B):
    """One (m, n) slice per feature: O(m n) memory instead of the (m, n, d) broadcast."""
    A = np.asarray(A, dtype=float)
    B = np.asarray(B, dtype=float)
    D = np.zeros((A.shape[0], B.shape[0]))
    for k in range(A.shape[1]):
        D += np.abs(np.subtract.outer(A[:, k], B[:, k]))
    return D
