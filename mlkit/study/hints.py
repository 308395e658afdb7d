"""The self-study hint ladder for one failed check: `mlkit hint [ALGORITHM] [--check ID] [--give-up]`.

A failed selfgrade shows only what failed, the points and the diagnosed
mistake's name.  Each call then reveals the next step for one failed check of
the latest attempt (the first, or the one named), each step once:
1. a question that points at the idea the check tests (the diagnosed
   mistake's own question where it has one), from `mlkit/diagnostics`;
2. the formula the check tests, with the shape of every term;
3. the reference lines of that check's code only: the solution lines inside
   the functions and methods the check's test cell calls (or those the
   diagnostics name);
after which it says plainly that nothing is left.  `--give-up` shows the
model 60-second answer before full marks, and is recorded like a hint.

Every reveal is recorded (`pending_hints` in the history) and counts against
the next graded attempt of that algorithm: its FSRS rating drops one step per
reveal (`mlkit.study.schedule.rating`), and mastery 4 and 5 accept no hint
beyond the first step (`mlkit.study.schedule.mastery`).  The steps shown for
a check are counted since the algorithm's last full marks, so a step is never
shown twice while the learner works towards them.
"""

from __future__ import annotations

import ast
import datetime as dt
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

from mlkit import diagnostics, layout, nbcells, nbgrader_startup
from mlkit.study import history as histories

if TYPE_CHECKING:
    from mlkit.reports import results

STEPS = 3
TITLES = {1: "a question", 2: "the formula with shapes", 3: "the reference lines of this check's code"}


class HintError(Exception):
    """Nothing to hint at (no attempt, no failed check), said in one line."""


def _cells(assignment: str, folder: str):
    return nbformat.read(layout.notebook_path(assignment, folder), as_version=4).cells


def _grade_id(cell) -> str | None:
    return nbcells.grade_id(cell)


def _used_names(test_source: str) -> set[str]:
    """The names and attribute names a test cell's code uses (its hidden part included)."""
    tree = ast.parse(nbcells.strip_solution_markers(test_source) or "pass")
    return {node.id if isinstance(node, ast.Name) else node.attr for node in ast.walk(tree)
            if isinstance(node, (ast.Name, ast.Attribute))}


