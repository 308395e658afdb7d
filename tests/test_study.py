"""Self-study practice (issue 12): levels cut from the release, the clock, FSRS scheduling, mastery, history, dashboard.

The grading parts run the real `mlkit selfgrade` (nbgrader's autograde and
feedback, the grading boundary and sandbox) on notebooks that `mlkit practice`
wrote, as a learner would.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from fsrs import Rating

from mlkit import layout
from mlkit.authoring import catalog
from mlkit.study import dashboard, levels, practice, schedule
from mlkit.study import history as histories
from mlkit.study.history import Attempt, History
from support import CHROMIUM, doc_commands, ink, render, visible_text

MLKIT = [sys.executable, "-m", "mlkit.cli"]
UTC = dt.timezone.utc
pytestmark = pytest.mark.xdist_group("study")  # one worker builds the learner's workspace once


def _release(assignment: str):
    return nbformat.read(layout.notebook_path(assignment, "release"), as_version=4)


def _grade_ids(nb, kind: str) -> list[str]:
    out = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if kind == "answer" and cell.cell_type == "code" and meta.get("solution"):
            out.append(meta["grade_id"])
        if kind == "test" and cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            out.append(meta["grade_id"])
    return out


# -- levels --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("assignment", layout.assignments())
def test_blank_and_interview_levels_keep_the_api_and_drop_the_scaffold(assignment):
    release = _release(assignment)
    derivation = next(c.source for c in release.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "derivation")
    for level in ("blank", "interview"):
        nb = levels.make(release, level)
        nbformat.validate(nb)
        text = "\n".join(c.source for c in nb.cells)
        assert derivation not in text, level
        assert _grade_ids(nb, "answer") == _grade_ids(release, "answer")  # selfgrade recognises it, same tests
        assert "What you will build" in text
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code":
                assert _bodies_are_stubs(cell.source), (level, cell.metadata["nbgrader"]["grade_id"])
    assert _grade_ids(levels.make(release, "blank"), "test") == _grade_ids(release, "test")
    assert _grade_ids(levels.make(release, "interview"), "test") == []  # no visible tests at interview level


def _bodies_are_stubs(source: str) -> bool:
    """Every function is its docstring (if any) and `raise NotImplementedError()`: no scaffold line is left."""
    import ast

    functions = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef)]
    for function in functions:
        body = function.body[1:] if ast.get_docstring(function) is not None else function.body
        if len(body) != 1 or ast.unparse(body[0]) != "raise NotImplementedError()":
            return False
    return bool(functions)


@pytest.mark.parametrize("assignment", layout.assignments())
def test_the_sections_a_level_keeps_are_numbered_in_order(assignment):
    """An interview keeps sections 1 and 7 of the release, a blank level leaves out the derivation: numbered
    1, 2, 3, ... as the learner reads them, the titles kept."""
    release = _release(assignment)
    titles = [line.split(". ", 1)[1] for c in release.cells if c.cell_type == "markdown"
              for line in c.source.splitlines() if re.match(r"## \d+\. ", line)]
    for level in ("blank", "interview"):
        headings = [line for c in levels.make(release, level).cells if c.cell_type == "markdown"
                    for line in c.source.splitlines() if re.match(r"## \d+\. ", line)]
        assert [h.split(". ", 1)[0] for h in headings] == [f"## {n}" for n in range(1, len(headings) + 1)], headings
        kept = [h.split(". ", 1)[1] for h in headings]
        assert kept == [t for t in titles if t in kept] and kept[0] == titles[0] and kept[-1] == titles[-1]
    assert len(headings) == 2  # the interview: what to build, then the explanation


def test_skeleton_keeps_signatures_decorators_and_docstrings():
    source = '''import math

LIMIT = 3


class Model:
    """A model.

    After fit: weights (d,).
    """

    def __init__(self, rate=0.1):
        self.rate = rate

    @staticmethod
    def helper(y):
        """y: (n,). Returns a float."""
        return float(y.sum())


def loss(w, X, y):
    """w: (d,), X: (n, d), y: (n,). Returns a float."""
    r = X @ w - y
    return 0.5 * (r @ r) / len(y)
'''
    out = levels.skeleton(source)
    assert _bodies_are_stubs(out)
    for kept in ("import math", "LIMIT = 3", "class Model:", "    After fit: weights (d,).", "    @staticmethod",
                 "    def helper(y):", '        """y: (n,). Returns a float."""', "def loss(w, X, y):",
                 '    """w: (d,), X: (n, d), y: (n,). Returns a float."""'):
        assert kept in out.splitlines(), kept
    for gone in ("self.rate = rate", "return float(y.sum())", "r = X @ w - y"):
        assert gone not in out
    assert out.count("raise NotImplementedError()") == 3


# -- the practice loop through the real selfgrade ----------------------------------------------------------------


def _fill_answers(notebook: Path, assignment: str) -> None:
    """What a learner who knows the algorithm writes: the reference answers, into the practice notebook."""
    nb = nbformat.read(notebook, as_version=4)
    nbformat.write(catalog.fill_answers(nb, catalog.reference_answers(assignment), assignment), notebook)


@pytest.fixture(scope="module")
def learner(tmp_path_factory):
    """A learner's workspace after: guided 01 (full marks), blank 01 left empty, blank 01 full marks but 25
    minutes into a 20-minute limit, and a mock interview of what the schedule picked, answered in time."""
    workspace = tmp_path_factory.mktemp("study") / "workspace"
    runs = {}

    def selfgrade(notebook: Path, env: dict | None = None):
        result = subprocess.run([*MLKIT, "selfgrade", str(notebook), "--workspace", str(workspace)],
                                capture_output=True, text=True, timeout=300, env=env)
        assert result.returncode == 0, result.stderr
        return result

    guided = practice.start(workspace, "01_linear_regression", "guided")
    _fill_answers(guided.notebook, "01_linear_regression")
    # Python lists every module this attempt imports (on stderr): test_selfgrade_loads_no_jupyter_server reads it.
    runs["guided"] = selfgrade(guided.notebook, {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"})

    empty = practice.start(workspace, "01_linear_regression", "blank")
    runs["blank-empty"] = selfgrade(empty.notebook)

    late = practice.start(workspace, "01_linear_regression", "blank", minutes=20,
                          now=dt.datetime.now(UTC) - dt.timedelta(minutes=25))
    _fill_answers(late.notebook, "01_linear_regression")
    runs["blank-late"] = selfgrade(late.notebook)

    started = subprocess.run([*MLKIT, "practice", "--mock", "--workspace", str(workspace)],
                             capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stderr
    mock = Path(re.search(r"Notebook: (\S+)", started.stdout).group(1))
    mock_assignment = re.search(r"Mock interview: (\S+),", started.stdout).group(1)
    _fill_answers(mock, mock_assignment)
    runs["mock"] = selfgrade(mock)
    runs["mock-started"] = started
    return workspace, runs, mock_assignment


def test_every_level_is_graded_by_the_same_hidden_tests(learner):
    workspace, runs, _ = learner
    attempts = histories.load(workspace).attempts
    guided, empty, late, mock = attempts
    assert guided.level == "guided" and guided.perfect
    assert empty.level == "blank" and empty.score == 0 and empty.max_score == guided.max_score
    assert late.level == "blank" and late.perfect and set(late.checks) == set(guided.checks)
    assert mock.level == "interview" and mock.perfect


def test_selfgrade_loads_no_jupyter_server(learner):
    """A graded attempt imports nbgrader's applications, not its Jupyter server extensions (start-up time)."""
    _, runs, _ = learner
    imported = {line.rsplit("|", 1)[1].strip() for line in runs["guided"].stderr.splitlines()
                if line.startswith("import time:") and "|" in line}
    assert {"nbgrader.apps.autogradeapp", "nbgrader.apps.generatefeedbackapp", "nbgrader.api"} <= imported
    assert not {name for name in imported if name.split(".")[0] == "jupyter_server"
                or name.startswith(("nbgrader.server_extensions", "tornado.web"))}


