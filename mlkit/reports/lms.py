"""Grades out to the LMS, and the LMS's roster in: `mlkit export` and `mlkit roster import`.

`mlkit roster import FILE` reads the roster an LMS exports and fills nbgrader's own student fields
(`first_name`, `last_name`, `email`, `lms_user_id`) through nbgrader's Gradebook API:

- Canvas: the gradebook export (Grades -> Export), columns `Student` ("Last, First"), `ID` (Canvas's user
  id, stored as `lms_user_id`), `SIS User ID`, `SIS Login ID` (the nbgrader id by default), `Section`.
- Moodle: the grades' plain-text export (Grades -> Export -> Plain text file), columns `First name`,
  `Last name` (or `Surname`), `ID number` (stored as `lms_user_id`), `Email address`; the nbgrader id comes
  from `Username` when the export has it, else from the column named with `--id-column`.

`mlkit export --lms canvas|moodle` writes one row per student of the roster and one column per released
assignment (with `--per-question`, one per graded cell instead), in the format the LMS's grade import
reads, UTF-8, comma-separated:

- Canvas (Grades -> Import): `Student, ID, SIS User ID, SIS Login ID, Section`, then one column per
  assignment; the second row is `Points Possible`, as in Canvas's own export.  Canvas matches a row by `ID`.
- Moodle (Grades -> Import -> CSV file): `First name, Last name, ID number, Email address`, then one
  column per assignment.  In the import's mapping, "Map from" `Email address` to "Map to" email address
  (or `ID number` to idnumber) and map each assignment column to its grade item.  Moodle stops the whole
  import at a row whose user it cannot find, so a student without the mapped field is left out (and named).

A cell is empty, never 0, where the LMS must not record a grade yet: no submission (unless `--missing-as-zero`),
or a submission still waiting for a manual grade (its partial score is no grade).  An assignment nobody was
handed is left out: released means in the exchange's `outbound/` (what `nbgrader release_assignment` writes),
or at least one submission in the gradebook (an LMS course hands out the release without the exchange), or
named on the command line.
"""

from __future__ import annotations

import csv
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from mlkit import course, layout

LMS_NAMES = ("canvas", "moodle")
CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS_ROW = "    Points Possible"  # Canvas's export writes it so, and its import skips it
CANVAS_TEST_STUDENT = "Student, Test"      # the "student view" account every Canvas course has
MOODLE_IDENTITY = ["First name", "Last name", "ID number", "Email address"]


class RosterProblem(Exception):
    """The roster file cannot be read as the LMS's export: the message names the missing columns."""


@dataclass
class RosterEntry:
    student_id: str           # nbgrader's id
    first_name: str | None
    last_name: str | None
    email: str | None
    lms_user_id: str | None


@dataclass
class RosterImport:
    added: list[str] = field(default_factory=list)     # nbgrader ids new to the gradebook
    updated: list[str] = field(default_factory=list)   # nbgrader ids already there, fields filled
    skipped: list[str] = field(default_factory=list)   # rows left out, each with its reason
    not_in_roster: list[str] = field(default_factory=list)  # gradebook students the roster does not list


