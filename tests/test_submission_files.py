"""A submission is data: links, FIFOs and device files in it are never followed, opened or waited on.

Through the real pipeline, the way the attack arrives:

* links and special files among the files of `submitted/` (beside an honest notebook), graded by
  `nbgrader autograde` and by `mlkit grade`: with the kit they are left out and named in the grading
  issue, and the honest answers keep full marks; with the kit's pre-convert hook switched off, autograde
  copies the instructor's source notebook (hidden tests) into the attacker's folder and stops that
  student's grading on a FIFO;
* a link, a link to a folder and a FIFO planted in a real exchange's inbound (where a student on a shared
  hub can write), collected with `nbgrader collect`: with the kit nothing is followed and every
  submission is collected; with nbgrader's own collect the source notebook is copied into `submitted/`,
  and a FIFO stops the collection of every student after it.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.utils import get_username

from mlkit import course
from mlkit.authoring import catalog
from mlkit.grading import submission
from mlkit.grading.sandbox import launcher as sandbox
from mlkit.grading.plugins.issues import grading_issue

pytestmark = [
    pytest.mark.xdist_group("submission_files"),
    pytest.mark.skipif(sandbox.detect().name == "none", reason="grading needs the sandbox"),
]
ASSIGNMENT, NOTEBOOK = "01_linear_regression", "linear_regression"
FULL = 12.0
HIDDEN = "BEGIN HIDDEN TESTS"  # in the source notebook only


def _source_notebook(c: Path) -> Path:
    return c / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"


# -- the pieces, on folders of the test's own -----------------------------------------------------------------

def test_unsafe_entries_are_listed_without_following_anything(tmp_path):
    top = tmp_path / "submission"
    (top / "data").mkdir(parents=True)
    (top / "data" / "ok.csv").write_text("1,2\n")
    (top / "notes.txt").symlink_to("/etc/passwd")
    (top / "everything").symlink_to(tmp_path)  # a folder link: one entry, never walked
    os.mkfifo(top / "data" / "pipe")
    found = dict((p.as_posix(), kind) for p, kind in submission.unsafe_entries(top))
    assert found == {"notes.txt": "a symbolic link", "everything": "a symbolic link", "data/pipe": "a FIFO"}


def test_set_aside_moves_the_entries_themselves_and_keeps_a_linked_notebook(tmp_path):
    top = tmp_path / "alice" / ASSIGNMENT
    top.mkdir(parents=True)
    (top / "kept.csv").write_text("x")
    (top / "notes.txt").symlink_to("/dev/zero")
    (top / f"{NOTEBOOK}.ipynb").symlink_to("/etc/passwd")
    os.mkfifo(top / "pipe")
    moved = submission.set_aside(top)
    assert {e["path"] for e in moved} == {"notes.txt", "pipe"}
    assert sorted(p.name for p in top.iterdir()) == ["kept.csv", f"{NOTEBOOK}.ipynb"]
    aside = submission.left_out_folder(top) / "files"
    assert os.readlink(aside / "notes.txt") == "/dev/zero"  # the link as it was, not what it points at
    assert submission.read_record(top) == moved
    assert "'notes.txt' (a symbolic link, at autograde)" in submission.reason(moved)


def test_a_copied_tree_holds_regular_files_only(tmp_path):
    source, target = tmp_path / "in", tmp_path / "out"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "a.txt").write_text("a")
    (source / "secret").symlink_to(tmp_path / "elsewhere.txt")
    (tmp_path / "elsewhere.txt").write_text("not yours")
    (source / "linked-folder").symlink_to(tmp_path)
    os.mkfifo(source / "pipe")
    left_out = submission.copy_regular_tree(source, target)
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*")) == ["sub", "sub/a.txt"]
    assert {e["path"] for e in left_out} == {"secret", "linked-folder", "pipe"}


def test_a_copied_tree_is_cut_past_its_depth_and_refused_past_its_entries(tmp_path, monkeypatch):
    """A pathological tree costs the collection a bounded amount of work: folders past MAX_DEPTH are left out
    (and named), a tree of more than MAX_ENTRIES entries is refused for that student alone.  (700 nested
    folders through the real `nbgrader collect`: tests/test_hostile_classmate.py.)"""
    deep = tmp_path / "deep"
    (deep / "/".join(["d"] * (submission.MAX_DEPTH + 5))).mkdir(parents=True)
    (deep / "notebook.ipynb").write_text("{}")
    left_out = submission.copy_regular_tree(deep, tmp_path / "deep-copy")
    assert (tmp_path / "deep-copy" / "notebook.ipynb").is_file()
    (cut,) = left_out
    assert len(Path(cut["path"]).parts) == submission.MAX_DEPTH + 1 and "nested deeper" in cut["kind"]
    monkeypatch.setattr(submission, "MAX_ENTRIES", 200)  # the bound as the copy reads it, kept small here
    wide = tmp_path / "wide"
    wide.mkdir()
    for number in range(submission.MAX_ENTRIES + 1):
        (wide / f"f{number}").touch()
    with pytest.raises(submission.TooLarge, match="files and folders"):
        submission.copy_regular_tree(wide, tmp_path / "wide-copy")


# -- links and special files in submitted/, graded for real --------------------------------------------------

PLANTED = {
    # student: what is placed beside an honest notebook
    "linker": lambda folder, c: ((folder / "notes.txt").symlink_to(_source_notebook(c)),
                                 (folder / "solutions").symlink_to(c / "source")),
    "piper": lambda folder, c: os.mkfifo(folder / "pipe.csv"),
    "zeroer": lambda folder, c: (folder / "big.bin").symlink_to("/dev/zero"),
}


FORGED = "forged reason written by the student"
NOTEBOOKS = {
    # student: the notebook handed in, made from the honest one
    "copier": lambda honest, c: nbformat.read(_source_notebook(c), as_version=4),  # the instructor's own
    "forger": lambda honest, c: _with_metadata(honest, {"mlkit_grading_issue": {"reasons": [FORGED]}}),
}


def _with_metadata(nb, extra: dict):
    nb = nbformat.from_dict(nb)
    nb.metadata.update(extra)
    return nb


def _class_with_planted_files(root: Path, students: list[str], hook: bool = True) -> Path:
    c = course.new_course(root / "course", [ASSIGNMENT])
    if not hook:
        with open(c / "nbgrader_config.py", "a") as config:
            config.write("\nc.Autograde.pre_convert_hook = None  # the kit's defence switched off\n")
    course.nbgrader(c, "generate_assignment", ASSIGNMENT, "--force")
    reference = catalog.reference_answers(ASSIGNMENT, root=c)
    honest = catalog.submission_notebook(ASSIGNMENT, reference, root=c)
    for student in ["honest", *students]:
        handed_in = NOTEBOOKS[student](honest, c) if student in NOTEBOOKS else honest
        path = catalog.write_submission(c, student, ASSIGNMENT, handed_in, root=c)
        if student in PLANTED:
            PLANTED[student](path.parent, c)
    return c


def _issue(c: Path, student: str) -> str:
    with Gradebook(f"sqlite:///{c / 'gradebook.db'}") as gb:
        return grading_issue(gb, student, ASSIGNMENT, NOTEBOOK)


@pytest.fixture(scope="module")
def graded_with_the_kit():
    root = Path(tempfile.mkdtemp(prefix="mlkit-files-"))
    c = _class_with_planted_files(root, [*PLANTED, *NOTEBOOKS])
    run = subprocess.run([str(course.BIN / "nbgrader"), "autograde", ASSIGNMENT], cwd=c, env=course.environment(),
                         capture_output=True, text=True, timeout=600)
    return c, run


def test_autograde_leaves_links_and_fifos_out_and_says_so(graded_with_the_kit):
    c, run = graded_with_the_kit
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    grades = course.gradebook(c)
    for student in ["honest", *PLANTED]:
        assert grades[student][ASSIGNMENT].auto_score == FULL, student  # the honest answers keep every point
        graded = c / "autograded" / student / ASSIGNMENT
        assert not any(p.is_symlink() or not (p.is_file() or p.is_dir()) for p in graded.rglob("*")), student
        assert HIDDEN not in "".join(p.read_text(errors="replace") for p in graded.rglob("*") if p.is_file()
                                     and p.suffix != ".ipynb"), student
    assert "'notes.txt' (a symbolic link, at autograde)" in _issue(c, "linker")
    assert "'solutions' (a symbolic link" in _issue(c, "linker")
    assert "'pipe.csv' (a FIFO" in _issue(c, "piper")
    assert "'big.bin' (a symbolic link" in _issue(c, "zeroer")
    assert _issue(c, "honest") == ""
    # What was left out is kept, as it was, beside the submission.
    assert os.readlink(submission.left_out_folder(c / "submitted" / "zeroer" / ASSIGNMENT) / "files" / "big.bin") \
        == "/dev/zero"


def test_a_copy_of_the_source_notebook_is_flagged_and_the_issue_is_the_graders_own(graded_with_the_kit):
    c, _ = graded_with_the_kit
    assert "instructor's own markers" in _issue(c, "copier") and "BEGIN HIDDEN TESTS in cell" in _issue(c, "copier")
    assert _issue(c, "forger") == ""  # reasons in the submitted notebook's metadata are not the grader's


def test_nbgrader_export_names_what_was_left_out(graded_with_the_kit):
    c, _ = graded_with_the_kit
    course.nbgrader(c, "export", "--to", "grades.csv")
    with open(c / "grades.csv", newline="") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert "never opened" in rows["piper"]["grading_issue"]
    assert rows["honest"]["grading_issue"] == ""


def test_without_the_hook_autograde_copies_the_source_and_stops_on_a_fifo(tmp_path):
    """The attack is real: nbgrader's own copy follows the link and opens the FIFO."""
    c = _class_with_planted_files(tmp_path, ["linker", "piper"], hook=False)
    run = subprocess.run([str(course.BIN / "nbgrader"), "autograde", ASSIGNMENT], cwd=c, env=course.environment(),
                         capture_output=True, text=True, timeout=600)
    copied = c / "autograded" / "linker" / ASSIGNMENT / "notes.txt"
    assert copied.is_file() and not copied.is_symlink() and HIDDEN in copied.read_text()
    assert run.returncode != 0 and "piper" in run.stdout + run.stderr
    assert "piper" not in course.gradebook(c) or course.gradebook(c)["piper"][ASSIGNMENT].auto_score is None


