"""Interview follow-up questions (`mlkit followup`): their content, the graded ones through the real self-study
grading path (nbgrader's autograde in the workspace, sandboxed), their mutation score, and the history record."""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from dataclasses import dataclass

import nbformat
import numpy as np
import pytest

from mlkit import cli, course, diagnostics, layout
from mlkit.authoring import catalog, mutation
from mlkit.study import followups, practice, selfgrade
from mlkit.study import history as histories

MLKIT = [sys.executable, "-m", "mlkit.cli"]
CODE_FOLLOWUPS = [f for a in layout.assignments() for f in followups.load(a) if f.kind == "code"]


def _ids(followup_list):
    return [f"{f.assignment}:{f.id}" for f in followup_list]


# -- content ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("assignment", layout.assignments())
def test_every_notebook_has_three_to_five_followups_of_the_required_kinds(assignment):
    found = followups.load(assignment)
    assert followups.COUNT[0] <= len(found) <= followups.COUNT[1]
    topics = {f.topic for f in found}
    assert set(followups.REQUIRED_TOPICS) <= topics
    complexity = next(f for f in found if f.topic == "complexity")
    # The complexity answer gives time and memory, with big-O figures.
    assert "time" in complexity.answer and "memory" in complexity.answer and "O(" in complexity.answer
    for followup in found:
        assert followup.question.endswith("?") or followup.kind == "code"
        assert len(followup.answer.split()) >= 40, f"{followup.id}: a model answer, not a keyword"


def test_the_graded_followups_are_nbgrader_exercises_with_hidden_tests_and_named_mistakes():
    assert len(CODE_FOLLOWUPS) >= 3
    for followup in CODE_FOLLOWUPS:
        root = followups.exercises_root(followup.assignment)
        nb = nbformat.read(layout.notebook_path(followup.exercise, root=root), as_version=4)
        tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
        assert tests and all(c.metadata["nbgrader"]["points"] > 0 for c in tests)
        assert all("### BEGIN HIDDEN TESTS" in c.source for c in tests)
        declared = diagnostics.catalog(followup.exercise, course=root)
        named = {m for per in declared.values() for m in per}
        for wrong in followups.wrong_answers(followup):
            assert wrong.diagnosis in named, f"{followup.exercise}: {wrong.name} names an undeclared mistake"
        for test_id, mistakes in declared.items():  # every declared mistake is one a hidden test can name
            source = next(c.source for c in tests if c.metadata["nbgrader"]["grade_id"] == test_id)
            for mistake in mistakes:
                assert f'"{mistake}"' in source, f"{followup.exercise}/{test_id}: {mistake} is never named"


def _function(followup, name):
    namespace = {"np": np}
    for source in followups.reference_answers(followup).values():
        exec(source, namespace)
    return namespace[name]


