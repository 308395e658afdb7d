"""An LMS course end to end: roster in, the LMS's zip of submissions collected, graded, feedback handed back
in the LMS's names, grades out in Canvas's and Moodle's import formats.

Everything runs through the real commands, the documented block first (docs/instructor/lms.md: `mlkit roster
import`, `nbgrader zip_collect`, `mlkit grade`, `nbgrader generate_feedback`, `mlkit handback`, `mlkit export`),
then `nbgrader release_feedback`, on one small class: ada hands in the reference, josé a realistic mistake
(marked LATE by Canvas, uploaded twice), cara the untouched release, dan nothing; a file of a user the roster
does not list is in the zip too, and one more student submits through nbgrader's exchange (a mixed class).
"""

from __future__ import annotations

import csv
import datetime
import io
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.utils import get_username

from mlkit import course
from mlkit.authoring import catalog

import support

pytestmark = pytest.mark.xdist_group("lms")  # one worker builds the LMS course once for every test here
ASSIGNMENT = "01_linear_regression"
UNRELEASED = "02_logistic_regression"
NOTEBOOK = "linear_regression"
COURSE_ID = "numpy-ml-from-scratch"
EXCHANGE_STUDENT = get_username()  # one student of the class submits through nbgrader's exchange instead

# Canvas's gradebook export, as the roster: its points row and its test student included.
CANVAS_ROSTER = (
    "Student,ID,SIS User ID,SIS Login ID,Section,Quiz 1 (774),Current Score\r\n"
    "    Points Possible,,,,,10,\r\n"
    '"Lovelace, Ada",1001,S-1,ada,ML 2027,9,90\r\n'
    '"Núñez, José",1002,S-2,jose,ML 2027,7,70\r\n'
    '"O\'Brien, Cara",1003,S-3,cara,ML 2027,,\r\n'
    '"Daniels, Dan",1004,S-4,dan,ML 2027,,\r\n'
    '"Student, Test",1099,,,ML 2027,,\r\n'
)
# Canvas's download names: <lastfirst>_[LATE_]<user id>_<attachment id>_<the uploaded file's name>
DOWNLOAD = {
    "ada": f"lovelaceada_1001_5001_{NOTEBOOK}.ipynb",
    "jose": f"nunezjose_LATE_1002_5002_{NOTEBOOK}-1.ipynb",  # uploaded a second time: Canvas adds -1
    "cara": f"obriencara_1003_5003_{NOTEBOOK}.ipynb",
    "stranger": f"strangerx_1777_5777_{NOTEBOOK}.ipynb",     # not in the roster
}
ZIP_TIME = {"ada": (2027, 3, 1, 9, 30, 0), "jose": (2027, 3, 3, 23, 58, 2), "cara": (2027, 3, 2, 12, 0, 0),
            "stranger": (2027, 3, 1, 8, 0, 0)}


def _mlkit(c: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(course.BIN / "mlkit"), *args], cwd=c, env=course.environment(), capture_output=True,
                          text=True, timeout=900)


def _nbgrader(c: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(course.BIN / "nbgrader"), *args], cwd=c, env=course.environment(),
                          capture_output=True, text=True, timeout=900)


def _notebooks(c: Path) -> dict[str, bytes]:
    reference = catalog.reference_answers(ASSIGNMENT, root=c)
    mistake = next(m for m in catalog.mutants(ASSIGNMENT) if m.in_sample_class)
    answers = {"ada": reference, "jose": mistake.apply(reference), "cara": None, "stranger": reference}
    texts = {}
    for who, a in answers.items():
        nb = catalog.submission_notebook(ASSIGNMENT, a, root=c)
        if a is not None:  # the 60-second explanation written: it waits for a manual grade
            (explain,) = [cell for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("grade_id") == "explain"]
            explain.source = "The normal equations set the gradient to zero; the bias is the mean residual."
        texts[who] = nbformat.writes(nb).encode()
    return texts


