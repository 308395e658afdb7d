"""Follow-up questions, as an interviewer asks them after a working solution: `mlkit followup`.

    mlkit followup 02                      # the questions (after full marks at the interview level or in a mock)
    mlkit followup 02 complexity           # a spoken one: the model answer, to compare with yours
    mlkit followup 02 complexity --rate 4  # how well yours matched it (1-5), kept in the history
    mlkit followup 02 class_weights        # a code one: writes its exercise notebook
    mlkit followup 02 class_weights --grade [NOTEBOOK]   # grades it with hidden tests, kept in the history
    mlkit followup --mutate [02]           # the mutation score of the graded follow-ups' hidden tests

Every notebook has 3-5 follow-ups in `catalog/<assignment>/followups.toml`, among them at least one on each
of the `REQUIRED_TOPICS`: the time and memory complexity of fit and predict, a numerical-stability question and
a change to the algorithm with its effect on the gradient or the result. Each is

    [[followup]]
    id = "complexity"                  # unique within the notebook; what the learner types
    topic = "complexity"               # complexity | stability | change | another word for an extra question
    kind = "spoken"                    # spoken: answer out loud, compare with `answer`, rate 1-5
    question = "..."                   # code: a graded exercise
    answer = "..."                     # the model answer (for code: what the change does, shown after full marks)
    exercise = "02_followup_..."       # code only: its notebook, under catalog/<assignment>/followups/

A code follow-up's exercise is a small nbgrader notebook laid out as a course of its own under
`catalog/<assignment>/followups/` (`source/<exercise>/<name>.ipynb` with its `diagnostics.toml`,
`catalog/<exercise>/` with its realistic wrong answers `mutants.toml`, `alternatives/` and reviewed
`equivalent_mutants.toml`), so `mlkit.authoring.mutation` runs over it as over a course notebook, and `mlkit
init` and the wheel carry it with the assignment's catalog. It is graded like a self-study attempt:
nbgrader's generate_assignment (once), autograde and generate_feedback in a private nbgrader course in the
workspace (`<workspace>/followups/`), through the grading boundary and the sandbox.

Answers are kept in the study history with `mlkit.study.history.record_followup` (the record's shape is in
its docstring); `latest` and `complete` read them back.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path

import nbformat

from mlkit import invocation, layout, nbcells, nbgrader_startup
from mlkit.authoring import catalog
from mlkit.study import history as histories
from mlkit.study import private_course

FILE_NAME = "followups.toml"
EXERCISES = "followups"  # the folder, beside followups.toml, that holds the graded exercises as a small course
REQUIRED_TOPICS = ("complexity", "stability", "change")
KINDS = ("spoken", "code")
COUNT = (3, 5)  # follow-ups per notebook, at least and at most
COURSE = "followups"  # the workspace's nbgrader course for the exercises


class FollowUpError(Exception):
    """A request the learner can fix (locked, unknown id, wrong kind), said in one line."""


@dataclass(frozen=True)
class FollowUp:
    assignment: str
    id: str
    topic: str
    kind: str              # "spoken" or "code"
    question: str
    answer: str
    exercise: str | None   # code: the exercise's folder name under catalog/<assignment>/followups/source/


def exercises_root(assignment: str, root: Path = layout.ROOT) -> Path:
    """The small course (source/, catalog/) holding the graded exercises of `assignment`'s follow-ups."""
    return root / "catalog" / assignment / EXERCISES


def load(assignment: str, root: Path = layout.ROOT) -> list[FollowUp]:
    """The follow-ups of one notebook, in file order; raises ValueError naming the file for a malformed one."""
    path = root / "catalog" / assignment / FILE_NAME
    if not path.exists():
        return []
    with path.open("rb") as handle:
        raw = tomllib.load(handle).get("followup", [])
    found = []
    for entry in raw:
        missing = {"id", "topic", "kind", "question", "answer"} - set(entry)
        if missing:
            raise ValueError(f"{path}: a follow-up lacks {', '.join(sorted(missing))}")
        if entry["kind"] not in KINDS:
            raise ValueError(f"{path}: follow-up {entry['id']!r} has kind {entry['kind']!r}, not one of {KINDS}")
        exercise = entry.get("exercise")
        if (entry["kind"] == "code") != bool(exercise):
            raise ValueError(f"{path}: follow-up {entry['id']!r}: a code follow-up, and only one, names its exercise")
        if exercise and not any((exercises_root(assignment, root) / "source" / exercise).glob("*.ipynb")):
            raise ValueError(f"{path}: follow-up {entry['id']!r}: no exercise notebook "
                             f"{exercises_root(assignment, root) / 'source' / exercise}")
        found.append(FollowUp(assignment, entry["id"], entry["topic"], entry["kind"], entry["question"].strip(),
                              entry["answer"].strip(), exercise))
    if len({f.id for f in found}) != len(found):
        raise ValueError(f"{path}: two follow-ups share an id")
    return found


