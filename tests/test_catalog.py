"""Every catalogued submission through the real `nbgrader autograde` and `generate_feedback`.

Correct implementations in any style get full automatic points, the untouched
release gets none, every mutant loses points, and the feedback names the
mutant's mistake without showing any hidden test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlkit import diagnostics, layout
from mlkit.authoring import catalog
from mlkit.reports import results
from support import graded_catalog, hidden_test_lines, visible_text

RECORDED = Path(__file__).resolve().parent / "data" / "catalog_verdicts.json"

ASSIGNMENTS = layout.assignments()


def params(kind: str):
    """(assignment, submission) pairs, grouped so one xdist worker grades an assignment once."""
    out = []
    for assignment in ASSIGNMENTS:
        names = catalog.catalog_answers(assignment)
        for name in names:
            if (kind == "correct" and (name == "reference" or name.startswith("alt-"))) or \
               (kind == "mutant" and name.startswith("mutant-")) or (kind == "all"):
                out.append(pytest.param(assignment, name, id=f"{assignment}:{name}",
                                        marks=pytest.mark.xdist_group(assignment)))
    return out


def by_assignment():
    return [pytest.param(a, id=a, marks=pytest.mark.xdist_group(a)) for a in ASSIGNMENTS]


@pytest.mark.parametrize("assignment, name", params("correct"))
def test_correct_implementation_gets_full_automatic_points(assignment, name):
    grade = graded_catalog(assignment).grades[name]
    lost = {cell: score for cell, score in grade.cells.items() if score is not None and score == 0}
    assert grade.auto_score == grade.auto_max > 0, f"{name} lost points in {lost}"


@pytest.mark.parametrize("assignment", by_assignment())
def test_untouched_release_gets_no_automatic_points(assignment):
    grade = graded_catalog(assignment).grades["untouched"]
    assert grade.auto_max > 0
    assert grade.auto_score == 0


@pytest.mark.parametrize("assignment, name", params("mutant"))
def test_mutant_loses_points_and_feedback_names_the_mistake(assignment, name):
    graded = graded_catalog(assignment)
    grade = graded.grades[name]
    assert grade.auto_score < grade.auto_max, f"{name} kept full marks: the hidden tests miss this mistake"
    mutant = next(m for m in catalog.mutants(assignment) if f"mutant-{m.name}" == name)
    if mutant.diagnosis:
        # A mistake id may be recognised by several test cells, each with its own wording.
        messages = {per_test[mutant.diagnosis].message for per_test in diagnostics.catalog(assignment).values()
                    if mutant.diagnosis in per_test}
        text = visible_text(graded.feedback_html(name))
        assert any(message in text for message in messages), \
            f"feedback for {name} does not say any of: {sorted(messages)}"


@pytest.mark.parametrize("assignment", by_assignment())
def test_catalog_has_enough_alternatives_and_mutants(assignment):
    assert len(catalog.alternatives(assignment)) >= 2
    assert len(catalog.mutants(assignment)) >= 6


@pytest.mark.parametrize("assignment", by_assignment())
def test_feedback_never_shows_hidden_test_source(assignment):
    graded = graded_catalog(assignment)
    source_nb = graded.autograded("reference")
    visible_lines = {
        line.strip() for cell in source_nb.cells for line in
        cell.source.split("### BEGIN HIDDEN TESTS")[0].splitlines()
    }
    secret = [line for line in hidden_test_lines(source_nb) if line not in visible_lines]
    assert len(secret) > 10  # the notebook really has hidden tests to leak
    # The declared messages and hints are meant to be read; a formula in a hint may match a test line.
    public = " ".join(f"{m.message} {m.hint}" for per in diagnostics.catalog(assignment).values() for m in per.values())
    for student, answers in graded.entries.items():
        text = visible_text(graded.feedback_html(student))
        # The student's own answer code is shown back to them, even where it matches a test line.
        own = "\n".join((answers or {}).values())
        leaked = [line for line in secret if line in text and line not in own and line not in public]
        assert not leaked, f"feedback of {student} shows hidden test lines: {leaked[:3]}"
        assert "Traceback" not in text and "BEGIN HIDDEN TESTS" not in text


@pytest.mark.parametrize("assignment", by_assignment())
def test_every_mutant_diagnosis_is_declared(assignment):
    declared = {m for per_test in diagnostics.catalog(assignment).values() for m in per_test}
    for mutant in catalog.mutants(assignment):
        assert mutant.diagnosis is None or mutant.diagnosis in declared, mutant.name


@pytest.mark.parametrize("assignment", by_assignment())
def test_every_catalogued_submission_keeps_its_recorded_scores_and_diagnoses(assignment):
    """Each check's score and diagnosed mistake equal the table recorded by tests/record_catalog_verdicts.py."""
    recorded = json.loads(RECORDED.read_text())[assignment]
    graded = graded_catalog(assignment)
    for name in graded.entries:
        found = {r.test_id: [r.score, r.mistake] for r in results.check_results(graded.autograded(name), assignment)}
        if name not in recorded:
            assert name.startswith("alt-"), f"{name} is not in the recorded table; re-record it on purpose"
            continue
        assert found == recorded[name], f"{name} no longer scores and diagnoses as recorded"
    assert set(recorded) <= set(graded.entries), "a recorded submission left the catalog"


# The classic interview mistakes, each a catalogued mutant with a named diagnosis (graded above).
CLASSIC_MISTAKES = {
    "inverting X^T X instead of a least-squares solve": ("01_linear_regression", "normal_equation_inverse"),
    "the gradient's sign flipped": ("01_linear_regression", "gradient_sign_flipped"),
    "the sigmoid forgotten in the logistic gradient": ("02_logistic_regression", "linear_regression_gradient"),
    "an empty side of a split not handled": ("06_decision_tree", "empty_side_not_handled"),
    "a full sort instead of a partial sort in KNN": ("07_knn", "full_sort_of_distances"),
    "random initialisation instead of k-means++": ("08_kmeans", "uniform_seeding"),
    "PCA without centring": ("09_pca", "no_centring"),
    "wrong shapes in the forward pass's matrix products": ("05_neural_network", "forward_transposed_weights"),
    "the activation instead of its derivative in backprop": ("05_neural_network", "relu_instead_of_relu_grad"),
    "the gradient not divided by the batch size": ("05_neural_network", "gradient_missing_mean"),
    "not stratifying for imbalanced classes": ("10_model_selection", "stratified_ignores_classes"),
}


@pytest.mark.parametrize("mistake", sorted(CLASSIC_MISTAKES))
def test_every_classic_mistake_is_a_diagnosed_mutant(mistake):
    assignment, name = CLASSIC_MISTAKES[mistake]
    mutant = next((m for m in catalog.mutants(assignment) if m.name == name), None)
    assert mutant is not None and mutant.diagnosis, f"{mistake}: no diagnosed mutant {assignment}/{name}"