def read_roster(path: Path, lms: str, id_column: str | None = None) -> tuple[list[RosterEntry], list[str]]:
    """The students of an LMS's roster export: (entries, reasons for rows left out).

    path: a CSV file as the LMS exports it (UTF-8, with or without a byte-order mark).
    lms: "canvas" or "moodle"; id_column: the column holding nbgrader's student ids (default: Canvas's
    `SIS Login ID`, Moodle's `Username`)."""
    from mlkit.grading.submission import STUDENT_NAME

    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
        columns = list(rows[0].keys()) if rows else []
    if lms == "canvas":
        id_column = id_column or "SIS Login ID"
        needed = ["Student", "ID", id_column]
    else:
        if id_column is None:
            if "Username" not in columns:
                raise RosterProblem(f"{path}: this Moodle export has no Username column: name the column that holds "
                                    f"nbgrader's student ids with --id-column (its columns: {', '.join(columns)})")
            id_column = "Username"
        surname = "Last name" if "Last name" in columns else "Surname"
        needed = ["First name", surname, "Email address", id_column]
    missing = [name for name in needed if name not in columns]
    if missing:
        raise RosterProblem(f"{path} is not {lms.capitalize()}'s roster export: no column {', '.join(missing)} "
                            f"(its columns: {', '.join(columns) or 'none'})")
    entries, skipped = [], []
    for number, row in enumerate(rows, start=2):
        student_id = (row.get(id_column) or "").strip()
        if lms == "canvas":
            name = (row.get("Student") or "").strip()
            if name.endswith("Points Possible") or name == CANVAS_TEST_STUDENT or not (row.get("ID") or "").strip():
                continue  # Canvas's points row, its test student, its muted/posting-policy rows
            last, _, first = name.partition(", ")
            entry = RosterEntry(student_id, first.strip() or None, last.strip() or None, None,
                                row["ID"].strip())
        else:
            entry = RosterEntry(student_id, (row["First name"] or "").strip() or None,
                                (row[surname] or "").strip() or None, (row["Email address"] or "").strip() or None,
                                (row.get("ID number") or "").strip() or None)
        if not STUDENT_NAME.fullmatch(student_id):
            skipped.append(f"row {number}: {id_column} {student_id!r} is not a plain account name "
                           "(letters, digits, _ . @ -), which nbgrader's student ids must be")
            continue
        entries.append(entry)
    return entries, skipped


def import_roster(root: Path, path: Path, lms: str, id_column: str | None = None) -> RosterImport:
    """Fill the course gradebook's students from the LMS's roster (nbgrader's `update_or_create_student`).

    A field the roster leaves empty keeps what the gradebook has."""
    from nbgrader.api import Gradebook, MissingEntry

    entries, skipped = read_roster(path, lms, id_column)
    result = RosterImport(skipped=skipped)
    with Gradebook(course.db_url(root)) as gb:
        known = {student.id for student in gb.students}
        for entry in entries:
            fields = {name: value for name, value in (("first_name", entry.first_name), ("last_name", entry.last_name),
                                                      ("email", entry.email), ("lms_user_id", entry.lms_user_id))
                      if value is not None}
            try:
                gb.find_student(entry.student_id)
                result.updated.append(entry.student_id)
            except MissingEntry:
                result.added.append(entry.student_id)
            gb.update_or_create_student(entry.student_id, **fields)
        result.not_in_roster = sorted(known - {entry.student_id for entry in entries})
    return result


# -- export ---------------------------------------------------------------------------------------------------

@dataclass
class Export:
    path: Path
    assignments: list[str]                 # the released assignments, one column each (or one per question)
    left_out_assignments: list[str]        # generated but never released
    students: int                          # rows written
    left_out_students: list[str]           # with the reason: no LMS identifier
    pending: list[str]                     # "student assignment": empty cells waiting for a manual grade
    missing: list[str]                     # "student assignment": no submission


def released_assignments(root: Path, named: list[str] | None = None) -> tuple[list[str], list[str]]:
    """(released, never released) among the gradebook's assignments, in the gradebook's order.

    Released: named (when `named` is given, exactly those), else in the exchange's outbound folder, else
    with at least one submission in the gradebook."""
    from nbgrader.api import Gradebook
    from nbgrader.exchange.default.exchange import Exchange

    config = course.course_config(root)
    exchange = Path(config.Exchange.get("root", Exchange.root.default_value))
    outbound = exchange / config.CourseDirectory.get("course_id", "") / "outbound"
    released, never = [], []
    with Gradebook(course.db_url(root)) as gb:
        for assignment in sorted(gb.assignments, key=lambda a: a.name):
            if named is not None:
                (released if assignment.name in named else never).append(assignment.name)
            elif (outbound / assignment.name).is_dir() or assignment.num_submissions:
                released.append(assignment.name)
            else:
                never.append(assignment.name)
    return released, never