def test_mlkit_grade_leaves_them_out_too(tmp_path):
    c = _class_with_planted_files(tmp_path, ["linker", "piper"])
    graded = subprocess.run([sys.executable, "-m", "mlkit.cli", "grade", ASSIGNMENT, "--course", str(c)],
                            capture_output=True, text=True, env=course.environment(), timeout=600)
    assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]
    grades = course.gradebook(c)
    assert {s: grades[s][ASSIGNMENT].auto_score for s in ("honest", "linker", "piper")} == \
        {"honest": FULL, "linker": FULL, "piper": FULL}
    assert not (c / "autograded" / "linker" / ASSIGNMENT / "notes.txt").exists()
    assert "'pipe.csv' (a FIFO" in _issue(c, "piper")


# -- a link planted in a real exchange's inbound -------------------------------------------------------------

def _exchange_course(tmp_path: Path, monkeypatch, kit_collect: bool, check_owner: bool = False) -> tuple[Path, Path]:
    exchange, config = tmp_path / "exchange", tmp_path / "jupyter-config"
    for folder in (exchange, config):
        folder.mkdir()
    exchange.chmod(0o1777)  # as `mlkit exchange init` makes it: a sticky bit
    (config / "nbgrader_config.py").write_text(f"c = get_config()\nc.Exchange.root = {str(exchange)!r}\n"
                                               f"c.Exchange.cache = {str(tmp_path / 'cache')!r}\n")
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(config))
    c = course.new_course(tmp_path / "course", [ASSIGNMENT])
    with open(c / "nbgrader_config.py", "a") as handle:
        if not kit_collect:
            handle.write("\nc.ExchangeFactory.collect = 'nbgrader.exchange.default.collect.ExchangeCollect'\n")
        if not check_owner:  # one account plays two students here
            handle.write("\nc.CollectApp.check_owner = False\nc.ExchangeCollect.check_owner = False\n")
    course.nbgrader(c, "generate_assignment", ASSIGNMENT, "--force")
    course.nbgrader(c, "release_assignment", ASSIGNMENT, "--force")
    home = tmp_path / "student"
    home.mkdir()
    for args in (["fetch_assignment", ASSIGNMENT], ["submit", ASSIGNMENT]):
        done = subprocess.run([str(course.BIN / "nbgrader"), *args, "--course", "numpy-ml-from-scratch"], cwd=home,
                              env=course.environment(), capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    inbound = exchange / "numpy-ml-from-scratch" / "inbound"
    (submitted,) = inbound.iterdir()
    # The student writes into their own inbound folder after submitting, as a shared hub lets them.
    (submitted / "notes.txt").symlink_to(_source_notebook(c))
    (submitted / "solutions").symlink_to(c / "source")
    # A second submission whose name sorts first carries a FIFO.
    first = inbound / ("aaa" + submitted.name[len(get_username()):])
    shutil.copytree(submitted, first, symlinks=True)
    (first / "notes.txt").unlink()
    (first / "solutions").unlink()
    os.mkfifo(first / "pipe.csv")
    return c, inbound


def _collect(c: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(course.BIN / "nbgrader"), "collect", ASSIGNMENT], cwd=c, env=course.environment(),
                          capture_output=True, text=True, timeout=120)


