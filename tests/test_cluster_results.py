"""What travels to a Dask worker and what is taken back from one, checked as data
(mlkit/grading/backends/dask_bundle.py, dask_client.py).

The real cluster, forged results from a real worker and another account's attempts are in
tests/test_distributed.py; here, each rule of `portable_config` and `read_result` (and of the feedback
pages' `dask_feedback.read_pages`) on its own, fast.
"""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from traitlets.config import Config

from mlkit.grading import autograde, render
from mlkit.grading.backends import dask_bundle, dask_client, dask_feedback
from mlkit.reports import templates

LIMITS = {"linear_regression": {"grades": {"test_fit": 3.0, "test_predict": 2.0}, "comments": {"answer_fit"},
                                "points": 5.0}}
SENT = {"linear_regression.ipynb", "timestamp.txt", "data/train.csv"}


def _result(**changes) -> dict:
    result = {"digest": "d" * 64, "status": autograde.GRADED, "seconds": 2.5, "reason": "",
              "files": {"linear_regression.ipynb": b"{}", "timestamp.txt": b"2026-01-01 00:00:00"},
              "records": {"timestamp": "2026-01-01T00:00:00", "notebooks": {"linear_regression": {
                  "late_submission_penalty": None, "grades": {"test_fit": [3.0, False], "test_predict": [None, True]},
                  "comments": {"answer_fit": "No response."}}}}}
    result.update(changes)
    return result


def _read(result) -> dict:
    return dask_bundle.read_result(dask_bundle.pack(result), "d" * 64, SENT, LIMITS)


def test_an_honest_result_is_read():
    read = _read(_result())
    assert read["status"] == autograde.GRADED and read["files"]["timestamp.txt"].startswith(b"2026")
    notebook = read["records"]["notebooks"]["linear_regression"]
    assert notebook["grades"] == {"test_fit": (3.0, False), "test_predict": (None, True)}
    assert read["records"]["timestamp"].year == 2026


def _with_grade(score) -> dict:
    result = _result()
    result["records"]["notebooks"]["linear_regression"]["grades"]["test_fit"] = [score, False]
    return result


@pytest.mark.parametrize("forged, reason", [
    (_result(digest="e" * 64), "does not answer the submission that was sent"),
    (_with_grade(3.5), "the score of test_fit in linear_regression is 3.5, not a number from 0 to 3"),
    (_with_grade(-1), "not a number from 0 to 3"),
    (_with_grade(float("nan")), "not a number from 0 to 3"),
    (_with_grade("3"), "not a number from 0 to 3"),
    (_result(files={"../../gradebook.db": b""}), "refused a file path outside its folder"),
    (_result(files={"/etc/passwd": b""}), "refused a file path"),
    (_result(files={"linear_regression.ipynb": "text"}), "not a map of paths to bytes"),
    (_result(files={"other.py": b""}), "neither the submission's nor a graded notebook"),
    (_result(status="done"), "has the status"),
])
def test_a_forged_result_is_refused_with_the_reason(forged, reason):
    with pytest.raises(dask_bundle.RefusedResult, match=re.escape(reason)):
        _read(forged)


def test_unknown_notebooks_cells_and_comments_are_refused():
    for where, name in (("notebooks", "another_notebook"), ("grades", "test_hidden_extra"),
                        ("comments", "answer_elsewhere")):
        result = _result()
        notebooks = result["records"]["notebooks"]
        if where == "notebooks":
            notebooks[name] = notebooks["linear_regression"]
        else:
            notebooks["linear_regression"][where][name] = [1.0, False] if where == "grades" else "text"
        with pytest.raises(dask_bundle.RefusedResult):
            _read(result)


def test_only_msgpack_bytes_are_read_never_a_pickle():
    with pytest.raises(dask_bundle.RefusedResult, match="no msgpack document"):
        dask_bundle.read_result(pickle.dumps(_result()), "d" * 64, SENT, LIMITS)
    with pytest.raises(dask_bundle.RefusedResult, match="sent a dict"):
        dask_bundle.read_result(_result(), "d" * 64, SENT, LIMITS)


class RunsCode:
    def __reduce__(self):
        return (print, ("ran",))


def test_while_connected_no_pickle_may_name_a_function():
    payload = pickle.dumps(RunsCode())
    with dask_client.refuse_unpickling():
        with pytest.raises(dask_client.UnpicklingRefused, match="builtins.print"):
            pickle.loads(payload)
        assert pickle.loads(pickle.dumps({"data": [b"bytes", 1.5, "text"]}))["data"][0] == b"bytes"
    pickle.loads(payload)  # outside, the hook is idle