def find(assignment: str, followup_id: str, root: Path = layout.ROOT) -> FollowUp:
    followups = load(assignment, root)
    for followup in followups:
        if followup.id == followup_id:
            return followup
    raise FollowUpError(f"{assignment} has no follow-up {followup_id!r}; it has {', '.join(f.id for f in followups)}")


def unlocked(record: histories.History, assignment: str) -> bool:
    """Whether the learner has earned the follow-ups: full marks at the interview level (a mock is one)."""
    return any(a.perfect and a.level == "interview" for a in record.of(assignment))


def latest(record: histories.History, assignment: str) -> dict[str, dict]:
    """Follow-up id -> its latest record (`record_followup`'s shape), for the follow-ups answered so far."""
    return {entry["followup"]: entry for entry in record.followups if entry.get("assignment") == assignment}


def complete(record: histories.History, assignment: str, root: Path = layout.ROOT) -> bool:
    """Whether every follow-up of `assignment` has been answered (spoken: rated; code: graded).

    This is what a mastery rule can require; whether the answers were good is each record's `passed`."""
    followups = load(assignment, root)
    answered = latest(record, assignment)
    return bool(followups) and all(f.id in answered for f in followups)


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _wrap(text: str, indent: str = "  ") -> str:
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n")]
    return "\n".join(textwrap.fill(p, 100, initial_indent=indent, subsequent_indent=indent) for p in paragraphs)


def questions_text(assignment: str, record: histories.History | None = None, root: Path = layout.ROOT) -> str:
    """The follow-up questions of one notebook (never their answers), with what was answered so far."""
    answered = latest(record, assignment) if record is not None else {}
    lines = [f"Follow-up questions on {assignment}, as an interviewer asks them after a working solution:"]
    for number, followup in enumerate(load(assignment, root), 1):
        done = answered.get(followup.id)
        state = ""
        if done and done["kind"] == "spoken":
            state = f"  [rated {done['rating']}/5]"
        elif done:
            state = f"  [{done['score']:g} / {done['max_score']:g} points]"
        how = "answer out loud" if followup.kind == "spoken" else "code, graded"
        lines += ["", f" {number}. {followup.id} ({followup.topic}; {how}){state}", _wrap(followup.question, "    ")]
        verb = "to compare with the model answer" if followup.kind == "spoken" else "to write the exercise notebook"
        lines.append(f"    -> {invocation.command('followup', assignment, followup.id)}   ({verb})")
    return "\n".join(lines)


def invitation(assignment: str, root: Path = layout.ROOT) -> str:
    """What selfgrade prints after full marks at the interview level: the questions and the command."""
    if not load(assignment, root):
        return ""
    return "\n" + questions_text(assignment, None, root)


# -- graded exercises ----------------------------------------------------------------------------------


def reference_answers(followup: FollowUp, root: Path = layout.ROOT) -> dict[str, str]:
    """The exercise's reference answer cells (grade_id -> source, solution markers removed)."""
    return catalog.reference_answers(followup.exercise, exercises_root(followup.assignment, root))


def alternatives(followup: FollowUp, root: Path = layout.ROOT) -> dict[str, dict[str, str]]:
    """Other correct answers in other styles: name -> answer cells (`catalog/<exercise>/alternatives/*.py`)."""
    folder = exercises_root(followup.assignment, root) / "catalog" / followup.exercise / "alternatives"
    return {p.stem: catalog.parse_answer_cells(p.read_text()) for p in sorted(folder.glob("*.py"))}


def wrong_answers(followup: FollowUp, root: Path = layout.ROOT) -> list[catalog.Mutant]:
    """Realistic mistakes, each with the declared mistake its feedback must name (`catalog/<exercise>/mutants.toml`
    under the exercise's course, in the course catalog's format)."""
    return catalog.mutants(followup.exercise, exercises_root(followup.assignment, root))