def _score_text(value: float) -> str:
    """A score as both LMSs read it: no exponent, no trailing zeros, '.' as the decimal mark."""
    text = f"{round(value, 4):.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def write_export(root: Path, lms: str, out: Path, named: list[str] | None = None, per_question: bool = False,
                 missing_as_zero: bool = False, moodle_map: str = "email") -> Export:
    """Write the LMS's grade import file for the course's roster (see the module's docstring).

    moodle_map: the field Moodle's import will identify users by ("email" or "idnumber"); a student
    without it is left out."""
    from nbgrader.api import Gradebook, MissingEntry

    released, never = released_assignments(root, named)
    rows, left_out = [], []
    pending: dict[str, None] = {}  # "student assignment", in order, each once (a column per cell repeats them)
    missing: dict[str, None] = {}
    with Gradebook(course.db_url(root)) as gb:
        columns: list[tuple[str, str | None, float]] = []  # (assignment, grade id or None, max score)
        for name in released:
            assignment = gb.find_assignment(name)
            if per_question:
                for notebook in assignment.notebooks:
                    columns += [(name, cell.name, cell.max_score)
                                for cell in [*notebook.grade_cells, *notebook.task_cells]]
            else:
                columns.append((name, None, assignment.max_score))
        for student in sorted(gb.students, key=lambda s: (s.last_name or "", s.first_name or "", s.id)):
            if lms == "canvas" and not student.lms_user_id:
                left_out.append(f"{student.id} (no Canvas user id: run mlkit roster import)")
                continue
            if lms == "moodle" and not (student.email if moodle_map == "email" else student.lms_user_id):
                left_out.append(f"{student.id} (no {'email address' if moodle_map == 'email' else 'ID number'}"
                                ": Moodle stops the whole import at a user it cannot find)")
                continue
            cells = []
            for name, grade_id, _ in columns:
                try:
                    submission = gb.find_submission(name, student.id)
                except MissingEntry:
                    missing[f"{student.id} {name}"] = None
                    cells.append("0" if missing_as_zero else "")
                    continue
                if submission.needs_manual_grade:
                    pending[f"{student.id} {name}"] = None
                if grade_id is None:
                    cells.append("" if submission.needs_manual_grade
                                 else _score_text(submission.score - submission.late_submission_penalty))
                    continue
                grades = [g for nb in submission.notebooks for g in nb.grades if g.name == grade_id]
                if not grades or grades[0].needs_manual_grade:
                    cells.append("")
                else:
                    cells.append(_score_text(grades[0].score))
            rows.append((student, cells))
    headers = [name if grade_id is None else f"{name} {grade_id}" for name, grade_id, _ in columns]
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if lms == "canvas":
            writer.writerow(CANVAS_IDENTITY + headers)
            writer.writerow([CANVAS_POINTS_ROW, "", "", "", ""] + [_score_text(m) for *_, m in columns])
            for student, cells in rows:
                sortable = ", ".join(part for part in (student.last_name, student.first_name) if part) or student.id
                writer.writerow([sortable, student.lms_user_id, "", student.id, ""] + cells)
        else:
            writer.writerow(MOODLE_IDENTITY + headers)
            for student, cells in rows:
                writer.writerow([student.first_name or "", student.last_name or "", student.lms_user_id or "",
                                 student.email or ""] + cells)
    return Export(out, released, never, len(rows), left_out, list(pending), list(missing))