def test_a_worker_reason_cannot_write_to_the_terminal():
    read = _read(_result(status=autograde.FAILED, reason="\x1b]0;owned\x07fine" + "x" * 5000))
    assert "\x1b" not in read["reason"] and "\x07" not in read["reason"] and len(read["reason"]) <= 600


def test_the_configuration_travels_without_credentials():
    config = Config()
    config.CourseDirectory.course_id = "course"
    config.CourseDirectory.db_url = "postgresql://grader:pw-1@db/gradebook"
    config.CourseDirectory.root = "/home/instructor/course"
    config.ResilientExecute.timeout = 30
    config.Autograde.sanitize_preprocessors = ["nbgrader.preprocessors.ClearOutput"]
    config.MlkitGrade.tls_key_file = "/home/instructor/cluster.key"
    config.HubAuth.api_token = "pw-2"
    config.ExchangeFactory.collect = "mlkit.grading.plugins.exchange.LinkSafeCollect"
    config.Whatever.service_password = "pw-3"
    config.Whatever.mirror = "https://user:pw-4@example.org/"
    shown = dask_bundle.portable_config(config)
    assert shown == {"CourseDirectory": {"course_id": "course"}, "ResilientExecute": {"timeout": 30},
                     "Autograde": {"sanitize_preprocessors": ["nbgrader.preprocessors.ClearOutput"]}}
    assert b"pw-" not in dask_bundle.pack(shown)
    config.Autograde.exporter_class = Config  # a class object: cannot travel, and says which setting
    with pytest.raises(dask_bundle.ConfigNotPortable, match="c.Autograde.exporter_class"):
        dask_bundle.portable_config(config)


def test_a_plain_scheduler_needs_the_network_said_private(tmp_path):
    with pytest.raises(dask_client.InsecureTransport, match="--private-network"):
        dask_client.cluster_security("tcp://10.0.0.1:8786", {})
    assert dask_client.cluster_security("tcp://10.0.0.1:8786", {}, private_network=True) is None
    with pytest.raises(dask_client.InsecureTransport, match="incomplete: set c.MlkitGrade.tls_key_file"):
        dask_client.cluster_security("tls://10.0.0.1:8786", {"tls_ca_file": "a", "tls_cert_file": "b"})
    with pytest.raises(dask_client.InsecureTransport, match="no such file"):
        dask_client.cluster_security("tls://10.0.0.1:8786", {name: str(tmp_path / name) for name in dask_client.TLS_SETTINGS})


# -- feedback pages (mlkit/grading/backends/dask_feedback.py) ------------------------------------

GRADED = {"linear_regression.ipynb": b"{}", "timestamp.txt": b"2026-01-01 00:00:00", "data/train.csv": b"x,y\n"}


def _pages(**changes) -> dict:
    pages = {"digest": "d" * 64, "status": render.WRITTEN, "seconds": 1.5, "reason": "",
             "files": {"linear_regression.html": b"<html></html>", "timestamp.txt": GRADED["timestamp.txt"],
                       "data/train.csv": GRADED["data/train.csv"]}}
    pages.update(changes)
    return pages


def _read_pages(pages) -> dict:
    return dask_feedback.read_pages(dask_bundle.pack(pages), "d" * 64, GRADED)


def test_honest_feedback_pages_are_read():
    read = _read_pages(_pages())
    assert read["status"] == render.WRITTEN and read["files"]["linear_regression.html"] == b"<html></html>"
    failed = _read_pages(_pages(status=render.FAILED, reason="\x1b[2Jgone", files=None))
    assert failed["status"] == render.FAILED and "\x1b" not in failed["reason"]


@pytest.mark.parametrize("forged, reason", [
    (_pages(digest="e" * 64), "does not answer the submission that was sent"),
    (_pages(files={"linear_regression.html": b"", "../../../.bashrc": b"run me"}), "refused a file path outside"),
    (_pages(files={"linear_regression.html": b"", "/home/instructor/.bashrc": b""}), "refused a file path"),
    (_pages(files={"linear_regression.html": b"", "other.html": b""}), "neither a graded notebook's page"),
    (_pages(files={"linear_regression.html": b"", "linear_regression.ipynb": b"{}"}),
     "neither a graded notebook's page"),
    (_pages(files={"linear_regression.html": b"", "timestamp.txt": b"2020-01-01 00:00:00"}),
     "copy of 'timestamp.txt' differs from the graded file"),
    (_pages(files={"linear_regression.html": b" " * (dask_feedback.MAX_PAGE_BYTES + 1)}), "more than"),
    (_pages(files={"timestamp.txt": GRADED["timestamp.txt"]}), "lacks the page 'linear_regression.html'"),
    (_pages(files={"linear_regression.html": "text"}), "not a map of paths to bytes"),
    (_pages(status="graded"), "has the status"),
])
def test_a_forged_feedback_result_is_refused_with_the_reason(forged, reason):
    with pytest.raises(dask_bundle.RefusedResult, match=re.escape(reason)):
        _read_pages(forged)


