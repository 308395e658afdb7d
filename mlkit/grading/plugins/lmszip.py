"""Submissions downloaded from an LMS: `nbgrader zip_collect` with the kit's collectors, and feedback
release that skips what did not come through the exchange.

An LMS hands the instructor every submission of an assignment in one zip, each file named after its
student:

- Canvas (Assignment -> Download Submissions): `<lastfirst>_[LATE_]<user id>_<attachment id>_<file>`, where
  `<user id>` is Canvas's user id (the roster's `ID`, nbgrader's `lms_user_id` after `mlkit roster import`)
  and `<file>` the name the student uploaded (Canvas adds `-1`, `-2` to a name uploaded again).
- Moodle (Assignment -> Download all submissions): `<Full Name>_<participant id>_assignsubmission_file_/<file>`
  (a folder per student), or `<Full Name>_<participant id>_assignsubmission_file_<file>` without folders.
  Moodle's participant id is the assignment's own, so the student is found by full name in the roster
  ("First Last", as Moodle writes it); a name the roster lacks, or holds twice, is not collected (and said).

`CanvasCollector` and `MoodleCollector` are nbgrader `FileNameCollectorPlugin`s: the course sets one as
`c.ZipCollectApp.collector_plugin`, and `nbgrader zip_collect ASSIGNMENT` then puts each file into
`submitted/<nbgrader id>/<assignment>/` as nbgrader's collect would, with a `timestamp.txt`: the time the
LMS recorded for the file in the zip (interpreted in `c.LmsCollector.zip_timezone`, UTC by default), or
`c.LmsCollector.timestamp` for every file when the instructor sets one.  A file whose name is not the LMS's
pattern, whose student the roster does not know, or that is no notebook of the release is not collected,
and the log names it.  What lands in `submitted/` goes through autograde's `set_aside_unsafe_files` like any
submission.

`LmsExtractor` (`c.ZipCollectApp.extractor_plugin`) unpacks the LMS's download itself and nothing a student put
in it: nbgrader's own extractor also unpacks every archive found inside (a student's upload named `*.zip`),
without a bound, and stops the class's collection at the first that is not one.  A 17-byte `notes.zip` then
stopped `zip_collect` for everyone, and 483 bytes of nested zips unpacked to 64 MB (one more level: 64 GB) on
the instructor's disk.  Here a file is written from the archive as it is (a student's archive stays one file, which no collector
takes), regular files and folders only (no link, device or FIFO is made), never outside the download's folder, each
at most `c.CourseDirectory.max_file_size` as it is unpacked (the size the archive claims is not trusted); a
member or an archive that cannot be read, or is too large, is left out and named, and the rest is extracted.

`ExchangeOnlyReleaseFeedback` (`c.ExchangeFactory.release_feedback`): nbgrader's release of feedback to the
exchange, with the shared hub's check of the exchange (`exchange.CheckedReleaseFeedback`), minus the students
whose submission did not come through it.  Such a feedback folder has no `submission_secret.txt` (nbgrader submit
writes it) and, when placed by hand, no `timestamp.txt`; nbgrader's own release stops at the first with
FileNotFoundError and releases nobody after it.  Those students cannot fetch feedback from the exchange anyway:
`mlkit handback ASSIGNMENT` packs theirs for the LMS.
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from dateutil import tz
from nbgrader.plugins import ExtractorPlugin, FileNameCollectorPlugin
from traitlets import Unicode

from mlkit.grading.plugins.exchange import CheckedReleaseFeedback

CANVAS_NAME = re.compile(r"(?P<name>[^_/]*)_(?:(?P<late>LATE)_)?(?P<user>\d+)_(?P<attachment>\d+)_(?P<file>[^/]+)")
MOODLE_NAME = re.compile(r"(?P<name>[^_/]+)_(?P<participant>\d+)_assignsubmission_file_?"
                         r"(?:/(?P<infolder>[^/]+)|_?(?P<flat>[^/]+))")
RENAMED_AGAIN = re.compile(r"-\d+$")  # Canvas's suffix for a file the student uploaded again


@dataclass
class Download:
    """One file of an LMS's download: who it is from (in the LMS's terms) and what it is."""
    lms_key: str        # Canvas: the user id; Moodle: the full name, as the download writes it
    account: str        # the LMS's own id of the person: Canvas's user id, Moodle's participant id
    file_name: str      # the file as the student named it
    prefix: str         # what the LMS put before it, kept to name the feedback handed back
    in_folder: bool     # Moodle: the download had a folder per student

    @property
    def roster_key(self) -> str:
        """The key `student_ids_by_lms_key` files the roster's students under."""
        return " ".join(self.lms_key.split()).casefold()


