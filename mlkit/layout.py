"""Where the course's files are: the kit's own course, its assignments and their notebooks.

Every workflow (authoring, grading, study, reports) finds a course's notebooks through this module, and it
imports none of them: it is the ground floor, with `mlkit.nbcells` (what a notebook's cells are).

A course folder (the kit's own, or one `mlkit init` made) holds:

    nbgrader_config.py
    source/<assignment>/<notebook>.ipynb     the instructor's notebooks, with solutions and hidden tests
    release/<assignment>/<notebook>.ipynb    what students receive (nbgrader generate_assignment)
    catalog/<assignment>/                    alternatives and mistakes (mlkit.authoring.catalog)

An assignment is named by its folder, two digits, an underscore and a name: `01_linear_regression`.
"""

from __future__ import annotations

from pathlib import Path

from mlkit.invocation import CommandRefused

_CHECKOUT = Path(__file__).resolve().parents[1]  # mlkit/ -> the repository
# The kit's own course: the repository's root in a checkout (or an editable install), else the copy the
# wheel carries (setup.py puts it in mlkit/course_files/).
ROOT = _CHECKOUT if (_CHECKOUT / "source").is_dir() and (_CHECKOUT / "nbgrader_config.py").is_file() \
    else _CHECKOUT / "mlkit" / "course_files"
CATALOG = ROOT / "catalog"


def assignments(root: Path = ROOT) -> list[str]:
    """The assignment folders of `root`'s source/ that hold a notebook, in course order (by name)."""
    return sorted(p.name for p in (root / "source").iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


class UnknownAssignment(CommandRefused, ValueError):
    """A name that is no assignment of the course; the message names the ones it has."""


def resolve_assignment(name: str, root: Path = ROOT) -> str:
    """An assignment of `root` from its full name, its number or a part of its name ("01", "linear_regression",
    "knn"); raises UnknownAssignment when none or several match."""
    names = assignments(root)
    if name in names:
        return name
    found = [a for a in names if a.split("_", 1)[0] == name or a.split("_", 1)[-1] == name]
    found = found or [a for a in names if a.startswith(name) or name.lower() in a.lower()]
    if len(found) == 1:
        return found[0]
    if not found:
        raise UnknownAssignment(f"no assignment {name!r}; the course has {', '.join(names) or 'none'}")
    raise UnknownAssignment(f"{name!r} could be {', '.join(found)}")


def resolve_assignments(names: list[str], root: Path = ROOT) -> list[str]:
    """Each of `names` resolved as `resolve_assignment` does (the empty list for none)."""
    return [resolve_assignment(name, root) for name in names]


def notebook_path(assignment: str, folder: str = "source", root: Path = ROOT) -> Path:
    """The one notebook of `assignment` in `root`/`folder` (source, release, ...); an error if not exactly one."""
    (path,) = (root / folder / assignment).glob("*.ipynb")
    return path