def test_the_reference_answers_do_what_their_questions_claim():
    """The formulas the exercises teach, checked numerically: gradients against central differences of the loss
    they state, Adam's first step, the gain as a decrease in squared error, the median as the L1 minimiser,
    whitening's identity covariance, the L1 distance."""
    from mlkit.checks import numerical_gradient

    rng = np.random.default_rng(30)
    n, d = 15, 3
    X, w, b = rng.normal(size=(n, d)), rng.normal(size=d), 0.4

    ridge = _function(followups.find("01_linear_regression", "ridge_gradient"), "ridge_gradient")
    y, lam = rng.normal(size=n), 0.9
    loss = lambda t: np.mean((X @ t[:-1] + t[-1] - y) ** 2) / 2 + lam / 2 * np.sum(t[:-1] ** 2)  # noqa: E731
    dw, db = ridge(X, y, w, b, lam)
    assert np.allclose(np.append(dw, db), numerical_gradient(loss, np.append(w, b)), rtol=1e-6, atol=1e-9)

    weighted = _function(followups.find("02_logistic_regression", "class_weights"), "weighted_logistic_gradient")
    labels, c = (rng.random(n) < 0.4).astype(int), np.array([0.5, 3.0])

    def log_loss(t):
        p = 1.0 / (1.0 + np.exp(-(X @ t[:-1] + t[-1])))
        return np.mean(c[labels] * -(labels * np.log(p) + (1 - labels) * np.log(1 - p)))

    dw, db = weighted(X, labels, w, b, c)
    assert np.allclose(np.append(dw, db), numerical_gradient(log_loss, np.append(w, b)), rtol=1e-6, atol=1e-9)

    adam = _function(followups.find("04_gradient_descent", "adam"), "adam_step")
    g = np.array([3.0, -1e-3, 50.0])
    first, m, v = adam(np.zeros(3), g, np.zeros(3), np.zeros(3), 1)
    assert np.allclose(first, -0.001 * np.sign(g), rtol=1e-4)  # the corrected first step: lr against the sign
    assert np.allclose(m, 0.1 * g) and np.allclose(v, 0.001 * g ** 2)

    gain = _function(followups.find("06_decision_tree", "regression_tree"), "variance_reduction")
    targets, mask = rng.normal(size=n), np.arange(n) < 6
    squared_error = lambda part: np.sum((part - part.mean()) ** 2)  # noqa: E731
    decrease = squared_error(targets) - squared_error(targets[mask]) - squared_error(targets[~mask])
    assert np.isclose(gain(targets, mask), decrease / n)  # the decrease in total squared error, over n

    update = _function(followups.find("08_kmeans", "k_medians"), "kmedians_update")
    points = rng.standard_t(2, size=(31, 2))
    (centre,) = update(points, np.zeros(31, dtype=int), np.zeros((1, 2)))
    l1 = lambda c: np.abs(points - c).sum()  # noqa: E731  the cluster's total Manhattan distance
    assert all(l1(centre) <= l1(centre + step) for step in rng.normal(size=(50, 2)) * 0.05)
    assert l1(centre) <= l1(points.mean(axis=0))

    whiten = _function(followups.find("09_pca", "whitening"), "whiten")
    data = rng.normal(size=(50, 3)) @ [[2.0, 0.3, 0.0], [0.0, 1.0, 0.4], [0.0, 0.0, 0.3]]
    values, vectors = np.linalg.eigh(np.cov(data, rowvar=False))
    assert np.allclose(np.cov(whiten(data, data.mean(axis=0), vectors.T, values), rowvar=False), np.eye(3))

    manhattan = _function(followups.find("07_knn", "manhattan"), "manhattan_distances")
    A, B = rng.normal(size=(4, d)), rng.normal(size=(6, d))
    assert np.allclose(manhattan(A, B), [[np.abs(a - q).sum() for q in B] for a in A])


# -- graded through the self-study path ------------------------------------------------------------------


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("followups") / "workspace"


def _submissions(followup):
    """(name, answers, the declared mistake it must name or None) of every catalogued submission of an exercise."""
    reference = followups.reference_answers(followup)
    cases = [("reference", reference, None)]
    cases += [(f"alt-{name}", {**reference, **answers}, None)
              for name, answers in followups.alternatives(followup).items()]
    cases += [(wrong.name, wrong.apply(reference), wrong.diagnosis) for wrong in followups.wrong_answers(followup)]
    return cases


def _verdicts_here(followup, answers) -> dict[str, tuple[bool, str | None]]:
    """Test id -> (passed, the mistake a failed check named), the exercise's cells run in this process.

    Quick, for every catalogued submission (trusted code of the kit's own catalog); the sandboxed path a learner's
    notebook takes is test_a_graded_followup_through_the_self_study_path's."""
    from mlkit import nbcells
    from mlkit.checks import CheckFailed

    root = followups.exercises_root(followup.assignment)
    nb = nbformat.read(layout.notebook_path(followup.exercise, root=root), as_version=4)
    namespace: dict = {"__name__": "__main__"}
    found = {}
    for cell in nb.cells:
        kind = nbcells.kind_of(cell)
        if kind == "code":
            exec(cell.source, namespace)
        elif kind == "answer":
            exec(answers[cell.metadata["nbgrader"]["grade_id"]], namespace)
        elif kind == "tests":
            try:
                exec(cell.source, namespace)
                found[cell.metadata["nbgrader"]["grade_id"]] = (True, None)
            except CheckFailed as failed:
                found[cell.metadata["nbgrader"]["grade_id"]] = (False, failed.mistake)
            except Exception:  # noqa: BLE001  any other error fails the cell, as in nbgrader
                found[cell.metadata["nbgrader"]["grade_id"]] = (False, None)
    return found