def test_collect_copies_regular_files_only_and_records_the_rest(tmp_path, monkeypatch):
    c, _ = _exchange_course(tmp_path, monkeypatch, kit_collect=True)
    run = _collect(c)
    assert run.returncode == 0, run.stdout + run.stderr
    for student in (get_username(), "aaa"):
        folder = c / "submitted" / student / ASSIGNMENT
        assert (folder / f"{NOTEBOOK}.ipynb").is_file() and (folder / "timestamp.txt").is_file(), student
        assert not any(p.is_symlink() or not (p.is_file() or p.is_dir()) for p in folder.rglob("*"))
        assert not any(HIDDEN in p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())
    linker = {e["path"]: e["kind"] for e in submission.read_record(c / "submitted" / get_username() / ASSIGNMENT)}
    assert linker == {"notes.txt": "a symbolic link", "solutions": "a symbolic link"}
    assert submission.read_record(c / "submitted" / "aaa" / ASSIGNMENT)[0]["kind"] == "a FIFO"
    # The grading issue reaches the gradebook when the class is graded.
    course.nbgrader(c, "autograde", ASSIGNMENT)
    assert "'notes.txt' (a symbolic link, at collect)" in _issue(c, get_username())
    assert course.gradebook(c)[get_username()][ASSIGNMENT].auto_score is not None