def _course(workspace: Path) -> Path:
    return workspace / COURSE


def prepare(workspace: Path, followup: FollowUp, root: Path = layout.ROOT) -> Path:
    """The workspace's follow-up course with this exercise generated (again when its source changed);
    returns the course folder."""
    target = _course(workspace)
    private_course.generate(target, root / "nbgrader_config.py",
                            exercises_root(followup.assignment, root) / "source" / followup.exercise)
    return target


def write_exercise(workspace: Path, followup: FollowUp, root: Path = layout.ROOT,
                   now: dt.datetime | None = None) -> Path:
    """The exercise's release notebook, written for the learner into `<workspace>/followups/practice/`
    (a previous one is kept beside with its time appended); returns its path."""
    course_root = prepare(workspace, followup, root)
    release = layout.notebook_path(followup.exercise, "release", course_root)
    folder = course_root / "practice" / followup.exercise
    folder.mkdir(parents=True, exist_ok=True)
    notebook = folder / release.name
    if notebook.exists():
        stamp = (now or dt.datetime.now()).strftime("%Y%m%dT%H%M%S")
        notebook.rename(notebook.with_name(f"{notebook.stem}.{stamp}.ipynb"))
    shutil.copyfile(release, notebook)
    return notebook


def exercise_notebook(workspace: Path, followup: FollowUp) -> Path:
    """Where `write_exercise` puts the learner's notebook of this exercise."""
    folder = _course(workspace) / "practice" / followup.exercise
    found = sorted(p for p in folder.glob("*.ipynb") if p.stem.count(".") == 0) if folder.is_dir() else []
    if not found:
        raise FollowUpError(f"no exercise notebook yet: run  {invocation.command('followup', followup.assignment, followup.id)}")
    return found[0]


def grade_exercise(workspace: Path, followup: FollowUp, notebook: Path, root: Path = layout.ROOT):
    """Grade the learner's exercise notebook with its hidden tests; returns (checks, feedback page).

    The learner's file is only read: a byte copy is graded in the workspace's follow-up course."""
    from mlkit.reports import results

    parent = private_course.start_kernel_zygote()
    try:
        nb = private_course.read_notebook(notebook)
        wanted = set(nbcells.answer_cell_ids(nb))
        course_root = prepare(workspace, followup, root)
        release = layout.notebook_path(followup.exercise, "release", course_root)
        expected = set(nbcells.answer_cell_ids(nbformat.read(release, as_version=4)))
        if not expected <= wanted:
            raise FollowUpError(f"{notebook} is not the exercise of {followup.assignment}'s follow-up {followup.id}")
        target = course_root / "submitted" / histories.LEARNER / followup.exercise
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(course_root / "release" / followup.exercise, target,
                        ignore=shutil.ignore_patterns("*.ipynb"))
        shutil.copyfile(notebook, target / release.name)
        private_course.autograde_and_feedback(course_root, followup.exercise, parent)
    finally:
        if parent is not None:
            parent.close()
    graded = nbformat.read(course_root / "autograded" / histories.LEARNER / followup.exercise / release.name,
                           as_version=4)
    checks = results.check_results(graded, followup.exercise)
    feedback = course_root / "feedback" / histories.LEARNER / followup.exercise / release.with_suffix(".html").name
    return checks, feedback


# -- the command ---------------------------------------------------------------------------------------


def _locked_message(assignment: str) -> str:
    return (f"the follow-up questions of {assignment} open after full marks at the interview level, in a mock "
            f"interview ({invocation.command('practice', '--mock', assignment)}) or at that level once it is open")


def _checks_text(checks) -> str:
    lines = []
    for c in checks:
        mark = "PASS" if c.passed else "FAIL"
        lines += textwrap.wrap(c.description, 100, initial_indent=f"  {mark} {c.score:>2g}/{c.points:<2g}   ",
                               subsequent_indent=" " * 14)
        if not c.passed:  # the mistake named, never the fix: the learner earns the answer
            lines += textwrap.wrap(c.message, 100, initial_indent=" " * 14 + "-> ", subsequent_indent=" " * 17)
    return "\n".join(lines)


