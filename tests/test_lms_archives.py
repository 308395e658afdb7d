"""What a student can put into an LMS's download, through the real `nbgrader zip_collect` of the course.

A student's upload reaches the download as it is, under the LMS's name for it.  nbgrader's own extractor unpacks
every archive it finds inside the download too, without a bound: an upload named `notes.zip` that is no zip stops
the collection of the whole class, and a small upload of nested zips unpacks to as much as the student likes on
the instructor's disk.  The course's `LmsExtractor` (mlkit/grading/plugins/lmszip.py) unpacks the download only, each
file within `c.CourseDirectory.max_file_size`.  Each attack is run with that defence switched off (nbgrader's
`ExtractorPlugin`), where it must succeed, and with the course as it is.
"""

from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path

import nbformat
import pytest

from mlkit import course
from mlkit.authoring import catalog

ASSIGNMENT = "01_linear_regression"
NOTEBOOK = "linear_regression"
STOCK_EXTRACTOR = "--ZipCollectApp.extractor_plugin=nbgrader.plugins.ExtractorPlugin"
ROSTER = ("Student,ID,SIS User ID,SIS Login ID,Section\r\n"
          '"Lovelace, Ada",1001,S-1,ada,ML\r\n"Mallet, Mallory",1002,S-2,mallory,ML\r\n')
BOMB_BYTES = 64 << 20  # what mallory's nested upload unpacks to (kept small: it is written to disk)


def _run(c: Path, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(course.BIN / argv[0]), *argv[1:]], cwd=c, env=course.environment(),
                          capture_output=True, text=True, timeout=600)


def _zip_bytes(name: str, data_of) -> bytes:
    """A zip holding one deflated member `name`, written from the blocks `data_of()` yields."""
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as writing:
            for block in data_of():
                writing.write(block)
    return packed.getvalue()


@pytest.fixture(scope="module")
def lms_class(tmp_path_factory):
    """A course with its roster imported and the notebook both students hand in."""
    c = course.new_course(tmp_path_factory.mktemp("lms-archives") / "course", [ASSIGNMENT])
    course.nbgrader(c, "generate_assignment", ASSIGNMENT, "--force")
    (c / "roster.csv").write_text(ROSTER, encoding="utf-8")
    done = _run(c, "mlkit", "roster", "import", "roster.csv", "--lms", "canvas")
    assert done.returncode == 0, done.stderr
    notebook = nbformat.writes(catalog.submission_notebook(ASSIGNMENT, catalog.reference_answers(ASSIGNMENT, root=c),
                                                           root=c)).encode()
    return c, notebook


def _collect(c: Path, download: dict[str, bytes], *options: str) -> subprocess.CompletedProcess:
    """The download (Canvas's names -> bytes) put where the LMS block puts it, then `nbgrader zip_collect`."""
    for folder in ("downloaded", "submitted"):
        subprocess.run(["rm", "-rf", str(c / folder)], check=True)
    archive = c / "downloaded" / ASSIGNMENT / "archive"
    archive.mkdir(parents=True)
    with zipfile.ZipFile(archive / "submissions.zip", "w") as packed:
        for name, data in download.items():
            packed.writestr(name, data)
    return _run(c, "nbgrader", "zip_collect", ASSIGNMENT, "--collector=mlkit.grading.plugins.lmszip.CanvasCollector",
                *options)


def _collected(c: Path) -> set[str]:
    return {p.parent.parent.name for p in (c / "submitted").glob(f"*/{ASSIGNMENT}/{NOTEBOOK}.ipynb")}


def _unpacked_bytes(c: Path) -> int:
    return sum(p.stat().st_size for p in (c / "downloaded" / ASSIGNMENT / "extracted").rglob("*") if p.is_file())


def test_an_upload_that_is_no_archive_stops_nobodys_collection(lms_class):
    c, notebook = lms_class
    download = {f"lovelaceada_1001_5001_{NOTEBOOK}.ipynb": notebook,
                "malletmallory_1002_5002_notes.zip": b"this is not a zip",  # 17 bytes
                f"malletmallory_1002_5003_{NOTEBOOK}.ipynb": notebook}
    stock = _collect(c, download, STOCK_EXTRACTOR)
    assert stock.returncode != 0 and "Not a recognized archive type" in stock.stderr
    assert _collected(c) == set()  # the defence off: nobody of the class is collected

    kit = _collect(c, download)
    assert kit.returncode == 0, kit.stderr
    assert _collected(c) == {"ada", "mallory"}
    assert "malletmallory_1002_5002_notes.zip" in kit.stderr  # named as not collected


def test_a_nested_archive_unpacks_to_nothing_and_a_file_past_the_size_bound_is_named(lms_class):
    c, notebook = lms_class
    zeros = _zip_bytes("zeros.bin", lambda: (b"\0" * (1 << 20) for _ in range(BOMB_BYTES >> 20)))
    upload = _zip_bytes("inner.zip", lambda: [zeros])  # a zip in a zip: each level multiplies ~1000 times
    assert len(upload) < BOMB_BYTES // 200
    padded = nbformat.reads(notebook.decode(), as_version=4)
    padded.metadata["padding"] = "x" * (3 << 20)  # one file of the download past a 2 MB max_file_size
    download = {f"lovelaceada_1001_5001_{NOTEBOOK}.ipynb": notebook,
                "malletmallory_1002_5002_solutions.zip": upload,
                f"malletmallory_1002_5003_{NOTEBOOK}.ipynb": nbformat.writes(padded).encode()}
    stock = _collect(c, download, STOCK_EXTRACTOR, "--CourseDirectory.max_file_size=2000")
    assert stock.returncode == 0, stock.stderr
    assert _unpacked_bytes(c) > BOMB_BYTES  # the defence off: mallory's small upload unpacked in full

    kit = _collect(c, download, "--CourseDirectory.max_file_size=2000")
    assert kit.returncode == 0, kit.stderr
    assert _unpacked_bytes(c) < 2 * len(notebook) + len(upload)  # the download's files, as they are
    assert "over 2048000 bytes unpacked" in kit.stderr and f"malletmallory_1002_5003_{NOTEBOOK}.ipynb" in kit.stderr
    assert _collected(c) == {"ada"}