def test_nbgrader_collect_itself_follows_the_link_and_stops_on_the_fifo(tmp_path, monkeypatch):
    """The attack is real: nbgrader's own collect."""
    c, inbound = _exchange_course(tmp_path, monkeypatch, kit_collect=False)
    run = _collect(c)
    assert run.returncode != 0 and "pipe.csv" in run.stdout + run.stderr  # the FIFO stops the collection run
    shutil.rmtree(next(inbound.glob("aaa+*")))
    assert _collect(c).returncode == 0
    copied = c / "submitted" / get_username() / ASSIGNMENT / "notes.txt"
    assert not copied.is_symlink() and HIDDEN in copied.read_text()  # the instructor's hidden tests, copied
    assert (c / "submitted" / get_username() / ASSIGNMENT / "solutions" / ASSIGNMENT).is_dir()


# -- the time a submission claims ----------------------------------------------------------------------------

PAST = "2020-01-01 00:00:00.000000 UTC"  # before the due date below; the student submits (and edits) after it


@pytest.mark.parametrize("kit", [True, False], ids=["kit", "nbgrader-collect"])
def test_a_submission_backdated_by_its_student_is_recorded_when_its_files_were_written(tmp_path, monkeypatch, kit):
    """After the due date, the student renames her own inbound folder (hers to rename in the sticky inbound) to an
    earlier date and writes that date into its timestamp.txt (or edits an on-time submission there): nbgrader
    collects the folder's files with the time it claims, so no late penalty applies.  The kit records the time
    its files last changed (their ctime, which the student cannot set back)."""
    c, inbound = _exchange_course(tmp_path, monkeypatch, kit_collect=kit)
    shutil.rmtree(next(inbound.glob("aaa+*")))
    (submitted,) = inbound.iterdir()
    for planted in ("notes.txt", "solutions"):
        (submitted / planted).unlink()
    course.nbgrader(c, "db", "assignment", "add", ASSIGNMENT, "--duedate=2021-01-01 00:00:00 UTC")
    student, assignment, _, nonce = submitted.name.split("+")
    backdated = submitted.rename(inbound / "+".join([student, assignment, PAST, nonce]))
    (backdated / "timestamp.txt").write_text(PAST)
    run = _collect(c)
    assert run.returncode == 0, run.stdout + run.stderr
    course.nbgrader(c, "autograde", ASSIGNMENT)
    with Gradebook(course.db_url(c)) as gb:
        seconds_late = gb.find_submission(ASSIGNMENT, get_username()).total_seconds_late
    if kit:
        assert seconds_late > 5 * 365 * 86400  # submitted now, years after the due date
        assert "claims to be submitted at 2020-01-01" in run.stdout + run.stderr
    else:
        assert seconds_late == 0  # the attack: recorded as in time