def mutate(assignments: list[str], jobs: int | None = None, root: Path = layout.ROOT) -> int:
    """`mlkit followup --mutate`: `mlkit mutate` over every graded follow-up exercise of `assignments`."""
    from mlkit.authoring import mutation

    status = 0
    exercises = [f for a in assignments for f in load(a, root) if f.kind == "code"]
    for number, followup in enumerate(exercises):
        if number:
            print()
        status |= mutation.main(exercises_root(followup.assignment, root), followup.exercise, jobs=jobs,
                                progress=False)
    return status


def command(args) -> int:
    """`mlkit followup` (arguments: see mlkit.cli); the exit status."""
    nbgrader_startup.without_server_extensions()  # this process starts no Jupyter server
    return run(args.algorithm, args.question, args.rate, args.grade, args.mutate, args.workspace, args.jobs)


def run(algorithm: str | None, followup_id: str | None, rating: int | None, grade: str | None, run_mutate: bool,
        workspace: str | None, jobs: int | None = None) -> int:
    """The `mlkit followup` command; `grade` is None (not grading), "" (the written notebook) or a path."""
    from mlkit.study import practice

    try:
        names = [practice.resolve_assignment(algorithm)] if algorithm else layout.assignments()
        if run_mutate:
            return mutate(names, jobs)
        if algorithm is None:
            raise FollowUpError("name an algorithm (for example 02_logistic_regression), or use --mutate")
        assignment = names[0]
        space = histories.default_workspace(workspace)
        record = histories.load(space)
        if not unlocked(record, assignment):
            raise FollowUpError(_locked_message(assignment))
        if followup_id is None:
            if rating is not None or grade is not None:
                raise FollowUpError("name the follow-up to rate or grade (its id, as listed)")
            print(questions_text(assignment, record))
            return 0
        followup = find(assignment, followup_id)
        if followup.kind == "spoken":
            return _spoken(space, record, followup, rating, grade)
        return _code(space, record, followup, rating, grade)
    except (FollowUpError, practice.PracticeError, private_course.SelfStudyError) as error:
        print(f"mlkit followup: {error}", file=sys.stderr)
        return 2


def _spoken(space: Path, record: histories.History, followup: FollowUp, rating: int | None,
            grade: str | None) -> int:
    if grade is not None:
        raise FollowUpError(f"{followup.id} is answered out loud, not graded: rate it with --rate N")
    if rating is None:
        print(f"{followup.assignment}, follow-up {followup.id} ({followup.topic}):")
        print(_wrap(followup.question))
        print("\nModel answer (compare it with what you said):")
        print(_wrap(followup.answer))
        print(f"\nRate your answer (1-5): {invocation.command('followup', followup.assignment, followup.id, '--rate')} N")
        return 0
    if not 1 <= rating <= 5:
        raise FollowUpError("ratings are 1 (missed it) to 5 (as complete as the model answer)")
    histories.record_followup(record, followup.assignment, followup.id, "spoken", followup.topic, _now(),
                              rating=rating)
    histories.save(space, record)
    print(f"recorded: {followup.assignment} follow-up {followup.id} rated {rating}/5")
    return 0


def _code(space: Path, record: histories.History, followup: FollowUp, rating: int | None, grade: str | None) -> int:
    if rating is not None:
        raise FollowUpError(f"{followup.id} is a graded exercise: grade it with --grade")
    if grade is None:
        notebook = write_exercise(space, followup)
        print(f"{followup.assignment}, follow-up {followup.id} ({followup.topic}), a graded exercise:")
        print(_wrap(followup.question))
        print(f"\nNotebook: {notebook}")
        print(f"When you are done, grade it:  {invocation.command('followup', followup.assignment, followup.id, '--grade')}")
        return 0
    notebook = Path(grade) if grade else exercise_notebook(space, followup)
    checks, feedback = grade_exercise(space, followup, notebook)
    score, points = sum(c.score for c in checks), sum(c.points for c in checks)
    record = histories.load(space)  # read again: grading took a while
    histories.record_followup(record, followup.assignment, followup.id, "code", followup.topic, _now(),
                              score=score, max_score=points, mistakes=[c.mistake for c in checks if c.mistake])
    histories.save(space, record)
    print(f"{followup.assignment}, follow-up {followup.id}: {score:g} / {points:g} points\n")
    print(_checks_text(checks))
    if score >= points > 0:
        print("\nWhat the change does (the model answer):")
        print(_wrap(followup.answer))
    print(f"\nFeedback: {feedback}")
    return 0
