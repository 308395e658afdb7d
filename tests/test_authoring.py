"""An instructor's own notebook: `mlkit new`, `mlkit lint`, release, grading and `mlkit mutate`, end to end.

The scaffold is written into a course of its own, then completed with a small algorithm of the kit's choice
(ridge regression, tests/data/11_ridge_regression: the notebook as text, its diagnostics file and its two
reviewed equivalent mutants), linted,
released, graded by `nbgrader autograde` for a correct and a wrong submission, and its mutation score read.
A notebook with broken markers is refused by lint with the cell named; hidden tests emptied lower the score
and list the survivors.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from mlkit import course, layout
from mlkit.authoring import catalog, lint, nbtext
from mlkit.grading.sandbox import launcher as sandbox

pytestmark = pytest.mark.xdist_group("authoring")
DATA = Path(__file__).resolve().parent / "data" / "11_ridge_regression"
NEW = "11_ridge_regression"


def _mlkit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlkit.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=course.environment())


@pytest.fixture()
def small_course(tmp_path) -> Path:
    return course.new_course(tmp_path / "course", ["01_linear_regression"])


def test_the_kit_notebooks_pass_lint():
    assert lint.lint(layout.ROOT, layout.assignments()) == []


def test_the_scaffold_passes_lint_and_release_as_it_stands_and_is_never_overwritten(small_course):
    made = _mlkit("new", "12_standardize", "--title", "Standardising features", cwd=small_course)
    assert made.returncode == 0, made.stderr
    folder = small_course / "source" / "12_standardize"
    for written in ("source/12_standardize/standardize.ipynb", "source/12_standardize/diagnostics.toml",
                    "catalog/12_standardize/mutants.toml", "catalog/12_standardize/equivalent_mutants.toml"):
        assert f"  {written}   " in made.stdout, made.stdout  # each file it wrote, named
    assert {p.name for p in folder.iterdir()} == {"standardize.ipynb", "diagnostics.toml"}
    assert {p.name for p in (small_course / "catalog" / "12_standardize").iterdir()} == {
        "mutants.toml", "equivalent_mutants.toml"}
    checked = _mlkit("lint", "12", cwd=small_course)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    released = _mlkit("release", "12", cwd=small_course)
    assert released.returncode == 0, released.stderr
    text = (small_course / "release" / "12_standardize" / "standardize.ipynb").read_text()
    assert "BEGIN HIDDEN TESTS" not in text and "X.std(axis=0)" not in text
    assert _mlkit("lint", "12", cwd=small_course).returncode == 0  # the release is checked too, now it exists
    before = (folder / "standardize.ipynb").read_bytes()
    again = _mlkit("new", "12_standardize", cwd=small_course)
    assert again.returncode == 2 and "exists already" in again.stderr
    assert _mlkit("new", "12_other", cwd=small_course).returncode == 2  # its number is taken
    assert _mlkit("new", "ridge", cwd=small_course).returncode == 2
    assert (folder / "standardize.ipynb").read_bytes() == before


def _broken(course_root: Path) -> Path:
    _mlkit("new", "12_standardize", cwd=course_root)
    path = course_root / "source" / "12_standardize" / "standardize.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == "standardize":
            cell.source = cell.source.replace("    ### END SOLUTION", "")
        if grade_id == "test_standardize":
            cell.source = cell.source.split("\n", 1)[1]  # no opening sentence
        if grade_id == "derivation":
            cell.source += "\n### BEGIN HIDDEN TESTS\nsecret\n### END HIDDEN TESTS"
    nbformat.write(nb, path)
    with open(course_root / "source" / "12_standardize" / "diagnostics.toml", "a") as extra:
        extra.write('\n[test_standardize.mistakes.never_named]\nmessage = "Nobody names this."\n'
                    '\n[test_gone.mistakes.anything]\nmessage = "No such cell."\n')
    return path


def test_lint_names_the_cell_and_what_to_change(small_course):
    _broken(small_course)
    run = _mlkit("lint", "12_standardize", cwd=small_course)
    assert run.returncode == 1
    out = run.stdout
    where = "source/12_standardize/standardize.ipynb"
    assert f"{where} [standardize]: a `### BEGIN SOLUTION` region is never closed" in out
    assert f"{where} [test_standardize]: a graded test cell opens with one comment sentence" in out
    assert f"{where} [derivation]: a hidden-test region outside a graded test cell" in out
    assert f"{where} [test_standardize]: diagnostics.toml declares mistake `never_named`" in out
    assert f"{where} [test_gone]: diagnostics.toml declares mistakes for `test_gone`" in out
    assert len(out.strip().splitlines()) == 5, out


def _ridge_course(root: Path) -> Path:
    """The scaffold of 11_ridge_regression, completed with the notebook and diagnostics of tests/data."""
    assert _mlkit("new", NEW, cwd=root).returncode == 0
    nbformat.write(nbtext.to_notebook((DATA / "ridge_regression.txt").read_text()),
                   root / "source" / NEW / "ridge_regression.ipynb")
    shutil.copy2(DATA / "diagnostics.toml", root / "source" / NEW / "diagnostics.toml")
    shutil.copy2(DATA / "equivalent_mutants.toml", root / "catalog" / NEW / "equivalent_mutants.toml")
    return root


@pytest.mark.skipif(sandbox.detect().name == "none", reason="grading needs the sandbox")
def test_a_new_notebook_is_linted_released_graded_and_mutated(small_course):
    root = _ridge_course(small_course)
    assert _mlkit("lint", NEW, cwd=root).returncode == 0
    assert _mlkit("release", NEW, cwd=root).returncode == 0
    reference = catalog.reference_answers(NEW, root=root)
    wrong = {"ridge": reference["ridge"].replace(
        "x_mean = X.mean(axis=0)", "x_mean = np.zeros(X.shape[1])").replace(
        "y_mean = y.mean()", "y_mean = 0.0")}  # no centring: the bias is fitted by nothing, penalised or not
    wrong_bias = {"ridge": reference["ridge"].replace(
        "        x_mean = X.mean(axis=0)                                     # (d,)\n",
        "        Xa = np.column_stack([X, np.ones(len(X))])\n"
        "        wb = np.linalg.solve(Xa.T @ Xa + self.reg_lambda * np.eye(X.shape[1] + 1), Xa.T @ y)\n"
        "        self.weights, self.bias = wb[:-1], wb[-1]\n        return self\n"
        "        x_mean = X.mean(axis=0)\n")}
    for student, answers in (("alice", reference), ("bob", wrong), ("carol", wrong_bias)):
        catalog.write_submission(root, student, NEW, catalog.submission_notebook(NEW, answers, root=root), root=root)
    course.nbgrader(root, "autograde", NEW)
    grades = {s: per[NEW] for s, per in course.gradebook(root).items()}
    assert grades["alice"].auto_score == grades["alice"].auto_max == 5
    assert grades["bob"].auto_score < 5 and grades["carol"].auto_score == 2  # predict still right for carol
    graded = (root / "autograded" / "carol" / NEW / "ridge_regression.ipynb").read_text()
    assert "The bias is penalised" in graded  # the new notebook's diagnostics name the mistake

    run = _mlkit("mutate", NEW, "--jobs", "2", "--confirm", "3", cwd=root)
    assert run.returncode == 0, run.stdout + run.stderr
    score = re.search(r"^mutation score: ([\d.]+)%", run.stdout, re.M)
    assert score and float(score[1]) == 100.0, run.stdout
    assert "ridge:19:29-19:50:transpose:1: x_mean is one-dimensional" in run.stdout  # the equivalents, with reasons
    assert "confirmed through nbgrader autograde: 3 of 3 sampled mutants got the same verdict" in run.stdout


def test_emptied_hidden_tests_lower_the_score_and_list_the_survivors(small_course):
    root = _ridge_course(small_course)
    path = root / "source" / NEW / "ridge_regression.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if "### BEGIN HIDDEN TESTS" in cell.source:
            head, rest = cell.source.split("### BEGIN HIDDEN TESTS", 1)
            cell.source = head + "### BEGIN HIDDEN TESTS\npass\n### END HIDDEN TESTS"
    nbformat.write(nb, path)
    run = _mlkit("mutate", NEW, "--jobs", "2", cwd=root)
    assert run.returncode == 1
    score = float(re.search(r"^mutation score: ([\d.]+)%", run.stdout, re.M)[1])
    assert score < 100.0
    assert "survivors (no hidden test fails for these" in run.stdout
    assert re.search(r"^ridge:\d+:\d+-\d+:\d+:\w+:-?\d+  \(", run.stdout, re.M)  # a survivor's id and what it changes
    assert "--- ridge (reference)" in run.stdout and "+++ ridge (ridge:" in run.stdout


def _standardize_with(course_root: Path, find: str, replace: str) -> None:
    """The scaffold's notebook 12_standardize with one line of its reference solution changed."""
    assert _mlkit("new", "12_standardize", cwd=course_root).returncode == 0
    path = course_root / "source" / "12_standardize" / "standardize.ipynb"
    nb = nbformat.read(path, as_version=4)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "standardize")
    assert answer.source.count(find) == 1
    answer.source = answer.source.replace(find, replace)
    nbformat.write(nb, path)