@pytest.fixture(scope="module")
def lms_course(tmp_path_factory):
    """The course after the documented LMS block (docs/instructor/lms.md, `lms-course`), then release_feedback.

    The block runs as it stands, with one substitution: `~/Downloads/` is a folder of the test, holding the zip.
    `jupyter lab` is left out: here nobody grades the explanations by hand, so they stay pending."""
    root = tmp_path_factory.mktemp("lms-course")
    exchange, downloads = root / "exchange", root / "Downloads"
    exchange.mkdir()
    exchange.chmod(0o1777)  # as `mlkit exchange init` makes it: a sticky bit
    downloads.mkdir()
    c = course.new_course(root / "course", [ASSIGNMENT, UNRELEASED])
    with open(c / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.Exchange.root = {str(exchange)!r}\n")
    for assignment in (ASSIGNMENT, UNRELEASED):  # both generated ...
        course.nbgrader(c, "generate_assignment", assignment, "--force")
    course.nbgrader(c, "release_assignment", ASSIGNMENT)  # ... only 01 released
    home = root / "exchange-student"
    home.mkdir()
    for step in ("fetch_assignment", "submit"):
        done = _nbgrader(home, step, ASSIGNMENT, "--course", COURSE_ID, f"--Exchange.root={exchange}")
        assert done.returncode == 0, done.stdout + done.stderr
    course.nbgrader(c, "collect", ASSIGNMENT)
    (c / "canvas-gradebook.csv").write_text(CANVAS_ROSTER, encoding="utf-8")
    with zipfile.ZipFile(downloads / "submissions.zip", "w") as packed:
        for who, text in _notebooks(c).items():
            packed.writestr(zipfile.ZipInfo(DOWNLOAD[who], ZIP_TIME[who]), text)
    runs = {}
    for command in support.doc_commands("instructor/lms.md", "lms-course"):
        if command.startswith("jupyter lab"):
            continue
        command = command.replace("~/Downloads/", f"{downloads}/")
        done = subprocess.run(["bash", "-c", command], cwd=c, env=course.environment(), capture_output=True,
                              text=True, timeout=900)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        runs[" ".join(command.split()[:2])] = done
    release = _nbgrader(c, "release_feedback", ASSIGNMENT)
    return c, runs["mlkit roster"], runs["nbgrader zip_collect"], release, runs["mlkit handback"]


def test_roster_import_fills_nbgraders_student_fields(lms_course):
    c, roster, *_ = lms_course
    with Gradebook(course.db_url(c)) as gb:
        students = {s.id: (s.first_name, s.last_name, s.lms_user_id) for s in gb.students}
    assert students == {"ada": ("Ada", "Lovelace", "1001"), "jose": ("José", "Núñez", "1002"),
                        "cara": ("Cara", "O'Brien", "1003"), "dan": ("Dan", "Daniels", "1004"),
                        EXCHANGE_STUDENT: (None, None, None)}  # added by mlkit grade, in no roster
    assert "4 added" in roster.stdout


def test_zip_collect_files_each_notebook_under_its_student_with_the_zips_time(lms_course):
    c, _, collect, *_ = lms_course
    assert sorted(p.name for p in (c / "submitted").iterdir()) == sorted(["ada", "cara", "jose", EXCHANGE_STUDENT])
    log = collect.stdout + collect.stderr
    assert "strangerx_1777_5777" in log and "roster does not list" in log  # named, not collected
    for who in ("ada", "jose", "cara"):
        folder = c / "submitted" / who / ASSIGNMENT
        assert sorted(p.name for p in folder.iterdir()) == [f"{NOTEBOOK}.ipynb", "timestamp.txt"]
        recorded = datetime.datetime.fromisoformat((folder / "timestamp.txt").read_text().strip())
        assert recorded == datetime.datetime(*ZIP_TIME[who]), who  # nbgrader's timestamps: UTC, without a zone
    grades = course.gradebook(c)
    assert grades["ada"][ASSIGNMENT].auto_score == grades["ada"][ASSIGNMENT].auto_max
    assert 0 < grades["jose"][ASSIGNMENT].auto_score < grades["jose"][ASSIGNMENT].auto_max
    assert grades["cara"][ASSIGNMENT].auto_score == 0


def test_release_feedback_names_the_lms_students_instead_of_stopping(lms_course, tmp_path):
    c, _, _, release, _ = lms_course
    assert release.returncode == 0, release.stdout + release.stderr
    for who in ("ada", "jose", "cara"):
        assert re.search(rf"Feedback of {who} on {ASSIGNMENT} is not released to the exchange.*mlkit handback",
                         release.stdout + release.stderr)
    # The student who submitted through the exchange gets hers there, as with nbgrader's own release.
    assert f"Feedback of {EXCHANGE_STUDENT} on" not in release.stdout + release.stderr
    assert len(list((c.parent / "exchange" / COURSE_ID / "feedback").glob("*.html"))) == 1
    # nbgrader's own release stops with the error the issue reports (the kit's release switched off).
    stock = shutil.copytree(c, tmp_path / "stock")
    with open(stock / "nbgrader_config.py", "a") as config:
        config.write("\nc.ExchangeFactory.release_feedback = "
                     "'nbgrader.exchange.default.release_feedback.ExchangeReleaseFeedback'\n")
    run = _nbgrader(stock, "release_feedback", ASSIGNMENT)
    assert run.returncode != 0 and "FileNotFoundError" in run.stdout + run.stderr
    assert "submission_secret.txt" in run.stdout + run.stderr


def test_release_feedback_refuses_a_feedback_folder_everyone_may_open(lms_course, tmp_path):
    c, *_ = lms_course
    opened = shutil.copytree(c.parent / "exchange", tmp_path / "exchange")
    feedback = opened / COURSE_ID / "feedback"
    feedback.chmod(0o777)  # listable and writable by every account: each student's page is open to all
    # Defence off (nbgrader's own release): the exchange student's page lands in the open folder.
    stock = _nbgrader(c, "release_feedback", ASSIGNMENT, "--student", EXCHANGE_STUDENT, f"--Exchange.root={opened}",
                      "--ExchangeFactory.release_feedback="
                      "nbgrader.exchange.default.release_feedback.ExchangeReleaseFeedback")
    assert stock.returncode == 0, stock.stdout + stock.stderr
    assert len(list(feedback.glob("*.html"))) == 1
    for page in feedback.glob("*.html"):
        page.unlink()
    # Contained: the course's release (the LMS-aware one) refuses that folder, naming the fix; nothing written.
    refused = _nbgrader(c, "release_feedback", ASSIGNMENT, f"--Exchange.root={opened}")
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0, said
    assert "mode 777" in said and "mlkit exchange init" in said, said
    assert not list(feedback.glob("*.html"))


def _canvas_reupload_target(name: str) -> tuple[str, str]:
    """What Canvas's Re-Upload Submissions reads from a file's name: the first two all-digit parts."""
    user, attachment = [part for part in name.split("_") if part.isdigit()][:2]
    return user, attachment


def test_handback_names_each_page_as_canvas_named_the_students_notebook(lms_course):
    c, *_, handback = lms_course
    with zipfile.ZipFile(c / "exports" / f"{ASSIGNMENT}-feedback-canvas.zip") as packed:
        names = packed.namelist()
        pages = {name: packed.read(name).decode() for name in names}
    assert sorted(_canvas_reupload_target(n) for n in names) == [("1001", "5001"), ("1002", "5002"), ("1003", "5003")]
    assert all(n.endswith(f"_{NOTEBOOK}.html") for n in names)
    ada = next(n for n in names if n.startswith("lovelaceada_1001_5001_"))
    assert f"{EXCHANGE_STUDENT}: {NOTEBOOK}.html (not in the LMS's download" in handback.stderr
    assert pages[ada] == (c / "feedback" / "ada" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()


def _export(c: Path, *args: str) -> list[list[str]]:
    run = _mlkit(c, "export", *args)
    assert run.returncode == 0, run.stdout + run.stderr
    path = Path(run.stdout.splitlines()[0])
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")  # UTF-8 without a byte-order mark, which would join the first header
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
    again = io.StringIO(newline="")
    csv.writer(again).writerows(rows)
    assert again.getvalue().encode("utf-8") == raw  # read and written back, byte for byte: plain CSV quoting
    assert len({len(row) for row in rows}) == 1      # every row as wide as the header
    return rows


def _give_manual_grade(c: Path, student: str, points: float) -> None:
    """What the formgrader does when the instructor grades the explanation."""
    with Gradebook(course.db_url(c)) as gb:
        submission = gb.find_submission(ASSIGNMENT, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                if grade.needs_manual_grade:
                    grade.manual_score = points
                    grade.needs_manual_grade = False
        gb.db.commit()


def test_canvas_file_has_canvas_columns_and_never_posts_a_zero_for_what_is_not_graded(lms_course):
    c, *_ = lms_course
    rows = _export(c, "--lms", "canvas")
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", ASSIGNMENT]  # 02: never released
    assert rows[1][0].strip() == "Points Possible" and rows[1][5] == "15"
    body = {row[3]: row for row in rows[2:]}
    assert sorted(body) == ["ada", "cara", "dan", "jose"]  # the exchange's student has no Canvas id: left out
    assert f"{EXCHANGE_STUDENT} (no Canvas user id" in _mlkit(c, "export", "--lms", "canvas").stderr
    assert body["jose"][:2] == ["Núñez, José", "1002"]
    # ada's and josé's explanations wait for a manual grade, and dan handed nothing in: no grade yet.
    # cara handed in the untouched release: nbgrader scores an unchanged answer 0, which is final.
    assert [body[s][5] for s in ("ada", "cara", "dan", "jose")] == ["", "0", "", ""]
    _give_manual_grade(c, "ada", 2.5)
    body = {row[3]: row for row in _export(c, "--lms", "canvas")[2:]}
    assert body["ada"][5] == "14.5" and body["cara"][5] == "0" and body["jose"][5] == "" and body["dan"][5] == ""
    body = {row[3]: row for row in _export(c, "--lms", "canvas", "--missing-as-zero")[2:]}
    assert body["dan"][5] == "0" and body["jose"][5] == ""  # a pending grade is never a zero


def test_per_question_columns_post_the_final_cells_only(lms_course):
    c, *_ = lms_course
    rows = _export(c, "--lms", "canvas", "--per-question")
    with Gradebook(course.db_url(c)) as gb:
        cells = [cell.name for nb in gb.find_assignment(ASSIGNMENT).notebooks for cell in nb.grade_cells]
        manual = {g.name for nb in gb.find_submission(ASSIGNMENT, "jose").notebooks for g in nb.grades
                  if g.needs_manual_grade}
    assert rows[0][5:] == [f"{ASSIGNMENT} {cell}" for cell in cells] and manual
    jose = next(row for row in rows[2:] if row[3] == "jose")
    for cell, value in zip(cells, jose[5:]):
        assert (value == "") == (cell in manual), cell  # autograded cells posted, the explanation left empty
    assert sum(float(v) for v in jose[5:] if v) == course.gradebook(c)["jose"][ASSIGNMENT].auto_score
    said = _mlkit(c, "export", "--lms", "canvas", "--per-question").stdout.splitlines()
    assert f"jose {ASSIGNMENT}" in next(line for line in said if line.startswith("empty, waiting for a manual grade"))
    assert next(line for line in said if line.startswith("empty, no submission")).endswith(f"(1): dan {ASSIGNMENT}")


def test_unreleased_assignments_are_left_out_until_released(lms_course, tmp_path):
    c, *_ = lms_course
    later = shutil.copytree(c, tmp_path / "later")
    shutil.copytree(c.parent / "exchange", tmp_path / "exchange")  # an exchange of its own: the others' stays as it is
    with open(later / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.Exchange.root = {str(tmp_path / 'exchange')!r}\n")
    assert _export(later, "--lms", "canvas")[0][5:] == [ASSIGNMENT]
    course.nbgrader(later, "release_assignment", UNRELEASED)
    assert _export(later, "--lms", "canvas")[0][5:] == [ASSIGNMENT, UNRELEASED]
    rows = _export(later, "--lms", "canvas")
    assert all(row[6] == "" for row in rows[2:])  # released, nobody submitted: empty, not 0


MOODLE_ROSTER = (
    "First name,Last name,ID number,Institution,Department,Email address,Username\r\n"
    "Ada,Lovelace,S-1,,,ada@example.edu,ada\r\n"
    "José,Núñez,S-2,,,jose@example.edu,jose\r\n"
    "Cara,O'Brien,S-3,,,,cara\r\n"
    "Dan,Daniels,S-4,,,dan@example.edu,dan\r\n"
)


def test_moodle_file_maps_by_email_and_leaves_out_who_moodle_cannot_find(lms_course, tmp_path):
    c, *_ = lms_course
    moodle = shutil.copytree(c, tmp_path / "moodle")
    with Gradebook(course.db_url(moodle)) as gb:  # as if the course had never seen Canvas
        for student in gb.students:
            student.lms_user_id = None
        gb.db.commit()
    _give_manual_grade(moodle, "ada", 2.5)
    (tmp_path / "roster.csv").write_text(MOODLE_ROSTER, encoding="utf-8")
    assert _mlkit(moodle, "roster", "import", str(tmp_path / "roster.csv"), "--lms", "moodle").returncode == 0
    run = _mlkit(moodle, "export", "--lms", "moodle")
    assert "cara (no email address" in run.stderr  # Moodle would stop the whole import at her row
    rows = _export(moodle, "--lms", "moodle")
    assert rows[0] == ["First name", "Last name", "ID number", "Email address", ASSIGNMENT]
    body = {row[3]: row for row in rows[1:]}
    assert sorted(body) == ["ada@example.edu", "dan@example.edu", "jose@example.edu"]
    assert body["jose@example.edu"][:3] == ["José", "Núñez", "S-2"]
    assert body["ada@example.edu"][4] == "14.5" and body["jose@example.edu"][4] == body["dan@example.edu"][4] == ""
    # Mapped by ID number instead, cara (who has one) is in.
    rows = _export(moodle, "--lms", "moodle", "--moodle-map", "idnumber")
    assert sorted(row[2] for row in rows[1:]) == ["S-1", "S-2", "S-3", "S-4"]


def test_a_roster_that_is_not_the_lms_export_is_refused_with_its_columns(lms_course, tmp_path):
    c, *_ = lms_course
    (tmp_path / "wrong.csv").write_text("name,mail\r\nada,ada@example.edu\r\n")
    run = _mlkit(c, "roster", "import", str(tmp_path / "wrong.csv"), "--lms", "canvas")
    assert run.returncode == 2 and "no column Student, ID, SIS Login ID" in run.stderr and "name, mail" in run.stderr


def test_moodle_download_is_collected_by_full_name_and_handed_back_in_moodles_folders(lms_course, tmp_path):
    c, *_ = lms_course
    moodle = shutil.copytree(c, tmp_path / "moodle-zip")
    shutil.rmtree(moodle / "downloaded")
    shutil.rmtree(moodle / "submitted")
    archive = moodle / "downloaded" / ASSIGNMENT / "archive"
    archive.mkdir(parents=True)
    texts = _notebooks(moodle)
    with zipfile.ZipFile(archive / "ML-2027-Linear regression-12.zip", "w") as packed:
        packed.writestr(f"Ada Lovelace_40001_assignsubmission_file_/{NOTEBOOK}.ipynb", texts["ada"])
        packed.writestr(f"José Núñez_40002_assignsubmission_file_/{NOTEBOOK}.ipynb", texts["jose"])
        packed.writestr(f"Eve Unknown_40009_assignsubmission_file_/{NOTEBOOK}.ipynb", texts["stranger"])
    with open(moodle / "nbgrader_config.py", "a") as config:  # the instructor sets the submission time
        config.write("\nc.LmsCollector.timestamp = '2027-03-05 10:00:00 Europe/Paris'\n")
    run = _nbgrader(moodle, "zip_collect", ASSIGNMENT, "--collector=mlkit.grading.plugins.lmszip.MoodleCollector")
    assert run.returncode == 0, run.stdout + run.stderr
    assert sorted(p.name for p in (moodle / "submitted").iterdir()) == ["ada", "jose"]
    assert "'Eve Unknown'" in run.stdout + run.stderr
    for who in ("ada", "jose"):
        assert (moodle / "submitted" / who / ASSIGNMENT / "timestamp.txt").read_text() == "2027-03-05 09:00:00"
    # A participant who renamed themselves after a classmate: neither folder of that name is collected.
    with zipfile.ZipFile(archive / "ML-2027-Linear regression-12.zip", "a") as packed:
        packed.writestr(f"ada lovelace_40077_assignsubmission_file_/{NOTEBOOK}.ipynb", texts["cara"])
    shutil.rmtree(moodle / "submitted")  # this download collected afresh
    run = _nbgrader(moodle, "zip_collect", ASSIGNMENT, "--force", "--collector=mlkit.grading.plugins.lmszip.MoodleCollector")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 folders of the download" in run.stdout + run.stderr
    assert not (moodle / "submitted" / "ada" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").exists()
    # Ada's feedback from before is handed back to neither: with the defence off (every file of a name taken, the
    # last in order winning) it goes into the renamed participant's folder, where Moodle gives it to them.
    back = _mlkit(moodle, "handback", ASSIGNMENT, "--lms", "moodle")
    assert back.returncode == 0 and "ada: the download holds files of 2 participants" in back.stderr
    with zipfile.ZipFile(moodle / "exports" / f"{ASSIGNMENT}-feedback-moodle.zip") as packed:
        assert not any("Lovelace" in name for name in packed.namelist())
    weakened = ("import sys; from mlkit.reports import lms; from mlkit import cli; "
                "lms.claimed_by_several = lambda accounts: False; sys.exit(cli.main(sys.argv[1:]))")
    back = subprocess.run([str(course.BIN / "python"), "-c", weakened, "handback", ASSIGNMENT, "--lms", "moodle"],
                          cwd=moodle,
                          env=course.environment(), capture_output=True, text=True, timeout=900)
    assert back.returncode == 0, back.stderr
    with zipfile.ZipFile(moodle / "exports" / f"{ASSIGNMENT}-feedback-moodle.zip") as packed:
        assert f"ada lovelace_40077_assignsubmission_file_/{NOTEBOOK}.html" in packed.namelist()
    assert (moodle / "submitted" / "jose" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").is_file()
    with zipfile.ZipFile(archive / "ML-2027-Linear regression-12.zip") as packed:
        kept = {name: packed.read(name) for name in packed.namelist() if "40077" not in name}
    with zipfile.ZipFile(archive / "ML-2027-Linear regression-12.zip", "w") as packed:
        for name, text in kept.items():
            packed.writestr(name, text)
    run = _nbgrader(moodle, "zip_collect", ASSIGNMENT, "--force", "--collector=mlkit.grading.plugins.lmszip.MoodleCollector")
    assert run.returncode == 0, run.stdout + run.stderr
    assert sorted(p.name for p in (moodle / "submitted").iterdir()) == ["ada", "jose"]
    assert (moodle / "submitted" / "jose" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").read_bytes() == texts["jose"]
    back = _mlkit(moodle, "handback", ASSIGNMENT, "--lms", "moodle")
    assert back.returncode == 0, back.stdout + back.stderr
    with zipfile.ZipFile(moodle / "exports" / f"{ASSIGNMENT}-feedback-moodle.zip") as packed:
        names = sorted(packed.namelist())
    assert names == [f"Ada Lovelace_40001_assignsubmission_file_/{NOTEBOOK}.html",
                     f"José Núñez_40002_assignsubmission_file_/{NOTEBOOK}.html"]
    assert "cara" in back.stderr  # her feedback is there, her file was not in this download


@pytest.mark.parametrize("relative, lms, expected", [
    ("subs/doejane_1001_5001_linear_regression.ipynb", "canvas",
     ("1001", "1001", "linear_regression.ipynb", "doejane_1001_5001", False)),
    ("subs/doejane_LATE_1001_5001_hw_2-1.ipynb", "canvas",
     ("1001", "1001", "hw_2-1.ipynb", "doejane_LATE_1001_5001", False)),
    ("subs/linear_regression.ipynb", "canvas", None),  # uploaded by hand, not Canvas's name
    ("ML-12/Jane Doe_40001_assignsubmission_file_/lr_2.ipynb", "moodle",
     ("Jane Doe", "40001", "lr_2.ipynb", "Jane Doe_40001_assignsubmission_file_", True)),
    ("ML-12/Jane Doe_40001_assignsubmission_file_lr_2.ipynb", "moodle",
     ("Jane Doe", "40001", "lr_2.ipynb", "Jane Doe_40001_assignsubmission_file_", False)),
    ("ML-12/Jane Doe_40001_onlinetext_/text.html", "moodle", None),  # not a file submission
])
def test_download_names_are_read_as_each_lms_writes_them(relative, lms, expected):
    from mlkit.grading.plugins.lmszip import parse_download

    found = parse_download(relative, lms)
    assert (found and (found.lms_key, found.account, found.file_name, found.prefix, found.in_folder)) == expected


def test_export_before_the_roster_says_so_in_its_summary_and_fails(tmp_path):
    c = course.new_course(tmp_path / "course", [ASSIGNMENT])
    for student in ("bob", "carol"):
        added = _nbgrader(c, "db", "student", "add", student)
        assert added.returncode == 0, added.stdout + added.stderr
    run = _mlkit(c, "export", "--lms", "canvas")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "0 students x" in run.stdout
    assert "left out: 2 students without the identifier Canvas matches on" in run.stdout
    assert "bob (no Canvas user id: run mlkit roster import)" in run.stderr
    assert "mlkit roster import FILE --lms canvas" in run.stderr