@pytest.mark.parametrize("followup", CODE_FOLLOWUPS, ids=lambda f: f.exercise)
def test_every_catalogued_answer_gets_full_marks_or_its_mistake_named(followup, monkeypatch):
    """Correct answers in any style pass every check; each realistic wrong one fails one, naming its mistake."""
    monkeypatch.chdir(followups.exercises_root(followup.assignment))  # where the checks find its diagnostics
    for name, answers, diagnosis in _submissions(followup):
        verdicts = _verdicts_here(followup, answers)
        if diagnosis is None:
            assert all(passed for passed, _ in verdicts.values()), (name, verdicts)
        else:
            assert diagnosis in {mistake for passed, mistake in verdicts.values() if not passed}, (name, verdicts)


@pytest.mark.parametrize("followup", CODE_FOLLOWUPS, ids=lambda f: f.exercise)
def test_a_graded_followup_through_the_self_study_path(workspace, tmp_path, followup):
    """Through nbgrader's autograde in the workspace, sandboxed: the reference gets full marks, and one realistic
    wrong answer (each exercise's first) loses points with its mistake's sentence in the summary and the feedback."""
    course_root = followups.prepare(workspace, followup)
    release = layout.notebook_path(followup.exercise, "release", course_root)
    reference = followups.reference_answers(followup)
    wrong = followups.wrong_answers(followup)[0]
    for answers, diagnosis in [(reference, None), (wrong.apply(reference), wrong.diagnosis)]:
        notebook = tmp_path / release.name
        nbformat.write(catalog.fill_answers(nbformat.read(release, as_version=4), answers), notebook)
        before = notebook.read_bytes()
        checks, feedback = followups.grade_exercise(workspace, followup, notebook)
        assert notebook.read_bytes() == before  # the learner's file is only read
        score, points = sum(c.score for c in checks), sum(c.points for c in checks)
        if diagnosis is None:
            assert score == points > 0, [(c.test_id, c.message) for c in checks if not c.passed]
            continue
        assert score < points
        failed = [c for c in checks if not c.passed]
        assert diagnosis in {c.mistake for c in failed}, [(c.test_id, c.mistake, c.message) for c in failed]
        declared = diagnostics.catalog(followup.exercise, course=followups.exercises_root(followup.assignment))
        message = next(per[diagnosis].message for per in declared.values() if diagnosis in per)
        assert any(c.message == message for c in failed)
        assert feedback.exists() and " ".join(message.split()[:6]) in " ".join(feedback.read_text().split())


def test_mutate_runs_over_the_graded_followups_and_reports_their_score(capsys):
    assert followups.run(None, None, None, None, True, None, jobs=2) == 0
    out = capsys.readouterr().out
    for followup in CODE_FOLLOWUPS:
        assert re.search(rf"^{followup.exercise}: \d+ mutants", out, re.M), out
    scores = re.findall(r"^mutation score: ([\d.]+)%", out, re.M)
    assert len(scores) == len(CODE_FOLLOWUPS) and all(float(s) == 100.0 for s in scores), out
    named = re.findall(r"^hand-written mistakes .*: (\d+) of (\d+) caught, (\d+) caught and named", out, re.M)
    assert len(named) == len(CODE_FOLLOWUPS) and all(a == b == c != "0" for a, b, c in named), out
    for followup in CODE_FOLLOWUPS:  # the same runner `mlkit mutate` uses, over the exercise's own course layout
        mutants, _ = mutation.generate(followup.exercise, followups.exercises_root(followup.assignment))
        assert len(mutants) >= 5


# -- the command and the history ---------------------------------------------------------------------------


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def _followup(workspace, *args, capsys=None):
    """`mlkit followup ...`: in this process through the command line's parser, or (without capsys) as a command."""
    argv = ["followup", *args, "--workspace", str(workspace)]
    if capsys is None:
        return subprocess.run([*MLKIT, *argv], capture_output=True, text=True, timeout=300)
    capsys.readouterr()
    code = cli.main(argv)
    out = capsys.readouterr()
    return Ran(code, out.out, out.err)