def test_a_reference_its_own_hidden_test_fails_is_reported_by_lint_and_refused_by_mutate(small_course):
    # ddof=1: the sample standard deviation, which the hidden test (like SPEC's population statistics) rejects.
    _standardize_with(small_course, "std = X.std(axis=0)", "std = X.std(axis=0, ddof=1)")
    linted = _mlkit("lint", "12", cwd=small_course)
    assert linted.returncode == 1
    assert ("source/12_standardize/standardize.ipynb [test_standardize]: the reference solution loses this cell's "
            "points in its own tests: ") in linted.stdout, linted.stdout
    mutated = _mlkit("mutate", "12", "--jobs", "2", cwd=small_course)
    assert mutated.returncode == 1
    assert not re.search(r"^mutation score:", mutated.stdout, re.M)
    assert "no mutation score: the reference solution loses points" in mutated.stdout
    assert re.search(r"^  test_standardize: .+", mutated.stdout, re.M), mutated.stdout


def test_hand_written_mistakes_are_reported_unless_caught_and_named(small_course):
    assert _mlkit("new", "12_standardize", cwd=small_course).returncode == 0
    mistakes = small_course / "catalog" / "12_standardize" / "mutants.toml"
    mistakes.write_text(mistakes.read_text() + '''
[[mutant]]
name = "row_statistics"
description = "Takes the statistics over each row."
cell = "standardize"
find = "mean = X.mean(axis=0)                   # (d,)\\n    std = X.std(axis=0)"
replace = "mean = X.mean(axis=1, keepdims=True)\\n    std = X.std(axis=1, keepdims=True)"
diagnosis = "wrong_axis"

[[mutant]]
name = "no_scaling"
description = "Only centres the columns."
cell = "standardize"
find = "return (X - mean) / std"
replace = "return X - mean"
diagnosis = "wrong_axis"

[[mutant]]
name = "harmless"
description = "Writes the same division another way."
cell = "standardize"
find = "return (X - mean) / std"
replace = "return (X - mean) * (1 / std)"
diagnosis = "wrong_axis"
''')
    run = _mlkit("mutate", "12", "--jobs", "2", cwd=small_course)
    assert run.returncode == 1
    assert "hand-written mistakes (catalog/12_standardize/mutants.toml): 2 of 3 caught, 1 caught and named" \
        in run.stdout, run.stdout
    assert re.search(r"^  no_scaling: caught but not named: no failing check names `wrong_axis`", run.stdout, re.M)
    assert re.search(r"^  harmless: not caught, every check gives full points", run.stdout, re.M)
    assert "  row_statistics:" not in run.stdout  # caught, and the feedback names wrong_axis