# -- archives collected with nbgrader zip_collect --------------------------------------------------------------

def test_zip_collect_makes_no_link_from_an_archive(tmp_path):
    """A zip entry and a tar member that are symbolic links (to the source notebook) never become links."""
    import io
    import stat as stat_module
    import tarfile
    import zipfile

    c = course.new_course(tmp_path / "course", [ASSIGNMENT])
    course.nbgrader(c, "generate_assignment", ASSIGNMENT, "--force")
    text = nbformat.writes(catalog.submission_notebook(ASSIGNMENT, catalog.reference_answers(ASSIGNMENT, root=c),
                                                       root=c)).encode()
    archive = c / "downloaded" / ASSIGNMENT / "archive"
    archive.mkdir(parents=True)
    with zipfile.ZipFile(archive / "alice_submission.zip", "w") as packed:
        packed.writestr(f"alice_{NOTEBOOK}.ipynb", text)
        link = zipfile.ZipInfo(f"alice_{NOTEBOOK}_data.csv")
        link.external_attr = (stat_module.S_IFLNK | 0o777) << 16
        packed.writestr(link, str(_source_notebook(c)))
    with tarfile.open(archive / "bob_submission.tar.gz", "w:gz") as packed:
        member = tarfile.TarInfo(f"bob_{NOTEBOOK}.ipynb")
        member.size = len(text)
        packed.addfile(member, io.BytesIO(text))
        link = tarfile.TarInfo(f"bob_{NOTEBOOK}_data.csv")
        link.type, link.linkname = tarfile.SYMTYPE, str(_source_notebook(c))
        packed.addfile(link)
    with open(c / "nbgrader_config.py", "a") as config:
        config.write("\nc.FileNameCollectorPlugin.named_regexp = r'.*/(?P<student_id>[a-z]+)_(?P<file_id>[^/]*)$'\n")
    course.nbgrader(c, "zip_collect", ASSIGNMENT, "--force")
    for folder in (c / "downloaded", c / "submitted"):
        assert not any(p.is_symlink() for p in folder.rglob("*")), folder
        assert not any(HIDDEN in p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file()
                       and p.suffix != ".gz" and p.suffix != ".zip")
    assert (c / "submitted" / "alice" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").is_file()
    assert (c / "submitted" / "bob" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").is_file()


def _forged_inbound(inbound: Path) -> None:
    """Two more inbound folders beside the real one: a name that is markup, and a later one in alice's name."""
    (real,) = [p for p in inbound.iterdir() if p.name.startswith(get_username() + "+")]
    shutil.copytree(real, inbound / ("<img src=x onerror=alert(1)>" + real.name[len(get_username()):]), symlinks=True)
    alice = inbound / ("alice+" + ASSIGNMENT + "+2999-01-01 00:00:00.000000 UTC+forged")
    shutil.copytree(real, alice, symlinks=True)
    nb = nbformat.read(alice / f"{NOTEBOOK}.ipynb", as_version=4)
    nb.cells = []
    nbformat.write(nb, alice / f"{NOTEBOOK}.ipynb")


@pytest.mark.parametrize("kit", [True, False], ids=["kit", "nbgrader-collect"])
def test_collect_takes_only_plain_names_and_only_the_owners_own_folder(tmp_path, monkeypatch, kit):
    """A student's name is the inbound folder's, which the student chooses: nbgrader's formgrader prints it
    unescaped, and nbgrader's collect only warns when the folder belongs to someone else."""
    c, inbound = _exchange_course(tmp_path, monkeypatch, kit_collect=kit, check_owner=True)
    for stray in [p for p in inbound.iterdir() if p.name.startswith("aaa+")]:
        shutil.rmtree(stray)
    _forged_inbound(inbound)
    run = _collect(c)
    assert run.returncode == 0, run.stdout + run.stderr
    collected = sorted(p.parent.parent.name for p in (c / "submitted").glob(f"*/{ASSIGNMENT}/{NOTEBOOK}.ipynb"))
    if kit:
        assert collected == [get_username()]
        assert sorted(p.name for p in (c / "submitted").iterdir()) == [get_username()]  # no folder made for them
    else:  # the attack is real: markup as a student's name, and alice's work replaced by a blank notebook
        assert "alice" in collected and "<img src=x onerror=alert(1)>" in collected


def test_a_folder_swapped_for_a_link_while_it_is_copied_is_not_followed(tmp_path, monkeypatch):
    """The race a student can win with inotify: rename a folder and put a link in its place as the copy
    reaches it.  Opened relative to its parent's descriptor with O_NOFOLLOW, the link is refused."""
    secret = tmp_path / "instructor"
    secret.mkdir()
    (secret / "hidden.txt").write_text(HIDDEN)
    source = tmp_path / "inbound"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "answer.txt").write_text("mine")
    real_open = os.open

    def swapping_open(path, flags, *args, **kwargs):
        if path == "sub" and kwargs.get("dir_fd") is not None and not (source / "sub").is_symlink():
            (source / "sub").rename(source / "moved")
            (source / "sub").symlink_to(secret)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(submission.os, "open", swapping_open)
    left_out = submission.copy_regular_tree(source, tmp_path / "copy")
    monkeypatch.undo()
    assert not any(HIDDEN in p.read_text() for p in (tmp_path / "copy").rglob("*") if p.is_file())
    assert [e["kind"] for e in left_out] == ["a folder swapped while copied"]
    shutil.copytree(source, tmp_path / "by-path")  # a copy by path, as nbgrader's, follows the swapped-in link
    assert (tmp_path / "by-path" / "sub" / "hidden.txt").read_text() == HIDDEN


def test_bytes_are_counted_as_they_are_copied(tmp_path):
    source = tmp_path / "inbound"
    source.mkdir()
    (source / "small.txt").write_text("x" * 10)
    with open(source / "grown.bin", "wb") as handle:  # sparse: costs the student nothing
        handle.truncate(5 * 10**6)
    left_out = submission.copy_regular_tree(source, tmp_path / "copy", max_file_bytes=10**6)
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == ["small.txt"]
    assert left_out[0]["path"] == "grown.bin" and "larger than" in left_out[0]["kind"]
    with pytest.raises(submission.TooLarge):
        submission.copy_regular_tree(source, tmp_path / "copy2", max_total_bytes=2 * 10**6)


def test_a_notebook_too_large_to_parse_safely_is_graded_as_empty_with_the_reason(tmp_path):
    from mlkit.grading.plugins.reading import MAX_CELLS, READ_REASONS_KEY, TolerantNotebookExporter

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("") for _ in range(MAX_CELLS + 1)]
    nbformat.write(nb, tmp_path / "many.ipynb")
    _, resources = TolerantNotebookExporter().from_filename(str(tmp_path / "many.ipynb"))
    assert "more than 2000 cells" in resources[READ_REASONS_KEY][0]