def test_feedback_travels_with_no_secret_and_its_templates_found_where_the_worker_has_them(tmp_path):
    config = Config()
    config.CourseDirectory.db_url = "postgresql://grader:pw-1@db/gradebook"
    config.OfflineFeedbackExporter.extra_template_basedirs = templates.basedirs() + [str(tmp_path / "mine")]
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "index.html.j2").write_text("{% extends 'feedback.html.j2' %}")
    shown, folders = dask_feedback.travelling_templates(dask_bundle.portable_config(config), tmp_path)
    assert b"pw-" not in dask_bundle.pack(shown) and str(tmp_path) not in str(shown)
    assert shown["OfflineFeedbackExporter"]["extra_template_basedirs"] == [
        "mlkit-package:mlkit/reports/templates", "mlkit-package:nbgrader/server_extensions/formgrader/templates",
        "mlkit-course-templates:0"]
    worker = dask_feedback._resolve_templates(shown, dask_bundle.unpack(folders)["folders"], tmp_path / "scratch")
    found = worker["OfflineFeedbackExporter"]["extra_template_basedirs"]
    assert found[:2] == templates.basedirs() and (Path(found[2]) / "index.html.j2").read_text().startswith("{%")
    config.OfflineFeedbackExporter.extra_template_basedirs = ["/srv/elsewhere/templates"]
    with pytest.raises(dask_bundle.ConfigNotPortable, match="c.OfflineFeedbackExporter.extra_template_basedirs"):
        dask_feedback.travelling_templates(dask_bundle.portable_config(config), tmp_path)


def test_feedback_refuses_a_plain_scheduler_before_connecting(tmp_path):
    with pytest.raises(dask_client.InsecureTransport, match="--private-network"):
        dask_feedback.generate(tmp_path, [], "tcp://127.0.0.1:9", config=Config())
    with pytest.raises(dask_client.InsecureTransport, match="needs the cluster's CA"):
        dask_feedback.generate(tmp_path, [], "tls://127.0.0.1:9", config=Config())


# -- the one writer: each result's graded folder and gradebook rows -----------------------------------

ASSIGNMENT, STUDENT = "01_linear_regression", "alice"


@pytest.fixture
def gradebook(tmp_path):
    """A course folder and nbgrader's gradebook holding LIMITS' notebook in ASSIGNMENT, and STUDENT."""
    from nbgrader.api import Gradebook

    autograde.tools_on_path()  # nbgrader stamps a new gradebook with alembic, beside this Python
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gb:
        gb.add_assignment(ASSIGNMENT)
        gb.add_notebook("linear_regression", ASSIGNMENT)
        for cell, points in LIMITS["linear_regression"]["grades"].items():
            gb.add_grade_cell(cell, "linear_regression", ASSIGNMENT, max_score=points, cell_type="code")
        gb.add_solution_cell("answer_fit", "linear_regression", ASSIGNMENT)
        gb.add_student(STUDENT)
        yield tmp_path, gb


def _copy(fit_score: float, files: dict[str, bytes]) -> dict:
    """One checked result for alice, as `read_result` gives it, scoring `fit_score` on test_fit."""
    result = _with_grade(fit_score)
    result["files"] = files
    return _read(result)


def _written(root: Path, gb) -> tuple[dict[str, bytes], list[float], list[str]]:
    """(the graded folder's files, test_fit's score in each submission row, what else is in alice's folder)."""
    graded = root / "autograded" / STUDENT / ASSIGNMENT
    files = {p.relative_to(graded).as_posix(): p.read_bytes() for p in graded.rglob("*") if p.is_file()}
    scores = [g.auto_score for s in gb.find_assignment(ASSIGNMENT).submissions for nb in s.notebooks
              for g in nb.grades if g.name == "test_fit"]
    return files, scores, sorted(p.name for p in graded.parent.iterdir() if p.name != ASSIGNMENT)


FIRST = {"linear_regression.ipynb": b'{"copy": 1}', "data/train.csv": b"x\n1\n"}
SECOND = {"linear_regression.ipynb": b'{"copy": 2}', "timestamp.txt": b"2026-01-01 00:00:00"}