def parse_download(relative: str, lms: str) -> Download | None:
    """The LMS's download name of one extracted file (its path below the archive's folder), or None."""
    if lms == "canvas":
        match = CANVAS_NAME.fullmatch(os.path.basename(relative))
        if not match:
            return None
        return Download(match["user"], match["user"], match["file"], match.group(0)[: match.start("file") - 1], False)
    for start in [0] + [m.end() for m in re.finditer("/", relative)]:
        match = MOODLE_NAME.fullmatch(relative[start:])
        if match:
            folder = match["infolder"] is not None
            name = match["infolder"] if folder else match["flat"]
            prefix = relative[start:].rsplit("/", 1)[0] if folder else relative[start:][: -len(name)]
            return Download(match["name"], match["participant"], name, prefix, folder)
    return None


def student_ids_by_lms_key(db_url: str, lms: str) -> dict[str, list[str]]:
    """{Canvas user id or Moodle full name: [nbgrader ids]} from the course gradebook's students."""
    from nbgrader.api import Gradebook

    found: dict[str, list[str]] = {}
    with Gradebook(db_url) as gb:
        for student in gb.students:
            if lms == "canvas":
                key = student.lms_user_id
            else:  # as Download.roster_key: the name's words, case folded
                key = " ".join(f"{student.first_name or ''} {student.last_name or ''}".split()).casefold() or None
            if key:
                found.setdefault(key, []).append(student.id)
    return found


def released_notebook(file_name: str, released: set[str]) -> str:
    """The release's notebook a downloaded file is, undoing Canvas's `-1` for a file uploaded again."""
    stem, extension = os.path.splitext(file_name)
    plain = RENAMED_AGAIN.sub("", stem) + extension
    return plain if file_name not in released and plain in released else file_name


