"""The mistakes each graded test cell can recognise, declared as data.

One TOML file per assignment, `<assignment>.toml`, with one table per graded
test cell (keyed by its nbgrader `grade_id`) and, under it, one table per
recognisable mistake:

    [test_one_step_update.mistakes.sign_flipped]
    message = "One sentence naming the mistake."
    hint = "Where to look: the formula that is right."

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
import tomllib
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Mistake:
    id: str
    message: str
    hint: str


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
def _read(path: Path | None) -> dict[str, dict[str, Mistake]]:
    if path is None:
        return {}
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    return {
        test_id: {
            mistake_id: Mistake(mistake_id, entry["message"], entry.get("hint", ""))
            for mistake_id, entry in table.get("mistakes", {}).items()
        }
        for test_id, table in raw.items()
    }


def mistakes_for(assignment: str, test_id: str, course: Path | None = None) -> dict[str, Mistake]:
    return catalog(assignment, course).get(test_id, {})


def assignments() -> list[str]:
    return sorted(path.stem for path in HERE.glob("*.toml"))