def main_export(root: Path, lms: str, out: str | None, named: list[str], per_question: bool,
                missing_as_zero: bool, moodle_map: str = "email") -> int:
    """`mlkit export`: write the file, then say what it holds and what it left out."""
    url = course.db_url(root)
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):].split("?")[0]).is_file():
        print(f"mlkit export: {root} has no gradebook yet (grade the class first: mlkit grade)", file=sys.stderr)
        return 2
    path = root / (out or f"exports/grades-{lms}.csv")
    done = write_export(root, lms, path, named or None, per_question, missing_as_zero, moodle_map)
    print(path)
    print(f"{done.students} student{'' if done.students == 1 else 's'} x {len(done.assignments)} released "
          f"assignment{'' if len(done.assignments) == 1 else 's'} ({', '.join(done.assignments) or 'none'})")
    if done.left_out_students:  # the names go to stderr; the count and the cure belong in the summary too
        print(f"left out: {len(done.left_out_students)} student{'' if len(done.left_out_students) == 1 else 's'} "
              f"without the identifier {lms.capitalize()} matches on (named below; mlkit roster import adds it)")
    if done.left_out_assignments:
        print(f"left out, never released: {', '.join(done.left_out_assignments)}")
    if done.pending:
        print(f"empty, waiting for a manual grade ({len(done.pending)}): {', '.join(done.pending)}")
    if done.missing:
        marked = "0" if missing_as_zero else "empty"
        print(f"{marked}, no submission ({len(done.missing)}): {', '.join(done.missing)}")
    if done.left_out_students:
        print(f"left out ({len(done.left_out_students)}): "
              f"{', '.join(done.left_out_students)}", file=sys.stderr)
    if done.left_out_students and not done.students:
        print(f"mlkit export: {path} holds no student: import the {lms.capitalize()} roster first "
              f"(mlkit roster import FILE --lms {lms})", file=sys.stderr)
        return 1
    return 0


def main_roster(root: Path, path: str, lms: str, id_column: str | None) -> int:
    """`mlkit roster import FILE`: fill the gradebook's students, then say what changed."""
    try:
        done = import_roster(root, Path(path), lms, id_column)
    except (RosterProblem, OSError) as problem:
        print(f"mlkit roster import: {problem}", file=sys.stderr)
        return 2
    print(f"{len(done.updated)} students updated, {len(done.added)} added"
          + (f": {', '.join(done.added)}" if done.added else ""))
    for reason in done.skipped:
        print(f"left out: {reason}", file=sys.stderr)
    if done.not_in_roster:
        print(f"in the gradebook but not in the roster: {', '.join(done.not_in_roster)}", file=sys.stderr)
    return 1 if done.skipped else 0


# -- feedback handed back -------------------------------------------------------------------------------------

@dataclass
class Handback:
    path: Path
    handed: list[str]        # "student: file name in the zip"
    not_handed: list[str]    # "student: reason"


def handback(root: Path, assignment: str, lms: str, out: Path | None = None) -> Handback:
    """Pack the assignment's feedback pages for the LMS: one zip, each page named as the LMS named that
    student's notebook in the download `nbgrader zip_collect` collected (kept in `downloaded/<a>/extracted/`).

    Canvas (Assignment -> Re-Upload Submissions) reads the user id and the attachment id from the first two
    all-digit parts of a name, so a page is `<lastfirst>_<user id>_<attachment id>_<notebook>.html`; it is
    added to that submission as a comment.  Moodle (Assignment -> Upload multiple feedback files in a zip)
    reads the participant from the folder `<Full Name>_<participant id>_assignsubmission_file_/`, so a page
    goes into that student's folder (or keeps the flat prefix, as the download had it)."""
    from mlkit.grading.plugins.lmszip import parse_download, released_notebook, student_ids_by_lms_key

    config = course.course_config(root).ZipCollectApp
    extracted = root / config.get("downloaded_directory", "downloaded") / assignment / config.get(
        "extracted_directory", "extracted")
    released = {path.name for path in (root / "release" / assignment).glob("*.ipynb")}
    by_key = student_ids_by_lms_key(course.db_url(root), lms)
    downloads: dict[str, dict[str, object]] = {}  # nbgrader id -> {notebook stem: Download}
    claimants: dict[str, set[str]] = {}  # nbgrader id -> the LMS accounts whose files name that student
    for file in sorted(p for p in extracted.rglob("*") if p.is_file()) if extracted.is_dir() else []:
        found = parse_download(file.relative_to(extracted).as_posix(), lms)
        if found is None:
            continue
        ids = by_key.get(found.roster_key, [])
        if len(ids) == 1:
            notebook = Path(released_notebook(found.file_name, released)).stem
            downloads.setdefault(ids[0], {})[notebook] = found
            claimants.setdefault(ids[0], set()).add(found.account)
    path = out or root / "exports" / f"{assignment}-feedback-{lms}.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    handed, not_handed = [], []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as packed:
        for folder in sorted((root / "feedback").glob(f"*/{assignment}")):
            student = folder.parent.name
            if claimed_by_several(claimants.get(student, set())):
                # A Moodle user can rename themselves after a classmate: the page would go to either of them.
                not_handed.append(f"{student}: the download holds files of {len(claimants[student])} participants "
                                  f"with that name ({', '.join(sorted(claimants[student]))}); hand it back by hand")
                continue
            for page in sorted(folder.glob("*.html")):
                found = downloads.get(student, {}).get(page.stem)
                if found is None:
                    not_handed.append(f"{student}: {page.name} (not in the LMS's download: submitted another way)")
                    continue
                if lms == "canvas":
                    name = f"{found.prefix}_{page.name}"
                elif found.in_folder:
                    name = f"{found.prefix}/{page.name}"
                else:
                    name = f"{found.prefix}{page.name}"
                packed.write(page, name)
                handed.append(f"{student}: {name}")
        for student in sorted(set(downloads) - {f.parent.name for f in (root / "feedback").glob(f"*/{assignment}")}):
            not_handed.append(f"{student}: no feedback yet (nbgrader generate_feedback {assignment})")
    return Handback(path, handed, not_handed)