class LmsCollector(FileNameCollectorPlugin):
    """Base of the two collectors: the student from the roster, the time from the zip."""

    lms = ""
    timestamp = Unicode("", help="the submission time recorded for every collected file (ISO 8601); "
                                 "default: the time the LMS recorded for the file in its zip").tag(config=True)
    zip_timezone = Unicode("UTC", help="the time zone of the times in the LMS's zip (a zip records local "
                                       "time without its zone)").tag(config=True)

    def collect(self, submitted_file: str):
        app = self.parent
        extracted = Path(app._format_collect_path(app.extracted_directory))
        relative = Path(submitted_file).relative_to(extracted).as_posix()
        found = parse_download(relative, self.lms)
        if found is None:
            self.log.warning("Not collected: %s is not named as %s names a download", relative, self.lms)
            return None
        ids = self._students().get(found.roster_key, [])
        claimants = self._claimants(extracted).get(ids[0], {}) if len(ids) == 1 else {}
        if len(claimants) > 1:
            self.log.warning("Not collected: %s, one of %d folders of the download (%s) that claim the name of %s: "
                             "none of them is collected, since a Moodle user can rename themselves; check them by "
                             "hand", relative, len(claimants), ", ".join(sorted(claimants.values())), ids[0])
            return None
        if len(ids) != 1:
            self.log.warning("Not collected: %s is from %s %r, %s", relative,
                             "Canvas user" if self.lms == "canvas" else "Moodle's", found.lms_key,
                             "whom the roster does not list (mlkit roster import)" if not ids
                             else f"a name the roster gives {len(ids)} students ({', '.join(ids)})")
            return None
        released = {path.name for path in Path(app.coursedir.format_path(
            app.coursedir.release_directory, ".", app.coursedir.assignment_id)).glob("*.ipynb")}
        file_id = released_notebook(found.file_name, released)
        if os.path.splitext(file_id)[1] not in self.valid_ext:
            self.log.warning("Not collected: %s is no notebook", relative)
            return None
        return {"student_id": ids[0], "file_id": file_id, "timestamp": self._time(extracted, relative)}

    def _claimants(self, extracted: Path) -> dict[str, dict[str, str]]:
        """{nbgrader id: {LMS account: its download prefix}} for every account whose files name that student.

        Moodle's names are the students' own display names, so two participants can carry one name; a
        student claimed by more than one participant is collected for none (Canvas's user ids are its own)."""
        if not hasattr(self, "_claimed"):
            self._claimed: dict[str, dict[str, str]] = {}
            for path in extracted.rglob("*"):
                found = parse_download(path.relative_to(extracted).as_posix(), self.lms) if path.is_file() else None
                ids = self._students().get(found.roster_key, []) if found else []
                if len(ids) == 1:
                    self._claimed.setdefault(ids[0], {})[found.account] = found.prefix.rstrip("/_")
        return self._claimed

    def _students(self) -> dict[str, list[str]]:
        if not hasattr(self, "_by_key"):
            self._by_key = student_ids_by_lms_key(self.parent.coursedir.db_url, self.lms)
        return self._by_key

    def _time(self, extracted: Path, relative: str) -> str:
        """The file's submission time, as text nbgrader parses: the instructor's, else the zip's, else now."""
        if self.timestamp:
            return self.timestamp
        app = self.parent
        archive_folder = Path(app._format_collect_path(app.archive_directory))
        parts = relative.split("/")
        for cut in range(1, len(parts)):  # the extractor unpacks archive/<folders>/<name>.zip into <folders>/<name>/
            folder, archive_name, entry = "/".join(parts[:cut - 1]), parts[cut - 1], "/".join(parts[cut:])
            for candidate in (archive_folder / folder).glob(f"{glob_escape(archive_name)}.*"):
                if not zipfile.is_zipfile(candidate):
                    continue
                with zipfile.ZipFile(candidate) as packed:
                    try:
                        recorded = datetime.datetime(*packed.getinfo(entry).date_time)
                    except KeyError:
                        continue
                zone = tz.gettz(self.zip_timezone)
                return recorded.replace(tzinfo=zone).astimezone(datetime.timezone.utc).isoformat(" ")
        now = datetime.datetime.now(datetime.timezone.utc)
        self.log.warning("No time recorded for %s: the collection time %s is its submission time", relative, now)
        return now.isoformat(" ")


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


class CanvasCollector(LmsCollector):
    """Canvas's download names (`lastfirst_[LATE_]userid_attachmentid_file`), students by Canvas user id."""
    lms = "canvas"


class MoodleCollector(LmsCollector):
    """Moodle's download names (`Full Name_participantid_assignsubmission_file_`), students by full name."""
    lms = "moodle"


