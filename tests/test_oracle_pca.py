"""09_pca: the reference solution against scikit-learn's PCA (a test-only oracle) on iris and wine.

Tolerances: components, transforms and reconstructions to 1e-8 absolute after
fixing each component's sign (PCA leaves it free); explained_variance and
explained_variance_ratio to 1e-10 relative.  Both methods, "eigh" and "svd".
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris, load_wine
from sklearn.decomposition import PCA as SkPCA

from support import load_reference

NS = load_reference("09_pca")
DATASETS = {"iris": load_iris().data, "wine": load_wine().data}


def signs(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """+1/-1 per component so that ours * s matches theirs row by row."""
    return np.where(np.sum(ours * theirs, axis=1) < 0, -1.0, 1.0)


@pytest.mark.parametrize("method", ["eigh", "svd"])
@pytest.mark.parametrize("dataset, k", [("iris", 2), ("iris", 4), ("wine", 3), ("wine", 13)])
def test_reference_matches_sklearn(dataset, k, method):
    X = DATASETS[dataset]
    ours = NS["PCA"](n_components=k, method=method).fit(X)
    theirs = SkPCA(n_components=k, svd_solver="full").fit(X)
    s = signs(ours.components, theirs.components_)

    assert ours.components.shape == (k, X.shape[1]) and ours.components.dtype.kind == "f"
    np.testing.assert_allclose(ours.mean, theirs.mean_, rtol=1e-12)
    np.testing.assert_allclose(ours.components * s[:, None], theirs.components_, atol=1e-8)
    np.testing.assert_allclose(ours.explained_variance, theirs.explained_variance_, rtol=1e-10)
    np.testing.assert_allclose(ours.explained_variance_ratio, theirs.explained_variance_ratio_, rtol=1e-10)
    np.testing.assert_allclose(ours.transform(X) * s, theirs.transform(X), atol=1e-8)
    np.testing.assert_allclose(ours.fit_transform(X) * s, theirs.transform(X), atol=1e-8)
    Z = theirs.transform(X[:10])
    np.testing.assert_allclose(ours.inverse_transform(Z * s), theirs.inverse_transform(Z), atol=1e-8)
    if k == X.shape[1]:
        np.testing.assert_allclose(ours.inverse_transform(ours.transform(X)), X, atol=1e-8)


def test_ratio_is_over_total_variance_independently():
    """Independent NumPy check: the ratio's denominator is the trace of the sample covariance."""
    X = DATASETS["wine"]
    ours = NS["PCA"](n_components=2).fit(X)
    total = np.trace(np.cov(X, rowvar=False))
    np.testing.assert_allclose(ours.explained_variance_ratio, ours.explained_variance / total, rtol=1e-12)