def claimed_by_several(accounts: set[str]) -> bool:
    """Whether the download holds one student's files from more than one LMS account (a Moodle participant who
    renamed themselves after a classmate): that student's feedback could go to either, so it goes to neither."""
    return len(accounts) > 1


# -- the commands ---------------------------------------------------------------------------------------------

def add_commands(sub, course_help: str) -> None:
    """`mlkit export`, `mlkit roster import` and `mlkit handback` on the `mlkit` command's subparsers."""
    export = sub.add_parser("export", help="the LMS's grade import file (Canvas or Moodle): a row per student, "
                                           "a column per released assignment")
    export.add_argument("assignments", nargs="*", help="default: every released assignment")
    export.add_argument("--lms", required=True, choices=LMS_NAMES)
    export.add_argument("--out", help="the file, in the course folder (default: exports/grades-LMS.csv)")
    export.add_argument("--per-question", action="store_true", help="a column per graded cell")
    export.add_argument("--missing-as-zero", action="store_true",
                        help="0 for no submission (default: empty, which the LMS leaves ungraded)")
    export.add_argument("--moodle-map", choices=["email", "idnumber"], default="email",
                        help="Moodle: the user field its import identifies students by (default: email)")
    export.add_argument("--course", help=course_help)
    roster = sub.add_parser("roster", help="fill the gradebook's students (names, email, LMS id) from the "
                                           "LMS's roster export")
    roster.add_argument("action", choices=["import"])
    roster.add_argument("file", help="Canvas's gradebook export or Moodle's plain-text grade export (CSV)")
    roster.add_argument("--lms", required=True, choices=LMS_NAMES)
    roster.add_argument("--id-column", help="the column with nbgrader's student ids "
                                            "(default: Canvas's SIS Login ID, Moodle's Username)")
    roster.add_argument("--course", help=course_help)
    back = sub.add_parser("handback", help="the feedback of students collected from an LMS download, in a zip "
                                           "the LMS takes back")
    back.add_argument("assignment")
    back.add_argument("--lms", required=True, choices=LMS_NAMES)
    back.add_argument("--course", help=course_help)


def command(args) -> int:
    """`mlkit export`, `mlkit roster import` and `mlkit handback` (their arguments: `add_commands`) on the course
    they are given (or run in)."""
    root = course.find(args.course)
    names = layout.resolve_assignments(getattr(args, "assignments", []), root)
    if args.command == "export":
        return main_export(root, args.lms, args.out, names, args.per_question, args.missing_as_zero,
                           args.moodle_map)
    if args.command == "roster":
        return main_roster(root, args.file, args.lms, args.id_column)
    done = handback(root, layout.resolve_assignment(args.assignment, root), args.lms)
    print(done.path)
    print(f"{len(done.handed)} feedback pages packed for {args.lms.capitalize()}")
    for reason in done.not_handed:
        print(f"not packed: {reason}", file=sys.stderr)
    return 0
