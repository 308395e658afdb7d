# %% [answer] id=whitening
def whiten(X, mean, components, explained_variance):
    """A diagonal scaling matrix, and einsum for the projection."""
    scale = np.diag(1.0 / np.sqrt(explained_variance))
    return np.einsum("md,kd->mk", X - mean[None, :], components) @ scale


def unwhiten(Z, mean, components, explained_variance):
    """Row by row."""
    out = np.empty((len(Z), components.shape[1]))
    for i, z in enumerate(Z):
        out[i] = mean + (z * explained_variance ** 0.5) @ components
    return out