def test_nbgrader_without_server_extensions_still_answers_for_them():
    """The short registration of the nbgrader package: submodules as ever; the extension hooks on demand."""
    probe = ("import sys\n"
             "from mlkit import nbgrader_startup\n"
             "assert nbgrader_startup.without_server_extensions()\n"
             "from nbgrader.apps import AutogradeApp\n"
             "from nbgrader import utils\n"
             "import nbgrader\n"
             "print(nbgrader.__version__, 'jupyter_server' in sys.modules)\n"
             "print(nbgrader._jupyter_server_extension_points(), 'jupyter_server' in sys.modules)\n"
             "assert not nbgrader_startup.without_server_extensions()\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    import nbgrader

    assert result.stdout.splitlines() == [f"{nbgrader.__version__} False", "[{'module': 'nbgrader'}] True"]


def test_a_new_gradebook_is_stamped_with_the_head_that_alembic_heads_prints(learner):
    """selfgrade finds the migrations' head in its own process; nbgrader would have run `alembic heads`."""
    import sqlite3

    from nbgrader.dbutil import _temp_alembic_ini

    workspace, _, _ = learner
    with sqlite3.connect(workspace / "gradebook.db") as db:
        stamped = db.execute("SELECT version_num FROM alembic_version").fetchall()
    with _temp_alembic_ini("sqlite:////nonexistent/gradebook.db") as ini:
        heads = subprocess.run([str(Path(sys.executable).parent / "alembic"), "-c", ini, "heads"],
                               capture_output=True, text=True, check=True).stdout
    assert stamped == [(heads.split()[0],)]


def test_the_clock_records_time_and_over_time(learner):
    workspace, runs, _ = learner
    guided, empty, late, mock = histories.load(workspace).attempts
    assert late.limit_seconds == 20 * 60 and 25 * 60 <= late.seconds < 35 * 60 and late.over_time
    assert "over time" in runs["blank-late"].stdout
    assert mock.limit_seconds == 20 * 60 and mock.seconds < 20 * 60 and not mock.over_time
    assert "within time" in runs["mock"].stdout


def test_mock_interview_picks_what_the_schedule_says_and_mastery_follows_evidence(learner):
    workspace, runs, mock_assignment = learner
    record = histories.load(workspace)
    # 01 was practised (and its last attempt is not due yet): the mock asks an algorithm never attempted.
    assert mock_assignment != "01_linear_regression"
    assert "interview level, 20 minutes" in runs["mock-started"].stdout
    # 01: full marks from memory, but only over time; the mock's: one pass from memory, on one day. Both 3: mastery
    # 4 asks for a second pass from memory at least 3 days later (test_mastery_4_needs_two_passes_...).
    assert schedule.mastery(record, "01_linear_regression") == 3
    assert schedule.mastery(record, mock_assignment) == 3
    assert schedule.unlocked(record, "01_linear_regression") == ["guided", "blank", "interview"]


def test_the_model_answer_is_shown_at_full_marks_and_its_rating_is_recorded(learner, tmp_path):
    workspace, runs, mock_assignment = learner
    assert "compare with the model answer" in runs["mock"].stdout
    assert "compare with the model answer" not in runs["blank-empty"].stdout
    copy = tmp_path / "ws"
    import shutil

    shutil.copytree(workspace, copy)
    rated = subprocess.run([*MLKIT, "rate", mock_assignment, "--explanation", "5", "--mastery", "4",
                            "--workspace", str(copy)], capture_output=True, text=True)
    assert rated.returncode == 0, rated.stderr
    assert f"recorded for {mock_assignment}: explanation 5/5, own mastery 4/5" in rated.stdout, rated.stdout
    record = histories.load(copy)
    assert record.explanations[-1]["rating"] == 5 and record.self_ratings[mock_assignment] == 4
    assert schedule.mastery(record, mock_assignment) == 3  # one pass, one day: a rating does not replace spacing
    asked = subprocess.run([*MLKIT, "rate", mock_assignment, "--explanation", "--workspace", str(copy)],
                           input="4\n", capture_output=True, text=True)
    assert asked.returncode == 0 and histories.load(copy).explanations[-1]["rating"] == 4, asked.stderr
    bad = subprocess.run([*MLKIT, "rate", mock_assignment, "--explanation", "9", "--workspace", str(copy)],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "1 (cannot) to 5" in bad.stderr


def test_the_printed_rate_command_takes_the_score_as_an_argument(learner, tmp_path):
    """selfgrade prints `rate ALGORITHM --explanation N`; with N replaced, it records that score with no terminal."""
    import shutil

    workspace, runs, mock_assignment = learner
    printed = re.search(r"^  (.* rate \S+ .*--explanation) N$", runs["mock"].stdout, re.M).group(1)
    copy = tmp_path / "ws"
    shutil.copytree(workspace, copy)
    command = printed.replace(str(workspace.resolve()), str(copy)) + " 4"
    rated = subprocess.run(["bash", "-c", command], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=120)
    assert rated.returncode == 0, rated.stderr
    assert histories.load(copy).explanations[-1] == {**histories.load(copy).explanations[-1],
                                                    "assignment": mock_assignment, "rating": 4}
    assert not histories.load(workspace).explanations


def test_a_locked_level_is_refused_with_the_reason(tmp_path):
    result = subprocess.run([*MLKIT, "practice", "knn", "--level", "interview", "--workspace", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "opens after full marks at the blank level" in result.stderr


def test_the_dashboard_shows_the_attempts_and_fits_1280_pixels(learner):
    workspace, _, mock_assignment = learner
    page = workspace / "report.html"
    text = visible_text(page.read_text())
    for assignment in layout.assignments():
        assert assignment in text
    assert "What to practise next" in text and "Study plan" in text and "day 21" in text
    assert "over time" in text and "can code" in text
    if CHROMIUM is None:
        pytest.skip("needs chromium")
    pixels, dom = render(page, "study-dashboard", height=1100)
    assert "mlkit-progress" in dom and ink(pixels) > 0.02
    # Nothing wider than the window: measured by the browser itself, on a copy that reports its width.
    probe = page.with_name("report-width.html")
    probe.write_text(page.read_text().replace(
        "</body>", "<script>document.body.setAttribute('data-width', document.documentElement.scrollWidth)"
                   "</script></body>"))
    _, dom = render(probe, "study-dashboard-width", height=1100)
    width = int(re.search(r'data-width="(\d+)"', dom).group(1))
    assert width <= 1280, width


# -- schedule and history (no grading) -----------------------------------------------------------------


def _attempt(day: float, level="guided", score=10.0, over=False, hints=0, assignment="07_knn"):
    when = (dt.datetime(2026, 1, 1, 9, tzinfo=UTC) + dt.timedelta(days=day)).isoformat()
    return Attempt(assignment, when, score, 10.0, {"a": score >= 10}, [], level, 600.0, 1200.0, over,
                   [{"check": "a", "step": 1}] * hints)


def test_ratings_come_from_the_result():
    assert schedule.rating(_attempt(0, score=9)) == Rating.Again
    assert schedule.rating(_attempt(0, "guided")) == Rating.Good
    assert schedule.rating(_attempt(0, "blank")) == Rating.Good
    assert schedule.rating(_attempt(0, "interview")) == Rating.Easy
    assert schedule.rating(_attempt(0, "interview", over=True)) == Rating.Hard
    assert schedule.rating(_attempt(0, "interview", hints=2)) == Rating.Hard
    assert schedule.rating(_attempt(0, "guided", hints=5)) == Rating.Again


def test_fsrs_spaces_reviews_further_after_each_success_and_resets_after_a_failure():
    good = [_attempt(0), _attempt(1, "blank"), _attempt(5, "interview")]
    dues = [schedule.card(good[:n]).due for n in (1, 2, 3)]
    gaps = [(due - dt.datetime.fromisoformat(a.when)).days for due, a in zip(dues, good)]
    assert gaps[0] < gaps[1] < gaps[2]
    failed = schedule.card(good + [_attempt(30, "interview", score=4)])
    assert (failed.due - dt.datetime.fromisoformat(_attempt(30).when)).days <= 1


def test_mastery_levels_and_unlocks():
    record = History()
    assert schedule.mastery(record, "07_knn") == 1 and schedule.unlocked(record, "07_knn") == ["guided"]
    record.attempts.append(_attempt(0, score=3))
    assert schedule.mastery(record, "07_knn") == 2
    record.attempts.append(_attempt(1))
    assert schedule.mastery(record, "07_knn") == 3 and schedule.unlocked(record, "07_knn") == ["guided", "blank"]
    record.attempts.append(_attempt(2, "blank", over=True))
    assert schedule.mastery(record, "07_knn") == 3
    record.self_ratings["07_knn"] = 5  # kept beside, never mixed in
    assert schedule.mastery(record, "07_knn") == 3


def _followup(name: str, passed: bool, assignment="07_knn") -> dict:
    """A follow-up answer as history.record_followup writes it (a spoken one, rated)."""
    return {"assignment": assignment, "followup": name, "kind": "spoken", "topic": name,
            "when": "2026-01-20T09:00:00+00:00", "rating": 5 if passed else 2, "score": None, "max_score": None,
            "mistakes": [], "passed": passed}


def test_mastery_4_needs_two_passes_from_memory_3_days_apart():
    """Replayed histories (fixed clocks): one blank pass stays below 4, however it is rated; 4 needs a second
    pass from memory at least 3 days after the first, within time and with no hint beyond the first step."""
    once = History(attempts=[_attempt(0), _attempt(1, "blank")])
    once.explanations.append({"assignment": "07_knn", "rating": 5})
    assert schedule.mastery(once, "07_knn") == 3
    same_day = History(attempts=[_attempt(1, "blank"), _attempt(1.2, "interview")])
    assert schedule.mastery(same_day, "07_knn") == 3
    two_days = History(attempts=[_attempt(1, "blank"), _attempt(3, "blank")])
    assert schedule.mastery(two_days, "07_knn") == 3
    spaced = History(attempts=[_attempt(1, "blank"), _attempt(4, "blank")])
    assert schedule.mastery(spaced, "07_knn") == 4
    over = History(attempts=[_attempt(1, "blank"), _attempt(4, "blank", over=True)])
    assert schedule.mastery(over, "07_knn") == 3
    guided = History(attempts=[_attempt(1, "guided"), _attempt(4, "blank")])
    assert schedule.mastery(guided, "07_knn") == 3
    one_question = History(attempts=[_attempt(1, "blank", hints=1), _attempt(4, "interview")])
    assert schedule.mastery(one_question, "07_knn") == 4  # the first step (a question) is allowed
    formula = _attempt(4, "blank")
    formula.hints = [{"check": "a", "step": 2}]
    assert schedule.mastery(History(attempts=[_attempt(1, "blank"), formula]), "07_knn") == 3
    # A hint revealed before an earlier, failed try of the same session helped the pass too.
    helped_try = _attempt(3.9, "blank", score=4)
    helped_try.hints, helped_try.session = [{"check": "a", "step": 3}], "s"
    fixed = _attempt(4, "blank")
    fixed.session, fixed.tries = "s", 2
    assert schedule.mastery(History(attempts=[_attempt(1, "blank"), helped_try, fixed]), "07_knn") == 3
    gave_up = _attempt(4, "blank")
    gave_up.hints = [{"check": None, "step": histories.GIVE_UP}]
    assert schedule.mastery(History(attempts=[_attempt(1, "blank"), gave_up]), "07_knn") == 3
    untimed = _attempt(4, "blank")
    untimed.seconds = untimed.limit_seconds = None
    assert schedule.mastery(History(attempts=[_attempt(1, "blank"), untimed]), "07_knn") == 3


def test_mastery_5_needs_a_later_interview_the_explanation_and_the_follow_ups():
    record = History(attempts=[_attempt(1, "blank"), _attempt(4, "blank"), _attempt(6, "interview")])
    record.explanations.append({"assignment": "07_knn", "rating": 5})
    record.followups += [_followup(name, True) for name in ("complexity", "stability", "change")]
    assert schedule.mastery(record, "07_knn") == 4  # the interview came only 2 days after the pass that gave 4
    record.attempts.append(_attempt(7, "interview"))
    assert schedule.mastery(record, "07_knn") == 5
    without_explanation = History(attempts=record.attempts, followups=record.followups)
    assert schedule.mastery(without_explanation, "07_knn") == 4
    record.followups.append(_followup("stability", False))  # the latest answer of a follow-up counts
    assert schedule.mastery(record, "07_knn") == 4
    record.followups.append(_followup("stability", True))
    assert schedule.mastery(record, "07_knn") == 5
    two_followups = History(attempts=record.attempts, explanations=record.explanations,
                            followups=[_followup("complexity", True), _followup("change", True)])
    assert schedule.mastery(two_followups, "07_knn") == 4
    blank_later = History(attempts=[_attempt(1, "blank"), _attempt(4, "blank"), _attempt(8, "blank")],
                          explanations=record.explanations, followups=record.followups)
    assert schedule.mastery(blank_later, "07_knn") == 4  # 5 asks for the interview level


def test_the_weakest_is_the_most_overdue_then_the_least_mastered():
    record = History(attempts=[_attempt(0, assignment="01_linear_regression"),
                               _attempt(0, score=2, assignment="02_logistic_regression")])
    now = dt.datetime(2026, 1, 20, tzinfo=UTC)
    assert schedule.weakest(record, ["01_linear_regression", "02_logistic_regression"], now) == "02_logistic_regression"
    assert schedule.weakest(record, ["01_linear_regression", "02_logistic_regression", "07_knn"], now) == "07_knn"


def test_an_older_history_is_read_and_upgraded(tmp_path):
    old = [{"assignment": "01_linear_regression", "when": "2026-01-02T10:00:00", "score": 12.0, "max_score": 12.0,
            "checks": {"t": True}, "mistakes": []}]
    (tmp_path / "history.json").write_text(json.dumps(old))
    record = histories.load(tmp_path)
    assert not record.notice and record.attempts[0].level == "guided" and record.attempts[0].seconds is None
    assert schedule.mastery(record, "01_linear_regression") == 3
    histories.save(tmp_path, record)
    assert json.loads((tmp_path / "history.json").read_text())["version"] == histories.VERSION
    assert histories.load(tmp_path).attempts == record.attempts


@pytest.mark.parametrize("content", [b'{"version": 2, "attempts": [', b"\xff\xfe garbage", b'{"attempts": []}',
                                     b'{"version": 99, "attempts": []}', b'{"version": 2, "attempts": [{"x": 1}]}'])
def test_a_damaged_history_is_kept_aside_and_reported(tmp_path, content, capsys):
    (tmp_path / "history.json").write_bytes(content)
    record = histories.load(tmp_path)
    kept = list(tmp_path.glob("history.json.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == content
    assert str(kept[0]) in record.notice and record.attempts == []
    assert str(kept[0]) in capsys.readouterr().err  # whichever command read it says so
    histories.save(tmp_path, record)  # the new history never replaces the kept file
    assert kept[0].read_bytes() == content


def test_selfgrade_reports_a_damaged_history_and_still_grades(tmp_path):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "history.json").write_text("not json")
    notebook = tmp_path / "linear_regression.ipynb"
    nbformat.write(catalog.submission_notebook("01_linear_regression", None), notebook)
    result = subprocess.run([*MLKIT, "selfgrade", str(notebook), "--workspace", str(workspace)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "could not be read" in result.stderr and "kept as" in result.stderr
    assert len(list(workspace.glob("history.json.corrupt-*"))) == 1
    assert len(histories.load(workspace).attempts) == 1


def test_checkpoints_follow_the_plan():
    record = History(attempts=[_attempt(0, "blank", assignment="01_linear_regression"),
                               _attempt(0, "blank", assignment="02_logistic_regression")])
    done = {day: ok for day, _, ok in schedule.checkpoints(record)}
    assert done[0] and not done[3] and not done[21]
    record.attempts.append(_attempt(21, "interview", assignment="05_neural_network"))
    assert {day: ok for day, _, ok in schedule.checkpoints(record)}[21]
    html_page = dashboard.render(record, dt.datetime(2026, 1, 25, tzinfo=UTC))
    assert html_page.count("<span class='done'>done</span>") == 2


def test_day_14_asks_softmax_from_memory_in_15_minutes_as_the_plan_says(tmp_path):
    """The plan's "softmax regression from memory in 15 minutes": a pass in a 20-minute session does not tick it
    off, one in a 15-minute session does; the dashboard's command for it asks for 15 minutes and is accepted."""
    others = [_attempt(14, "interview", assignment="02_logistic_regression"),
              _attempt(14, "blank", assignment="10_model_selection")]
    in_20 = History(attempts=[*others, _attempt(14, "interview", assignment="03_softmax_regression")])
    assert {day: ok for day, _, ok in schedule.checkpoints(in_20)}[14] is False
    assert schedule.missing(in_20, 14) == schedule.Evidence("03_softmax_regression", "interview", 15)
    page = dashboard.render(in_20, dt.datetime(2026, 1, 16, tzinfo=UTC))
    command = re.search(r"day 14[^<]*<span class='todo'>to do: <code>([^<]*)</code>", page).group(1)
    assert command.endswith(" practice 03_softmax_regression --mock --minutes 15"), command
    started = subprocess.run(["bash", "-c", html.unescape(command)], capture_output=True, text=True, timeout=120,
                             env={**os.environ, "MLKIT_SELFSTUDY": str(tmp_path)})
    assert started.returncode == 0, started.stderr
    assert "03_softmax_regression, interview level, 15 minutes" in started.stdout
    assert [s["minutes"] for s in histories.load(tmp_path).sessions.values()] == [15]
    fast = _attempt(14, "interview", assignment="03_softmax_regression")
    fast.limit_seconds = 15 * 60
    in_15 = History(attempts=[*others, fast])
    assert {day: ok for day, _, ok in schedule.checkpoints(in_15)}[14] is True
    # The mock interview of day 21 is the plan's 20 minutes, the mock's own time: no --minutes to type.
    first_day = dashboard.render(History(attempts=[_attempt(0, "blank", assignment="01_linear_regression")]),
                                 dt.datetime(2026, 1, 2, tzinfo=UTC))
    assert re.search(r"day 21[^<]*<span class='todo'>to do: <code>[^<]* practice --mock</code>", first_day)


def test_the_dashboard_shows_the_latest_explanation_rating():
    record = History(attempts=[_attempt(0, "blank")], self_ratings={"07_knn": 3},
                     explanations=[{"assignment": "07_knn", "rating": 2}, {"assignment": "07_knn", "rating": 5}])
    page = dashboard.render(record, dt.datetime(2026, 1, 2, tzinfo=UTC))
    progress = page[page.index("<h2>Progress per notebook</h2>"):page.index("<h2>Study plan</h2>")]
    assert "<td>3; explained 5/5</td>" in re.search(r"<tr><td>07_knn</td>.*?</tr>", progress).group(0)
    assert "<td>-; -</td>" in re.search(r"<tr><td>08_kmeans</td>.*?</tr>", progress).group(0)
    assert "own rating; explanation" in page


def test_two_commands_take_a_learner_to_a_graded_timed_mock_interview(tmp_path):
    """`./run practice --mock`, the learner writes the code, `./run selfgrade NOTEBOOK`; the dashboard shows it."""
    root = Path(__file__).resolve().parent.parent
    env = {**__import__("os").environ, "MLKIT_SELFSTUDY": str(tmp_path / "selfstudy")}
    started = subprocess.run([str(root / "run"), "practice", "--mock"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=600)
    assert started.returncode == 0, started.stderr
    notebook = Path(re.search(r"Notebook: (\S+)", started.stdout).group(1))
    assignment = re.search(r"Mock interview: (\S+), interview level, 20 minutes", started.stdout).group(1)
    _fill_answers(notebook, assignment)
    graded = subprocess.run([str(root / "run"), "selfgrade", str(notebook)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert graded.returncode == 0, graded.stderr
    assert "Time to full marks:" in graded.stdout and "(within time), 1 try, interview level" in graded.stdout
    attempt = histories.load(tmp_path / "selfstudy").attempts[-1]
    assert attempt.assignment == assignment and attempt.level == "interview" and attempt.perfect
    page = tmp_path / "selfstudy" / "report.html"
    text = visible_text(page.read_text())
    assert "0 of 10 algorithms at mastery 4 or 5" in text and "can code" in text
    if CHROMIUM is None:
        pytest.skip("needs chromium")
    pixels, dom = render(page, "study-after-mock-interview", height=900)
    assert assignment in dom and ink(pixels) > 0.02


# -- the dashboard as a learner in a checkout sees it (issue 30) -------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = ROOT / "docs" / "screenshots" / "study-dashboard.png"


def _replayed(start: dt.datetime) -> History:
    """Three weeks of a learner's history, replayed with fixed clocks from `start`: 01 and 02 from memory twice,
    3+ days apart (mastery 4), a failed KNN blank attempt with a question asked, a PCA guided pass."""
    def at(day, assignment, level, score, minutes, limit, tries=1, hints=()):
        """A session's tries: the failed ones (score 10, a few minutes apart), then the one with `score`."""
        session = (start + dt.timedelta(days=day)).isoformat(timespec="seconds")
        out = []
        for n in range(1, tries + 1):
            took = minutes - 4 * (tries - n)
            got = score if n == tries else 10.0
            when = (start + dt.timedelta(days=day, minutes=took)).isoformat(timespec="seconds")
            out.append(Attempt(assignment, when, got, 14.0, {"test_a": got >= 14, "test_b": got >= 12}, [], level,
                               took * 60.0, limit * 60.0, took > limit, list(hints) if n == 1 else [],
                               session=session, tries=n))
        return out

    record = History(attempts=[attempt for tries in [
        at(0, "01_linear_regression", "guided", 14, 31, 45, tries=2),
        at(0, "02_logistic_regression", "guided", 14, 38, 45, tries=3),
        at(1, "01_linear_regression", "blank", 14, 22, 30),
        at(1, "02_logistic_regression", "blank", 12, 30, 30, hints=[{"check": "test_b", "step": 1}]),
        at(2, "02_logistic_regression", "blank", 14, 26, 30, tries=2),
        at(3, "07_knn", "guided", 14, 29, 45),
        at(5, "01_linear_regression", "blank", 14, 17, 30),
        at(6, "02_logistic_regression", "interview", 14, 19, 20),
        at(7, "07_knn", "blank", 9, 30, 30, hints=[{"check": "test_a", "step": 1}]),
        at(8, "09_pca", "guided", 14, 40, 45, tries=2),
    ] for attempt in tries])
    record.explanations.append({"assignment": "02_logistic_regression", "rating": 4,
                                "when": (start + dt.timedelta(days=6)).isoformat()})
    return record


def test_the_dashboard_tells_the_learner_the_next_command_and_it_runs(tmp_path):
    """`./run study` on a replayed history: one command to paste at an open level, the same level in every row,
    the plan's checkpoints done from the history, axes on every chart; the command runs as pasted."""
    workspace = tmp_path / "selfstudy"
    histories.save(workspace, _replayed(dt.datetime.now(UTC) - dt.timedelta(days=9)))
    env = {**__import__("os").environ, "MLKIT_SELFSTUDY": str(workspace)}
    written = subprocess.run(["./run", "study", "--no-open"], cwd=ROOT, env=env,  # as typed in the checkout
                             capture_output=True, text=True, timeout=600)
    assert written.returncode == 0, written.stderr
    page = workspace / "report.html"
    source = page.read_text()
    next_command = re.search(r"<code id='next-command'>([^<]+)</code>", source).group(1)
    record = histories.load(workspace)
    # The most urgent row of the table, at a level open to the learner, as a command typed in the checkout.
    first_row = re.search(r"<tr><td>(\S+)</td><td class='due-now'>today</td>.*?<code>([^<]+)</code>", source).groups()
    assignment, level = re.fullmatch(r"\./run practice (\S+) --level (\w+)", next_command).groups()
    assert (assignment, next_command) == first_row and level in schedule.unlocked(record, assignment)
    for command in re.findall(r"<code>\./run practice (\S+) --level (\w+)</code>", source):
        assert command[1] in schedule.unlocked(record, command[0]), command
    text = visible_text(source)
    assert "day 0" in text and "2 of 10 algorithms at mastery 4 or 5" in text and "15 graded attempts" in text
    done = {day for day, _, ok in schedule.checkpoints(record) if ok}
    assert done == {0, 21} and source.count("<span class='done'>done</span>") == 2  # 02 at interview level in 19 min
    assert "40:00, 2 tries" in text and "time to full marks" in text  # 09_pca
    charts = re.findall(r"<svg class='mlkit-progress'.*?</svg>", source)
    assert len(charts) == 5 and all("100%" in c and "0%" in c and "attempt 1" in c for c in charts)
    if CHROMIUM is None:
        pytest.skip("needs chromium")
    pixels, dom = render(page, "study-dashboard-replayed", height=1400)
    assert "id=\"next-command\"" in dom and next_command in dom and ink(pixels) > 0.02
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    import shutil

    from support import ARTIFACTS

    shutil.copyfile(ARTIFACTS / "study-dashboard-replayed.png", tmp_path / "shot.png")
    # The command as the learner pastes it, in the checkout: it writes the practice notebook it promises.
    pasted = subprocess.run(["bash", "-c", next_command], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=600)
    assert pasted.returncode == 0, pasted.stderr
    assert f"Practice: {assignment}, {level} level" in pasted.stdout
    notebook = Path(re.search(r"Notebook: (\S+)", pasted.stdout).group(1))
    assert notebook.exists() and notebook.is_relative_to(workspace)
    printed = re.search(r"^  (\./run selfgrade .+)$", pasted.stdout, re.M).group(1)
    graded = subprocess.run(["bash", "-c", printed], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert graded.returncode == 0 and f"{assignment}: 0 / " in graded.stdout, graded.stderr


def test_the_self_study_block_runs_top_to_bottom_for_a_new_learner(tmp_path):
    """docs/self-study.md's block: each line as written, in the checkout, for a learner with a new home folder (so the default workspace
    ~/.mlkit-selfstudy is new); then every command those lines print, pasted as printed."""
    home = tmp_path / "home"
    home.mkdir()
    env = {key: value for key, value in __import__("os").environ.items() if key != "MLKIT_SELFSTUDY"}
    env.update(HOME=str(home), CI="1")
    lines = doc_commands("self-study.md", "self-study-workflow")
    assert lines[0] == "./run practice logistic" and len(lines) >= 5
    printed = []
    for line in lines:
        result = subprocess.run(["bash", "-c", line], cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=600)
        assert result.returncode == 0, (line, result.stdout, result.stderr)
        printed += [found for found in re.findall(r"^  (\./run .+)$", result.stdout, re.M) if found not in printed]
    workspace = home / ".mlkit-selfstudy"
    record = histories.load(workspace)
    assert [a.assignment for a in record.attempts] == ["02_logistic_regression"]
    assert record.pending_hints["02_logistic_regression"][0]["step"] == 1
    assert {s["level"] for s in record.sessions.values()} == {"guided", "interview"}
    assert record.explanations[-1]["rating"] == 4 and (workspace / "report.html").exists()
    assert any(p.startswith("./run selfgrade ") for p in printed) and any(p.startswith("./run hint ") for p in printed)
    for command in printed:  # pasted as printed: a rating asked for gets an answer
        result = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, input="3\n", capture_output=True,
                                text=True, timeout=600)
        assert result.returncode == 0, (command, result.stdout, result.stderr)
    assert len(histories.load(workspace).attempts) > 1  # the printed selfgrade graded the notebook again


def test_a_practice_notebook_shows_its_deadline_first_and_the_grading_cell_the_time_left(tmp_path):
    from mlkit.study import inlab

    started = dt.datetime(2026, 3, 2, 14, 5, tzinfo=UTC)
    for level, minutes in (("guided", 45), ("blank", 30), ("interview", 20)):
        nb = levels.make(_release("07_knn"), level, None, started=started)
        deadline = levels.deadline(started, minutes)
        assert nb.cells[0].cell_type == "markdown" and f"**Deadline {deadline}**" in nb.cells[0].source
        assert nb.metadata["mlkit_practice"]["deadline"] == (started + dt.timedelta(minutes=minutes)).isoformat()
        assert "grade_this_notebook()" in nb.cells[-1].source
        path = tmp_path / f"{level}.ipynb"
        nbformat.write(nb, path)
        assert inlab.time_left(path, started + dt.timedelta(minutes=5)) == \
            f"Time left: {minutes - 5} of {minutes} minutes (deadline {deadline})."
        assert inlab.time_left(path, started + dt.timedelta(minutes=minutes + 3)).startswith(
            "Time is up: 3 minutes past the deadline")
    assert inlab.time_left(tmp_path / "missing.ipynb") == ""
