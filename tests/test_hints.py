"""The self-study hint ladder and the clock to full marks (issue 30), through the real `mlkit` commands.

A scripted learner practises logistic regression with the classic unstable sigmoid, asks for every hint,
gives up once, fixes the code and reaches full marks: each step is checked as the learner sees it.
"""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
import sys

import nbformat
import pytest
from fsrs import Rating

from mlkit import diagnostics, layout
from mlkit.authoring import catalog
from mlkit.study import hints, rating, schedule
from mlkit.study import history as histories

ASSIGNMENT = "02_logistic_regression"
CHECK = "test_sigmoid_stability"
MLKIT = [sys.executable, "-m", "mlkit.cli"]


def _run(*words, **kwargs):
    return subprocess.run([*MLKIT, *map(str, words)], capture_output=True, text=True, timeout=300, **kwargs)


def _write_answers(notebook, answers):
    nb = nbformat.read(notebook, as_version=4)
    nbformat.write(catalog.fill_answers(nb, answers, ASSIGNMENT), notebook)


def _squash(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def learner(tmp_path_factory):
    """Every command of the scripted learner, in order, with its output: practice, a wrong attempt, four hints,
    a give-up, the fixed attempt."""
    workspace = tmp_path_factory.mktemp("ladder") / "workspace"
    runs = {"practice": _run("practice", "logistic", "--workspace", workspace)}
    assert runs["practice"].returncode == 0, runs["practice"].stderr
    notebook = re.search(r"Notebook: (\S+)", runs["practice"].stdout).group(1)
    mutant = next(m for m in catalog.mutants(ASSIGNMENT) if m.diagnosis == "unstable_sigmoid")
    _write_answers(notebook, catalog.catalog_answers(ASSIGNMENT)[f"mutant-{mutant.name}"])
    runs["wrong"] = _run("selfgrade", notebook, "--workspace", workspace)
    # nbgrader generate_feedback's page of that attempt, as an instructor's class receives it
    runs["wrong-feedback"] = next((workspace / "feedback" / histories.LEARNER / ASSIGNMENT).glob("*.html")).read_text()
    runs["hints"] = [_run("hint", "--workspace", workspace) for _ in range(4)]
    runs["give-up"] = _run("hint", "logistic", "--give-up", "--workspace", workspace)
    _write_answers(notebook, catalog.reference_answers(ASSIGNMENT))
    runs["fixed"] = _run("selfgrade", notebook, "--workspace", workspace)
    for name, run in runs.items():
        for one in run if isinstance(run, list) else [run] if not isinstance(run, str) else []:
            assert one.returncode == 0, (name, one.stderr)
    return workspace, runs


def test_a_failed_attempt_names_the_mistake_but_gives_nothing_away(learner):
    workspace, runs = learner
    out = _squash(runs["wrong"].stdout)
    mistake = diagnostics.mistakes_for(ASSIGNMENT, CHECK)["unstable_sigmoid"]
    assert f"FAIL 0/2" in out and "-> mistake: The sigmoid overflows for large negative z" in out
    assert _squash(mistake.hint) not in out and "exp(-|z|)" not in out and "np.where" not in out
    for line in hints.reference_lines(ASSIGNMENT, CHECK).splitlines()[1:]:
        assert _squash(line) not in out  # no reference line
    model = rating.model_explanation(ASSIGNMENT)
    assert _squash(model)[:60] not in out and "model answer" not in out
    assert "Feedback for this attempt" not in out  # the feedback page names the fixes: not linked yet
    assert "Time so far:" in out and "1 try" in out and "the clock runs until full marks" in out


def test_the_ladder_reveals_three_different_things_for_that_check_only_then_says_nothing_is_left(learner):
    workspace, runs = learner
    one, two, three, four = (_squash(r.stdout) for r in runs["hints"])
    content = diagnostics.check_help(ASSIGNMENT, CHECK)
    assert f"Hint 1 of 3 for {CHECK} (a question)" in one and _squash(content.question) in one
    assert f"Hint 2 of 3 for {CHECK} (the formula with shapes)" in two and _squash(content.formula) in two
    assert f"Hint 3 of 3 for {CHECK}" in three and "e = np.exp(-np.abs(z))" in three
    assert "np.where(z >= 0" in three
    # That check's code only: none of fit's lines (the gradient, the loss), which other checks test.
    fit = ast.get_source_segment(catalog.reference_answers(ASSIGNMENT)["logistic_regression"],
                                 next(n for n in ast.walk(ast.parse(catalog.reference_answers(ASSIGNMENT)
                                                                     ["logistic_regression"]))
                                      if isinstance(n, ast.FunctionDef) and n.name == "fit"))
    assert "grad_w" in fit and "grad_w" not in three and "np.clip" not in three
    bodies = [hint.split("next attempt:", 1)[1] for hint in (one, two, three)]
    assert len(set(bodies)) == 3 and not any(a in b for a in bodies for b in bodies if a is not b)
    assert "Nothing is left for test_sigmoid_stability" in four and "Hint" not in four
    assert "hint 02_logistic_regression --give-up" in four


def test_giving_up_shows_the_model_answer_and_is_recorded(learner):
    workspace, runs = learner
    model = rating.model_explanation(ASSIGNMENT)
    assert _squash(model)[:60] in _squash(runs["give-up"].stdout)
    fixed = histories.load(workspace).attempts[-1]
    assert [h["step"] for h in fixed.hints] == [1, 2, 3, histories.GIVE_UP]


def test_the_clock_runs_to_full_marks_and_the_history_holds_every_try(learner):
    workspace, runs = learner
    record = histories.load(workspace)
    wrong, fixed = record.attempts
    assert not wrong.perfect and fixed.perfect
    assert wrong.session == fixed.session is not None and (wrong.tries, fixed.tries) == (1, 2)
    assert wrong.seconds <= fixed.seconds and fixed.limit_seconds == 45 * 60
    assert not record.sessions  # the session ended at full marks
    out = _squash(runs["fixed"].stdout)
    assert re.search(r"Time to full marks: \d+\.\d of 45 minutes \(within time\), 2 tries, 4 hints, guided level",
                     out), out
    assert "compare with the model answer" in out and "Feedback for this attempt" in out
    # Hints and the give-up count against the attempt they helped: its rating is at the floor.
    assert schedule.rating(fixed) == Rating.Again and not record.pending_hints.get(ASSIGNMENT)
    no_more = _run("hint", "--workspace", workspace)
    assert no_more.returncode == 2 and "failed no check" in no_more.stderr


def test_the_feedback_page_keeps_the_fix(learner):
    """Feedback pages (nbgrader generate_feedback, as a class receives them after the deadline) keep the fix."""
    _, runs = learner
    page = runs["wrong-feedback"]
    hint = diagnostics.mistakes_for(ASSIGNMENT, CHECK)["unstable_sigmoid"].hint
    import html

    assert html.escape(hint) in page or hint in page


def test_a_hint_needs_an_attempt(tmp_path):
    result = _run("hint", "--workspace", tmp_path)
    assert result.returncode == 2 and "no graded attempt yet" in result.stderr


def _graded_cells(assignment: str) -> list[str]:
    nb = nbformat.read(layout.notebook_path(assignment), as_version=4)
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if c.cell_type == "code"
            and c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")]


@pytest.mark.parametrize("assignment", layout.assignments())
def test_every_check_has_a_question_a_formula_and_its_own_reference_lines(assignment):
    for check in _graded_cells(assignment):
        content = diagnostics.check_help(assignment, check)
        assert content is not None, f"{assignment} {check}: no question and formula in the diagnostics"
        assert content.question.rstrip().endswith("?"), (assignment, check)
        assert content.question != content.formula
        lines = hints.reference_lines(assignment, check, content.code)
        assert lines.startswith("# "), (assignment, check)
        named = re.findall(r"^# (\S+)", lines, re.M)
        assert all(name in content.code for name in named) if content.code else named
        for mistake in diagnostics.mistakes_for(assignment, check).values():
            name = mistake.short_name
            assert name and name.count("(") == name.count(")") and name[-1] not in "*/+-=(,:", (check, name)
            assert _squash(mistake.hint) not in _squash(name) and "instead of" not in name, (check, name)


def test_after_the_last_hint_of_one_check_the_other_failed_checks_are_named_with_their_command(tmp_path):
    """Two mistakes: `mlkit hint` climbs the first failed check's ladder; when it is spent it names the other
    failed checks, and the printed `--check` command, run as printed, starts that check's ladder."""
    workspace = tmp_path / "workspace"
    practice = _run("practice", "logistic", "--workspace", workspace)
    assert practice.returncode == 0, practice.stderr
    notebook = re.search(r"Notebook: (\S+)", practice.stdout).group(1)
    answers = catalog.reference_answers(ASSIGNMENT)
    for mutant in catalog.mutants(ASSIGNMENT):
        if mutant.diagnosis in ("unstable_sigmoid", "reg_not_divided_by_n"):
            answers = mutant.apply(answers)
    _write_answers(notebook, answers)
    assert _run("selfgrade", notebook, "--workspace", workspace).returncode == 0
    failed = [c.test_id for c in hints.failed_checks(workspace, ASSIGNMENT)]
    assert failed[0] == CHECK and len(failed) >= 2, failed
    ladder = [_run("hint", "--workspace", workspace) for _ in range(4)]
    assert all(run.returncode == 0 for run in ladder), [run.stderr for run in ladder]
    spent = ladder[3].stdout
    assert f"Nothing is left for {CHECK}" in spent and "Other failed checks" in spent
    printed = [line.strip() for line in spent.splitlines() if "--check" in line]
    assert [shlex.split(line)[shlex.split(line).index("--check") + 1] for line in printed] == failed[1:]
    first_other = subprocess.run(shlex.split(printed[0]), capture_output=True, text=True, timeout=300)
    assert first_other.returncode == 0, first_other.stderr
    assert f"Hint 1 of 3 for {failed[1]} (a question)" in first_other.stdout
