"""A warning printed by correct code costs no points (nbgrader scores stderr output 0)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mlkit.authoring import catalog
from support import graded_catalog


def test_correct_alternative_that_warns_gets_full_marks():
    assignment, name = "02_logistic_regression", "logits_loss_with_warnings"
    namespace = {"np": np}
    exec(catalog.alternatives(assignment)[name]["logistic_regression"], namespace)
    # The same inputs as the hidden test of saturated probabilities: this correct code warns there.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = namespace["LogisticRegression"](learning_rate=1.0, n_iterations=3).fit(np.full((3, 1), 1e4), np.array([1, 1, 0]))
    assert any(issubclass(w.category, RuntimeWarning) for w in caught)
    assert np.all(np.isfinite(model.loss_history))

    grade = graded_catalog(assignment).grades[f"alt-{name}"]
    assert grade.auto_score == grade.auto_max


pytestmark = pytest.mark.xdist_group("02_logistic_regression")