def test_lint_reports_a_hidden_type_or_dtype_demand_no_visible_test_shows(small_course):
    assert _mlkit("new", "12_standardize", cwd=small_course).returncode == 0
    path = small_course / "source" / "12_standardize" / "standardize.ipynb"
    nb = nbformat.read(path, as_version=4)
    test = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_standardize")
    test.source = test.source.replace("### END HIDDEN TESTS", "\n".join([
        'check.ndarray(standardize(X_hidden), "standardize(X) on random data", kind="f")',  # shown: no finding
        'check.ndarray(standardize(X_hidden)[:, 0], "column 0 of standardize(X)", kind="f")',
        'check.that(type(standardize(X_hidden)) is np.ndarray, "standardize must return a numpy.ndarray.")',
        "### END HIDDEN TESTS"]))
    nbformat.write(nb, path)
    run = _mlkit("lint", "12", cwd=small_course)
    assert run.returncode == 1
    where = "source/12_standardize/standardize.ipynb [test_standardize]"
    assert re.search(rf"^{re.escape(where)}: line 14 of the cell \(hidden tests\) demands a dtype of kind f of "
                     "`column`, which no visible test checks", run.stdout, re.M), run.stdout
    assert f"{where}: line 15 of the cell (hidden tests) demands the type np.ndarray of `standardize`" in run.stdout
    assert len(run.stdout.strip().splitlines()) == 2, run.stdout
