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


@functools.cache
def catalog(assignment: str) -> dict[str, dict[str, Mistake]]:
    """{test grade_id: {mistake id: Mistake}} for one assignment ({} if none declared)."""
    path = HERE / f"{assignment}.toml"
    if not path.exists():
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


def mistakes_for(assignment: str, test_id: str) -> dict[str, Mistake]:
    return catalog(assignment).get(test_id, {})


def assignments() -> list[str]:
    return sorted(path.stem for path in HERE.glob("*.toml"))
