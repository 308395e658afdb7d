"""The mistakes each graded test cell can recognise, declared as data.

One TOML file per assignment, `<assignment>.toml`, with one table per graded
test cell (keyed by its nbgrader `grade_id`) and, under it, one table per
recognisable mistake:

    [test_one_step_update]
    question = "A question that points at the idea the check tests (self-study hint 1)."
    formula = "The formula the check tests, with the shape of every term (self-study hint 2)."
    code = ["LogisticRegression.fit"]   # optional: the reference code hint 3 shows (default: what the test calls)

    [test_one_step_update.mistakes.sign_flipped]
    message = "One sentence naming the mistake."
    hint = "Where to look: the formula that is right."
    name = "The update moves uphill"   # optional: the mistake's name without its fix (default: from message)
    question = "..."                   # optional: a question for this mistake, instead of the check's

The hidden tests raise these by id (`Check.fail("sign_flipped")`); the
feedback report, the self-study summary and the class report look the same
ids up here.  Nothing is parsed out of tracebacks.

The kit's own notebooks keep their files here, in the package. A notebook an
instructor adds (`mlkit new`) keeps its file beside it, as
`source/<assignment>/diagnostics.toml`; nbgrader copies it with the notebook
into the release and into every folder a notebook is graded in (where the
checks find it, in the folder they run in), and the reports find it under the
course's `source/`.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


# Where a diagnosis stops naming the mistake and starts explaining it or saying what is right.
_NAME_ENDS = re.compile(r"(?<=\S)(?:: | ?; | \(|, so | instead of | rather than |, not |, but )")


@dataclass(frozen=True)
class Mistake:
    id: str
    message: str
    hint: str
    name: str = ""        # the mistake named without its fix; empty: the message's first clause
    question: str = ""    # a question pointing at the idea, for this mistake (empty: the check's)

    @property
    def short_name(self) -> str:
        """What self-study shows before any hint: the mistake's name, never its fix."""
        if self.name:
            return self.name
        return _NAME_ENDS.split(self.message, maxsplit=1)[0].rstrip(" .")


@dataclass(frozen=True)
class CheckHelp:
    """The self-study hint ladder's content for one graded test cell."""
    question: str         # points at the idea the check tests, without giving it away
    formula: str          # the formula with the shape of every term
    code: tuple[str, ...]  # "Class.method" or "function" names whose reference lines hint 3 shows; () = automatic


FILE_NAME = "diagnostics.toml"  # beside a course's own notebook


def path_for(assignment: str, course: Path | None = None) -> Path | None:
    """The diagnostics file of `assignment`: the kit's, or the one beside the notebook (in the folder a
    notebook runs in, or under the course's source/); None if there is none."""
    candidates = [HERE / f"{assignment}.toml"]
    for folder in ([Path(course)] if course is not None else []) + [Path.cwd()]:
        candidates += [folder / "source" / assignment / FILE_NAME]
        if folder.name == assignment:
            candidates.append(folder / FILE_NAME)
    return next((p for p in candidates if p.is_file()), None)


def catalog(assignment: str, course: Path | None = None) -> dict[str, dict[str, Mistake]]:
    """{test grade_id: {mistake id: Mistake}} for one assignment ({} if none declared)."""
    return _read(path_for(assignment, course))


@functools.cache
def _raw(path: Path | None) -> dict:
    if path is None:
        return {}
    with path.open("rb") as handle:
        return tomllib.load(handle)


@functools.cache
def _read(path: Path | None) -> dict[str, dict[str, Mistake]]:
    return {
        test_id: {
            mistake_id: Mistake(mistake_id, entry["message"], entry.get("hint", ""), entry.get("name", ""),
                                entry.get("question", ""))
            for mistake_id, entry in table.get("mistakes", {}).items()
        }
        for test_id, table in _raw(path).items()
    }


def check_help(assignment: str, test_id: str, course: Path | None = None) -> CheckHelp | None:
    """The hint ladder's question, formula and code names for one test cell (None if none declared)."""
    table = _raw(path_for(assignment, course)).get(test_id, {})
    if not table.get("question") or not table.get("formula"):
        return None
    return CheckHelp(table["question"], table["formula"], tuple(table.get("code", ())))


def mistakes_for(assignment: str, test_id: str, course: Path | None = None) -> dict[str, Mistake]:
    return catalog(assignment, course).get(test_id, {})


def assignments() -> list[str]:
    return sorted(path.stem for path in HERE.glob("*.toml"))