def test_followups_open_after_an_interview_pass_are_rated_graded_and_recorded(tmp_path, capsys):
    workspace = tmp_path / "ws"
    locked = _followup(workspace, "07")  # as a command of its own, once
    assert locked.returncode == 2 and "open after full marks at the interview level" in locked.stderr
    record = histories.History(attempts=[
        histories.Attempt("07_knn", "2026-12-01T10:00:00+00:00", 16, 16, {}, [], level="blank")])
    histories.save(workspace, record)
    run = functools.partial(_followup, capsys=capsys)  # the rest in this process, through the same parser
    assert run(workspace, "07").returncode == 2  # a blank-level pass is not an interview

    record.attempts.append(histories.Attempt("07_knn", "2026-12-02T10:00:00+00:00", 16, 16, {}, [],
                                             level="interview", seconds=900, limit_seconds=1200))
    histories.save(workspace, record)
    listed = run(workspace, "knn")
    assert listed.returncode == 0, listed.stderr
    found = followups.load("07_knn")
    for followup in found:
        assert followup.id in listed.stdout
        assert " ".join(followup.answer.split()[:8]) not in " ".join(listed.stdout.split())  # questions only

    spoken = next(f for f in found if f.kind == "spoken")
    shown = run(workspace, "07", spoken.id)
    assert " ".join(spoken.answer.split()[:8]) in " ".join(shown.stdout.split())
    assert f"followup 07_knn {spoken.id} --rate N" in shown.stdout  # as the learner started the kit
    assert run(workspace, "07", spoken.id, "--rate", "6").returncode == 2
    assert run(workspace, "07", spoken.id, "--rate", "3").returncode == 0

    code = next(f for f in found if f.kind == "code")
    written = run(workspace, "07", code.id)
    assert written.returncode == 0, written.stderr
    notebook = followups.exercise_notebook(workspace, code)
    assert str(notebook) in written.stdout and "### BEGIN SOLUTION" not in notebook.read_text()
    nb = nbformat.read(notebook, as_version=4)
    nbformat.write(catalog.fill_answers(nb, followups.reference_answers(code)), notebook)
    graded = run(workspace, "07", code.id, "--grade")
    assert graded.returncode == 0, graded.stderr
    assert "4 / 4 points" in graded.stdout and " ".join(code.answer.split()[:8]) in " ".join(graded.stdout.split())

    entries = histories.load(workspace).followups
    assert [(e["followup"], e["kind"], e["rating"], e["score"], e["passed"]) for e in entries] == [
        (spoken.id, "spoken", 3, None, False), (code.id, "code", None, 4.0, True)]
    assert set(entries[0]) == {"assignment", "followup", "kind", "topic", "when", "rating", "score", "max_score",
                               "mistakes", "passed"}
    record = histories.load(workspace)
    assert not followups.complete(record, "07_knn")
    for followup in found:
        if followup.kind == "spoken":
            histories.record_followup(record, "07_knn", followup.id, "spoken", followup.topic, "2026-12-03T10:00:00",
                                      rating=5)
    assert followups.complete(record, "07_knn")
    histories.save(workspace, record)
    assert len(histories.load(workspace).followups) == len(entries) + 3  # kept through a save and a load


def test_selfgrade_lists_the_followups_after_full_marks_in_a_mock_interview(tmp_path, capsys):
    workspace = tmp_path / "ws"
    session = practice.start(workspace, "07", mock=True)
    nb = nbformat.read(session.notebook, as_version=4)
    nbformat.write(catalog.fill_answers(nb, catalog.reference_answers("07_knn")), session.notebook)
    assert selfgrade.run(str(session.notebook), str(workspace), None) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Follow-up questions on 07_knn" in out
    assert all(f"followup 07_knn {f.id}" in out for f in followups.load("07_knn"))
    assert _followup(workspace, "07", capsys=capsys).returncode == 0  # and the command opens


def test_an_instructors_course_carries_the_followups(tmp_path):
    made = course.init(tmp_path / "course", ["07"])
    assert followups.load("07_knn", made) == followups.load("07_knn")
    code = next(f for f in followups.load("07_knn", made) if f.kind == "code")
    assert layout.notebook_path(code.exercise, root=followups.exercises_root("07_knn", made)).exists()