def _definitions(tree: ast.Module):
    """(qualified name, node) of every top-level function, class and method of a parsed answer cell."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, node
        elif isinstance(node, ast.ClassDef):
            for member in node.body:
                if isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield f"{node.name}.{member.name}", member


def _solution_lines(lines: list[str], node) -> list[str]:
    """The lines between the solution markers inside one definition (a "..." between two blocks)."""
    begin, end = nbcells.SOLUTION_MARKERS
    kept, inside = [], False
    for line in lines[node.lineno - 1:node.end_lineno]:
        if line.strip() == begin:
            inside = True
        elif line.strip() == end:
            inside = False
            kept.append("...")
        elif inside:
            kept.append(line)
    return kept[:-1] if kept[-1:] == ["..."] else kept  # after the last block: the learner's scaffold


def _self_calls(node) -> set[str]:
    """The methods a method calls on self."""
    return {n.func.attr for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
            and isinstance(n.func.value, ast.Name) and n.func.value.id == "self"}


def _exercised(definitions: dict, used: set[str]) -> list[str]:
    """The definitions (qualified names) a test that uses the names `used` exercises: the functions and
    methods it calls, of the classes it builds when it builds any; the constructor only when nothing else is
    called; when none of those holds solution lines, the methods they call on self, one level at a time."""
    classes = {q.rpartition(".")[0] for q in definitions if "." in q}
    built = classes & used or classes
    called = [q for q in definitions if q.rpartition(".")[2] in used and q.rpartition(".")[2] != "__init__"
              and (q.rpartition(".")[0] in built or "." not in q)]
    if not called:
        return [q for q in definitions if q.endswith(".__init__") and q.rpartition(".")[0] in used]
    chosen, frontier = list(called), list(called)
    while frontier and not any(definitions[q][1] for q in chosen):
        nxt = [f"{q.rpartition('.')[0]}.{m}" for q in frontier for m in _self_calls(definitions[q][0])]
        frontier = [q for q in dict.fromkeys(nxt) if q in definitions and q not in chosen]
        chosen += frontier
    return chosen


def reference_lines(assignment: str, check: str, code: tuple[str, ...] = ()) -> str:
    """The reference solution's lines inside the functions and methods the test cell `check` exercises (or
    those named in `code`), each under its `def` line; "" if that code has no solution lines."""
    cells = _cells(assignment, "source")
    test = next((c.source for c in cells if _grade_id(c) == check), "")
    definitions = {}  # qualified name -> (node, its solution lines, its def line)
    for cell in cells:
        meta = nbcells.nbgrader_metadata(cell)
        if cell.cell_type == "code" and meta.get("solution"):
            lines = cell.source.splitlines()
            for qualified, node in _definitions(ast.parse(cell.source)):
                definitions[qualified] = (node, _solution_lines(lines, node), lines[node.lineno - 1])
    chosen = [q for q in definitions if q in code] if code else _exercised(definitions, _used_names(test))
    shown: list[str] = []
    for qualified in chosen:
        _, kept, header = definitions[qualified]
        if kept:
            shown += [f"# {qualified}", textwrap.dedent("\n".join([header, *kept])).rstrip(), ""]
    return "\n".join(shown).rstrip()


def failed_checks(workspace: Path, assignment: str) -> list[results.CheckResult]:
    """The failed checks of the latest graded attempt (read from its autograded notebook)."""
    graded = next((workspace / "autograded" / histories.LEARNER / assignment).glob("*.ipynb"), None)
    if graded is None:
        return []
    from mlkit.reports import results  # imports nbgrader: only when there is an attempt to read

    return [c for c in results.check_results(nbformat.read(graded, as_version=4), assignment) if not c.passed]


def revealed_since_full_marks(record: histories.History, assignment: str) -> list[dict]:
    """The hints of `assignment` revealed since its last full marks (those pending included)."""
    attempts = record.of(assignment)
    last_perfect = max((i for i, a in enumerate(attempts) if a.perfect), default=-1)
    since = [hint for a in attempts[last_perfect + 1:] for hint in a.hints]
    return since + record.pending_hints.get(assignment, [])


def step_text(assignment: str, check: results.CheckResult, step: int) -> str:
    """The text of hint `step` (1-3) for a failed check; the diagnostics' content, or a plain statement that
    the check has none."""
    help_ = diagnostics.check_help(assignment, check.test_id)
    mistake = diagnostics.mistakes_for(assignment, check.test_id).get(check.mistake) if check.mistake else None
    if step == 1:
        if mistake is not None and mistake.question:
            return mistake.question
        return help_.question if help_ else f"What must hold for this check to pass: {check.description}?"
    if step == 2:
        return help_.formula if help_ else "(this check has no formula written down)"
    lines = reference_lines(assignment, check.test_id, help_.code if help_ else ())
    return lines or "(this check's code has no lines of the reference solution: it is the scaffold you were given)"


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def reveal(workspace: Path, assignment: str | None = None, check: str | None = None) -> tuple[str, int | None, str]:
    """(check, step, text) of the next hint for one failed check, recorded; step None: nothing is left."""
    record = histories.load(workspace)
    if not record.attempts:
        raise HintError("no graded attempt yet: grade one with mlkit selfgrade first")
    assignment = assignment or record.attempts[-1].assignment
    failed = failed_checks(workspace, assignment)
    if check is None:
        if not failed:
            raise HintError(f"the latest attempt of {assignment} failed no check")
        chosen = failed[0]
    else:
        chosen = next((c for c in failed if c.test_id == check), None)
        if chosen is None:
            raise HintError(f"{check!r} is not a failed check of the latest attempt of {assignment} "
                            f"(failed: {', '.join(c.test_id for c in failed) or 'none'})")
    shown = {h.get("step") for h in revealed_since_full_marks(record, assignment) if h.get("check") == chosen.test_id}
    step = next((s for s in range(1, STEPS + 1) if s not in shown), None)
    if step is None:
        return chosen.test_id, None, ""
    text = step_text(assignment, chosen, step)
    record.pending_hints.setdefault(assignment, []).append({"check": chosen.test_id, "step": step, "when": _now()})
    histories.save(workspace, record)
    return chosen.test_id, step, text


def give_up(workspace: Path, assignment: str | None = None) -> tuple[str, str]:
    """(assignment, model 60-second answer), the give-up recorded against the next attempt."""
    from mlkit.study import rating

    record = histories.load(workspace)
    if assignment is None:
        if not record.attempts:
            raise HintError("no graded attempt yet: name the algorithm (mlkit hint ALGORITHM --give-up)")
        assignment = record.attempts[-1].assignment
    record.pending_hints.setdefault(assignment, []).append(
        {"check": None, "step": histories.GIVE_UP, "when": _now()})
    histories.save(workspace, record)
    return assignment, rating.model_explanation(assignment)


def command(args) -> int:
    """`mlkit hint` (arguments: see mlkit.cli); the exit status."""
    nbgrader_startup.without_server_extensions()  # this process starts no Jupyter server
    return run(args.algorithm, args.check, args.workspace, args.give_up)


def run(assignment: str | None, check: str | None, workspace: str | None, giving_up: bool = False) -> int:
    """The next hint (or, `giving_up`, the model answer) for `assignment` (None: the latest attempt's) and
    `check` (None: its first failed check) in the workspace `workspace` (None: the default); the exit status."""
    import sys

    from mlkit import invocation
    from mlkit.study.practice import PracticeError, resolve_assignment

    space = histories.default_workspace(workspace)
    extra = histories.workspace_option(space)
    try:
        name = resolve_assignment(assignment) if assignment else None
        if giving_up:
            name, model = give_up(space, name)
            print(f"You gave up on {name} before full marks (recorded: this try counts for no mastery above 3).")
            print("The model 60-second answer:\n")
            print(textwrap.indent(textwrap.fill(" ".join(model.split()), 100), "  "))
            return 0
        test_id, step, text = reveal(space, name, check)
    except (HintError, PracticeError) as error:
        print(f"mlkit hint: {error}", file=sys.stderr)
        return 2
    if step is None:
        name = name or histories.load(space).attempts[-1].assignment
        print(f"Nothing is left for {test_id}: you have seen its question, its formula and its reference lines.")
        # Without --check the ladder stays on the first failed check; the others' hints are asked for by name.
        others = [c.test_id for c in failed_checks(space, name) if c.test_id != test_id]
        if others:
            print("Other failed checks of this attempt have hints of their own:")
            for other in others:
                print(f"  {invocation.command('hint', name, '--check', other, *extra)}")
        print("Fix your code and grade it again, or ask for the model answer (recorded as giving up):")
        print(f"  {invocation.command('hint', name, '--give-up', *extra)}")
        return 0
    print(f"Hint {step} of {STEPS} for {test_id} ({TITLES[step]}); it lowers the rating of your next attempt:\n")
    print(textwrap.indent(text, "  "))
    return 0