@pytest.mark.filterwarnings("ignore:.*not in session")  # nbgrader's autoflush notes, as `mlkit grade` ignores them
def test_a_result_written_twice_leaves_one_graded_folder_and_one_set_of_rows(gradebook):
    """Dask runs a killed worker's task again: a second copy of a result replaces the first whole."""
    root, gb = gradebook
    dask_client.write_result(gb, root, ASSIGNMENT, STUDENT, _copy(1.0, FIRST))
    assert _written(root, gb) == (FIRST, [1.0], [])
    dask_client.write_result(gb, root, ASSIGNMENT, STUDENT, _copy(3.0, SECOND))
    assert _written(root, gb) == (SECOND, [3.0], [])  # none of the first copy's files, no folder aside


def _waiting_for_a_lock(pid: int) -> bool:
    """Whether process `pid` waits for a file lock (a `->` line of /proc/locks names it)."""
    return any(line.split()[1] == "->" and line.split()[5] == str(pid)
               for line in Path("/proc/locks").read_text().splitlines() if len(line.split()) > 5)


@pytest.mark.filterwarnings("ignore:.*not in session")  # nbgrader's autoflush notes, as `mlkit grade` ignores them
def test_a_second_writer_racing_the_first_never_loses_the_folder(gradebook, monkeypatch):
    """The racing order: while one writer stands between its staged folder and its move (rows committed on the
    way), a second copy of the same submission's result is written by another process (a second `mlkit grade`
    of the course). Both writers used one staging folder, and each removed the graded folder before moving
    theirs in: the second took the first's staging folder, and the first, moving, removed the second's graded
    folder and found nothing to move: the folder was lost, the rows written. Now the second waits for the
    first, then replaces its folder and rows whole: one folder, one set of rows, both the second copy's."""
    root, gb = gradebook
    dask_client.write_result(gb, root, ASSIGNMENT, STUDENT, _copy(1.0, FIRST))  # graded before (a --force regrade)
    (root / "second.pickle").write_bytes(pickle.dumps(_copy(3.0, SECOND)))
    second_writer = (f"import pickle; from nbgrader.api import Gradebook; from mlkit.grading.backends import dask_client\n"
                     f"with Gradebook('sqlite:///{root}/gradebook.db') as gb:\n"
                     f"    dask_client.write_result(gb, dask_client.Path('{root}'), {ASSIGNMENT!r}, {STUDENT!r}, "
                     f"pickle.loads(open('{root}/second.pickle', 'rb').read()))\n")
    commit, racers = gb.db.commit, []

    def commit_and_start_the_other_writer():
        commit()
        if not racers:  # the first commit, in update_or_create_submission: the folder is staged
            racers.append(subprocess.Popen([sys.executable, "-c", second_writer], stderr=subprocess.PIPE))
            deadline = time.monotonic() + 120
            while racers[0].poll() is None and not _waiting_for_a_lock(racers[0].pid):  # done, or in turn
                assert time.monotonic() < deadline, "the second writer neither finished nor waited"
                time.sleep(0.01)

    monkeypatch.setattr(gb.db, "commit", commit_and_start_the_other_writer)
    dask_client.write_result(gb, root, ASSIGNMENT, STUDENT, _copy(2.0, {"linear_regression.ipynb": b"{}"}))
    _, errors = racers[0].communicate(timeout=120)
    assert racers[0].returncode == 0, errors.decode()[-2000:]
    gb.db.expire_all()  # read the rows as the gradebook holds them now
    assert _written(root, gb) == (SECOND, [3.0], [])


@pytest.mark.filterwarnings("ignore:.*not in session")  # nbgrader's autoflush notes, as `mlkit grade` ignores them
def test_a_move_that_fails_leaves_the_folder_graded_before(gradebook, monkeypatch):
    """Whatever stops the move (an error, a kill of `mlkit grade` between two steps), the graded folder that
    stood there stays: removing it first, then renaming, lost it when the rename did not happen."""
    root, gb = gradebook
    dask_client.write_result(gb, root, ASSIGNMENT, STUDENT, _copy(1.0, FIRST))

    def stopped(*args):
        raise KeyboardInterrupt("mlkit grade stopped here")

    monkeypatch.setattr(dask_client, "_exchange", stopped, raising=False)
    monkeypatch.setattr(dask_client.os, "rename", stopped)
    with pytest.raises(KeyboardInterrupt):
        dask_client.write_result(gb, root, ASSIGNMENT, STUDENT, _copy(3.0, SECOND))
    assert _written(root, gb)[0] == FIRST


def test_a_one_character_assignment_is_staged_beside_the_student_folder_never_as_it(tmp_path):
    assert dask_client.staging_folder(tmp_path, "1", STUDENT) == tmp_path / "autograded" / STUDENT / ".1"
    assert dask_feedback.staging_folder(tmp_path, "1", STUDENT) == tmp_path / "feedback" / STUDENT / ".1"
    assert dask_client.staging_folder(tmp_path, ASSIGNMENT, STUDENT).name == ".1_linear_regression"