class LmsExtractor(ExtractorPlugin):
    """Unpacks the archives of `archive_directory` (the LMS's download) into `extracted_directory/<name>/`, as
    nbgrader's extractor lays them out, but not the archives inside them, and within bounds (module docstring)."""

    def extract(self, archive_path: str, extracted_path: str) -> None:
        """Every file below `archive_path`: an archive (`zip_ext`) unpacked into a folder named after it, any other
        file copied, into the same relative folder below `extracted_path`."""
        limit = self.parent.coursedir.max_file_size * 1024
        for folder, _, names in os.walk(archive_path):
            target = Path(extracted_path) / os.path.relpath(folder, archive_path)
            target.mkdir(parents=True, exist_ok=True)
            for name in sorted(names):
                path = Path(folder) / name
                stem, extension = os.path.splitext(name)
                if extension not in self.zip_ext:
                    shutil.copy(path, target / name)
                    continue
                if stem.endswith(".tar"):
                    stem = stem[:-4]
                self.log.info("Extracting %s into %s", path, target / stem)
                try:
                    self._unpack(path, target / stem, limit)
                except (OSError, EOFError, zipfile.BadZipFile, tarfile.TarError, NotImplementedError, ValueError) \
                        as error:
                    self.log.warning("Not extracted (the rest of it, if any, is): %s cannot be read as an archive: "
                                     "%s", path, error)

    def _unpack(self, archive: Path, into: Path, limit: int) -> None:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as packed:
                for info in packed.infolist():
                    mode = info.external_attr >> 16
                    kind = "folder" if info.is_dir() else "file" if stat.S_IFMT(mode) in (0, stat.S_IFREG) else "link"
                    self._member(into, info.filename, kind, lambda info=info: packed.open(info), limit)
            return
        with tarfile.open(archive) as packed:
            for member in packed:
                kind = "folder" if member.isdir() else "file" if member.isfile() else "link"
                self._member(into, member.name, kind, lambda member=member: packed.extractfile(member), limit)

    def _member(self, into: Path, name: str, kind: str, opened, limit: int) -> None:
        """Write one member below `into` (a folder made, a file copied up to `limit` bytes), or name why not."""
        parts = [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]
        if not parts or ".." in parts or name.startswith(("/", "\\")):
            self.log.warning("Not extracted: %r from %s names a place outside its folder", name, into.name)
            return
        path = into.joinpath(*parts)
        if kind not in ("folder", "file"):
            self.log.warning("Not extracted: %s from %s is not a regular file (a link or a special file)",
                             name, into.name)
            return
        written = 0
        try:
            if kind == "folder":
                path.mkdir(parents=True, exist_ok=True)
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            with opened() as reading, open(path, "wb") as writing:
                while block := reading.read(1 << 20):
                    written += len(block)
                    if written > limit:
                        raise ValueError(f"over {limit} bytes unpacked (c.CourseDirectory.max_file_size)")
                    writing.write(block)
        except (OSError, EOFError, zipfile.BadZipFile, tarfile.TarError, NotImplementedError, ValueError) as error:
            if kind == "file" and path.is_file() and not path.is_symlink():
                path.unlink()
            self.log.warning("Not extracted: %s from %s: %s", name, into.name, error)


class ExchangeOnlyReleaseFeedback(CheckedReleaseFeedback):
    """nbgrader's feedback release on the checked exchange (`CheckedReleaseFeedback`: it refuses a feedback folder
    others may open), leaving out (and naming) the students who did not submit through the exchange instead of
    stopping at the first of them."""

    def copy_files(self):
        missing = {}  # student -> the files nbgrader's release needs that her feedback folder lacks
        for folder in self._feedback_folders():
            lacks = [name for name in ("submission_secret.txt", "timestamp.txt") if not (Path(folder) / name).is_file()]
            if lacks:
                missing[Path(folder).parent.name] = lacks
        outside = sorted(missing)
        for student in outside:
            self.log.warning("Feedback of %s on %s is not released to the exchange: the submission did not come "
                             "through it (no %s: zip_collect or placed by hand); hand it back through the LMS: "
                             "mlkit handback %s", student, self.coursedir.assignment_id,
                             " and no ".join(missing[student]), self.coursedir.assignment_id)
        if not outside:
            return super().copy_files()
        before = self.coursedir.student_id_exclude
        self.coursedir.student_id_exclude = ",".join([*filter(None, before.split(",")), *outside])
        try:
            return super().copy_files()
        finally:
            self.coursedir.student_id_exclude = before

    def _feedback_folders(self) -> list[str]:
        import glob

        return sorted({os.path.dirname(page) for page in glob.glob(os.path.join(self.src_path, "*.html"))})
