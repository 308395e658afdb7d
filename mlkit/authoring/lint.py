"""`mlkit lint [ASSIGNMENT ...]`: a source notebook checked the way the kit relies on it.

Each finding names the notebook, the cell (its grade_id, or its position) and what to change:

- the seven sections, in order: `## 1. What you will build`, `## 2. The derivation`, `## 3. Your implementation`,
  `## 4. Tests`, `## 5. A picture`, `## 6. Real data...`, `## 7. Explain it in 60 seconds`;
- solution regions (`### BEGIN SOLUTION` .. `### END SOLUTION`) only in answer cells, opened and closed in turn;
  every answer cell has one;
- hidden-test regions (`### BEGIN HIDDEN TESTS` .. `### END HIDDEN TESTS`) only in graded test cells, opened and
  closed in turn;
- every graded cell has a grade id and points; every graded test cell opens with one comment sentence saying what
  it checks (`# Checks ...`) and names its own assignment and grade id in `Check("<assignment>", "<grade id>")`;
- the diagnostics file names only graded test cells that exist, and every mistake it declares is named by the hidden
  test of that cell (`check.fail("id")`, `mistakes={"id": ...}`, `shape_errors("id")`, `mistake="id"`);
- the release, if built, carries no solution or hidden-test line of the source;
- where SPEC.md (the course's, else the kit's) has a section for the assignment, every name it lists is defined at
  in an answer cell (a function, a class, or a method of one);
- no hidden demand a student cannot see: a hidden region that requires a dtype kind (`check.ndarray(..., kind=)`)
  or a type or container (`type(x) is T`, `isinstance(x, T)` in a `check.that`) of something no visible test
  checks it of (matched by the first name in the check's label or message) is reported: show the demand in a
  visible test (and SPEC.md), or check only values;
- the reference solution (the answer cells without their markers) gets full points from the notebook's own
  tests, hidden ones included, run by the fast runner of `mlkit mutate`: every test cell it fails is reported
  with the failure's message.

Errors make the exit status 1. The kit's own ten notebooks pass, and CI runs `mlkit lint` on them.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import nbformat

from mlkit import diagnostics, layout, nbcells
from mlkit.authoring import mutation

SECTIONS = ["What you will build", "The derivation", "Your implementation", "Tests", "A picture", "Real data",
            "Explain it in 60 seconds"]
SOLUTION = nbcells.SOLUTION_MARKERS
HIDDEN = nbcells.HIDDEN_TEST_MARKERS
QUOTED = re.compile(r"""["'](\w+)["']""")


@dataclass(frozen=True)
class Finding:
    notebook: str
    cell: str
    message: str

    def __str__(self) -> str:
        return f"{self.notebook} [{self.cell}]: {self.message}"


def _regions(source: str, markers: tuple[str, str]) -> tuple[int, str | None]:
    """(how many regions, what is wrong with them or None)."""
    inside, count = False, 0
    for number, line in enumerate(source.splitlines(), 1):
        mark = line.strip()
        if mark == markers[0]:
            if inside:
                return count, f"line {number} opens `{markers[0]}` inside a region that is still open"
            inside, count = True, count + 1
        elif mark == markers[1]:
            if not inside:
                return count, f"line {number} closes `{markers[1]}` without an open region"
            inside = False
    return count, f"a `{markers[0]}` region is never closed (add `{markers[1]}`)" if inside else None


def _cell_name(cell, index: int) -> str:
    return nbcells.grade_id(cell) or f"cell {index + 1}"


def _sections(nb, say) -> None:
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            heading = re.match(r"^##\s+(\d+)\.\s+(.*)$", line.strip())
            if heading:
                found.append((int(heading[1]), heading[2], _cell_name(cell, index)))
    numbers = [n for n, _, _ in found]
    if numbers != list(range(1, 8)):
        say("notebook", f"the sections must be `## 1.` .. `## 7.` in order, one each; found {numbers or 'none'} "
                        f"({', '.join(f'{i}. {name}' for i, name in enumerate(SECTIONS, 1))})")
    for number, title, cell in found:
        if 1 <= number <= 7 and not title.startswith(SECTIONS[number - 1]):
            say(cell, f"section {number} must be titled `{SECTIONS[number - 1]}...`, not `{title}`")


def spec_names(spec: Path, assignment: str) -> list[str] | None:
    """The top-level names SPEC.md lists for `assignment` (None: SPEC has no section for it)."""
    if not spec.is_file():
        return None
    text = spec.read_text()
    start = re.search(rf"^## {re.escape(assignment)}\b.*$", text, re.M)
    if not start:
        return None
    end = re.search(r"^## ", text[start.end():], re.M)
    section = text[start.end(): start.end() + end.start() if end else len(text)]
    names = []
    for match in re.finditer(r"^- `([A-Za-z_]\w*)", section, re.M):
        if match[1] not in names:
            names.append(match[1])
    return names


def _named_mistakes(source: str) -> set[str]:
    """Every string the cell's code holds: a mistake is named by its id, in a call, a dict or a list."""
    try:
        tree = ast.parse(nbcells.strip_solution_markers(source))
    except SyntaxError:
        return set(QUOTED.findall(source))
    return {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def lint_notebook(root: Path, assignment: str) -> list[Finding]:
    """Every finding for one assignment of the course in `root`."""
    try:
        path = layout.notebook_path(assignment, root=root)
    except ValueError:
        return [Finding(f"source/{assignment}", "notebook", "needs exactly one .ipynb notebook")]
    shown = path.relative_to(root).as_posix()
    findings: list[Finding] = []

    def say(cell: str, message: str) -> None:
        findings.append(Finding(shown, cell, message))

    nb = nbformat.read(path, as_version=4)
    _sections(nb, say)
    tests: dict[str, str] = {}
    answers = []
    for index, cell in enumerate(nb.cells):
        name = _cell_name(cell, index)
        try:
            kind = nbcells.kind_of(cell)
        except ValueError as odd:
            say(name, f"nbgrader metadata of no kind the kit knows: {odd}")
            continue
        solutions, wrong = _regions(cell.source, SOLUTION)
        hidden, wrong_hidden = _regions(cell.source, HIDDEN)
        meta = nbcells.nbgrader_metadata(cell)
        if kind == "answer":
            answers.append(cell)
            if wrong:
                say(name, wrong)
            elif not solutions:
                say(name, "an answer cell needs a `### BEGIN SOLUTION` .. `### END SOLUTION` region around the lines "
                          "students write")
        elif solutions and kind != "manual":
            say(name, f"a solution region outside an answer cell (this is a {kind} cell): students would see it "
                      "stripped without a place to answer, or not stripped at all")
        if kind == "tests":
            tests[name] = cell.source
            if wrong_hidden:
                say(name, wrong_hidden)
            first = cell.source.lstrip().splitlines()[0] if cell.source.strip() else ""
            if not re.match(r"^#\s+\S.*\.$", first):
                say(name, "a graded test cell opens with one comment sentence saying what it checks "
                          "(`# Checks that ... .`)")
            for checked_assignment, checked_id in re.findall(r"""Check\(\s*["']([^"']+)["']\s*,\s*["']([^"']+)["']""",
                                                            cell.source):
                if (checked_assignment, checked_id) != (assignment, name):
                    say(name, f'Check("{checked_assignment}", "{checked_id}") must name this cell: '
                              f'Check("{assignment}", "{name}")')
        elif hidden:
            say(name, f"a hidden-test region outside a graded test cell (this is a {kind} cell)")
        if meta.get("grade"):
            if not meta.get("grade_id"):
                say(name, "a graded cell needs a grade_id")
            if not isinstance(meta.get("points"), (int, float)) or meta.get("points", 0) <= 0:
                say(name, "a graded cell needs its points (a positive number)")
    _diagnostics(root, assignment, tests, say)
    _release(root, assignment, nb, say)
    _spec(root, assignment, answers, say)
    _hidden_demands(tests, say)
    _reference(root, assignment, say)
    return findings


def _reference(root: Path, assignment: str, say) -> None:
    for test_id, why in mutation.reference_failures(assignment, root):
        say(test_id, f"the reference solution loses this cell's points in its own tests: {why}")


def _split_hidden(source: str) -> tuple[str, str]:
    """(the visible lines, the hidden lines) of a test cell, each as code (lines elsewhere left blank)."""
    visible, hidden, inside = [], [], False
    for line in source.splitlines():
        mark = line.strip()
        if mark in HIDDEN:
            inside = mark == HIDDEN[0]
            line = ""
        (hidden if inside else visible).append(line)
        (visible if inside else hidden).append("")
    return "\n".join(visible), "\n".join(hidden)


_NOT_A_SUBJECT = {"the", "each", "a", "an", "entry", "returned", "of", "after", "for", "with"}


def _subject(node: ast.AST | None) -> str:
    """What a demand is about, as one word: the first name in a check's label or message ("_relu_grad(z)" ->
    "_relu_grad", "each loss_history entry" -> "loss_history"); "" when it is no string literal."""
    if isinstance(node, (ast.Constant, ast.JoinedStr)):
        text = node.value if isinstance(node, ast.Constant) else " ".join(
            part.value for part in node.values if isinstance(part, ast.Constant))
        words = [w for w in re.findall(r"[A-Za-z_]\w*", str(text)) if w.lower() not in _NOT_A_SUBJECT]
        return words[0] if words else ""
    return ""


def _subject_of(checked: ast.AST, message: ast.AST | None) -> str:
    """What a type demand is about: the attribute or key checked (m.grads -> "grads", out["scores"] -> "scores"),
    else the first name of the check's message."""
    if isinstance(checked, ast.Attribute):
        return checked.attr
    if isinstance(checked, ast.Subscript) and isinstance(checked.slice, ast.Constant):
        return str(checked.slice.value)
    return _subject(message)


def _demands(code: str, explicit_only: bool) -> dict[tuple[str, str, str], int]:
    """{(what is demanded, its value, of what): a line number} for the dtype and type demands in `code`:
    `check.ndarray(value, label, kind=K)` (of what: `_subject(label)`), and `type(x) is T` or `isinstance(x, T)`
    in the condition of `check.that(condition, message)` (of what: `_subject_of(x, message)`). A label or
    message that is no string literal leaves "of what" open ("").

    A `check.ndarray` without `kind=` demands a float dtype; `explicit_only` leaves those out (in a hidden
    region they are what `check.ndarray` always checks, as the README says and the visible tests show).
    Float scalars (`check.real_float`) are SPEC's general rule, and not listed."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return {}
    found: dict[tuple[str, str, str], int] = {}

    def add(demand, line):
        found.setdefault(demand, line)

    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args):
            continue
        label = node.args[1] if len(node.args) > 1 else None
        if node.func.attr == "ndarray":
            kind = next((k.value for k in node.keywords if k.arg == "kind"), None)
            value = kind.value if isinstance(kind, ast.Constant) else "f"
            if (kind is not None or not explicit_only) and not set("fiub") <= set(str(value)):
                add(("a dtype of kind", str(value), _subject(label)), node.lineno)  # every kind accepted: none
        elif node.func.attr == "that":
            for inner in ast.walk(node.args[0]):
                if isinstance(inner, ast.Call) and getattr(inner.func, "id", None) == "isinstance" \
                        and len(inner.args) == 2:
                    add(("the type", ast.unparse(inner.args[1]), _subject_of(inner.args[0], label)), inner.lineno)
                elif isinstance(inner, ast.Compare) and isinstance(inner.left, ast.Call) and inner.left.args \
                        and getattr(inner.left.func, "id", None) == "type" and isinstance(inner.ops[0], ast.Is):
                    add(("the type", ast.unparse(inner.comparators[0]), _subject_of(inner.left.args[0], label)),
                        inner.lineno)
    return found


def _hidden_demands(tests: dict[str, str], say) -> None:
    """Every hidden demand (`_demands`) on a subject that no visible part of the notebook's test cells shows."""
    split = {test_id: _split_hidden(nbcells.strip_solution_markers(source)) for test_id, source in tests.items()}
    shown = set().union(*(_demands(visible, explicit_only=False) for visible, _ in split.values())) if split else set()
    for test_id, (_, hidden) in split.items():
        for (what, value, subject), line in sorted(_demands(hidden, explicit_only=True).items(),
                                                   key=lambda item: item[1]):
            if (what, value, subject) not in shown and not (subject == "" and any(
                    (w, v) == (what, value) for w, v, _ in shown)):
                said = f"{what} {value}" if value else what
                say(test_id, f"line {line} of the cell (hidden tests) demands {said} of `{subject}`, which no "
                             "visible test checks: a correct answer of another type would lose points it cannot see "
                             "coming; check values only, or show the demand in a visible test (and SPEC.md)")


def _diagnostics(root: Path, assignment: str, tests: dict[str, str], say) -> None:
    path = diagnostics.path_for(assignment, root)
    if path is None:
        return
    try:
        with path.open("rb") as handle:
            declared = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        say("diagnostics", f"{path.name} cannot be read: {error}")
        return
    for test_id, table in declared.items():
        if test_id not in tests:
            say(test_id, f"{path.name} declares mistakes for `{test_id}`, which is no graded test cell of the notebook")
            continue
        named = _named_mistakes(tests[test_id])
        for mistake in table.get("mistakes", {}):
            entry = table["mistakes"][mistake]
            if not isinstance(entry, dict) or not str(entry.get("message", "")).strip():
                say(test_id, f"{path.name}: mistake `{mistake}` needs a message")
            if mistake not in named:
                say(test_id, f"{path.name} declares mistake `{mistake}`, which no test in this cell names "
                             f'(check.fail("{mistake}") or mistakes={{"{mistake}": ...}}): unreachable')


def _release(root: Path, assignment: str, source_nb, say) -> None:
    released = list((root / "release" / assignment).glob("*.ipynb"))
    if not released:
        return
    secret, public = set(), set()
    for cell in source_nb.cells:
        inside = False
        for line in cell.source.splitlines():
            mark = line.strip()
            if mark in (SOLUTION[0], HIDDEN[0]):
                inside = True
            elif mark in (SOLUTION[1], HIDDEN[1]):
                inside = False
            elif inside:
                secret.add(mark)
            else:
                public.add(mark)
    # A line that also stands outside every region (a scaffold's `n, d = X.shape`) is no secret.
    secret = {line for line in secret - public if len(line) > 12 and not line.startswith("#")}
    for path in released:
        nb = nbformat.read(path, as_version=4)
        for index, cell in enumerate(nb.cells):
            lines = {line.strip() for line in cell.source.splitlines()}
            leaked = sorted(lines & secret) + sorted(m for m in (*SOLUTION, *HIDDEN) if m in lines)
            if leaked:
                say(_cell_name(cell, index), f"the release ({path.relative_to(root).as_posix()}) carries a line of "
                                             f"a solution or hidden test: {leaked[0][:80]!r}; rebuild it with "
                                             f"`mlkit release {assignment}`")


def _spec(root: Path, assignment: str, answers: list, say) -> None:
    spec = root / "SPEC.md" if (root / "SPEC.md").is_file() else layout.ROOT / "SPEC.md"
    names = spec_names(spec, assignment)
    if not names:
        return
    defined = set().union(*(nbcells.defined_names(cell.source, members=True) for cell in answers)) if answers else set()
    for name in names:
        if name not in defined:
            say("answers", f"SPEC.md lists `{name}` for {assignment}, but no answer cell defines it")


def lint(root: Path, assignments: list[str]) -> list[Finding]:
    """Every finding for `assignments`, in their order (one after the other: each grades its reference in a
    forked process, and forking from one thread only keeps that safe)."""
    return [finding for assignment in assignments for finding in lint_notebook(root, assignment)]


def command(args) -> int:
    """`mlkit lint [ASSIGNMENTS] [--course DIR]`: print every finding of the named notebooks (all by default);
    1 when there is any."""
    from mlkit import course

    root = course.find(args.course)
    names = layout.resolve_assignments(args.assignments, root) or layout.assignments(root)
    findings = lint(root, names)
    for finding in findings:
        print(finding)
    print(f"mlkit lint: {len(names)} notebook{'s' if len(names) != 1 else ''}, "
          f"{len(findings)} finding{'s' if len(findings) != 1 else ''}", file=sys.stderr)
    return 1 if findings else 0
