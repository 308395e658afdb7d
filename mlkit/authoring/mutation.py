"""Machine-made mutants of each notebook's reference solution, and what the hidden tests do with them.

A catalog of mistakes written by the people who wrote the tests shares their
blind spots; these mutants do not.  Every mutation point on any line of a
reference answer cell gives one mutant (a student can change every line of
an answer cell, the scaffold around the solution region included, not only
the lines inside `### BEGIN SOLUTION` .. `### END SOLUTION`): one small
change to the syntax tree, of one of these kinds (`OPERATORS`):

    arithmetic      + <-> -, * <-> /, // <-> /
    comparison      < <-> <=, > <-> >=, == <-> !=
    sign            a unary minus removed, or an assigned or returned value negated
    constant        an integer constant off by one (+1 and -1); a tiny float (an eps) made 1e6 times larger
    axis            axis=0 <-> axis=1, axis=-1 -> 0
    keyword         keepdims=True -> False, ddof=k -> k + 1, rcond=x -> None
    division        `a / b` -> `a` (a dropped `/ n`)
    function        max <-> min, argmax <-> argmin, maximum <-> minimum, sum <-> mean
    arguments       the two positional arguments of a call swapped
    statement       one statement of a block deleted
    transpose       `.T` removed; `.T` added to a matrix product's left operand

A mutant's id (`cell:line:column-end_line:end_column:operator:variant`) is
stable while the reference does not change, and names one mutant: the span
from the node's first to its last character tells apart nodes that start at
the same place (`2 * np.pi * v` holds `2 * np.pi` at the same column), and
two distinct nodes of one kind never share a span.  Mutants whose code
equals the reference after the change are *identical* and are reported, not
run.

Before any mutant counts, the reference itself must get full points from its
own hidden tests (`reference_failures`, which `mlkit lint` reports too): a
test the reference fails would "kill" every mutant and say nothing.  The
hand-written realistic mistakes of `catalog/<assignment>/mutants.toml` run
beside the machine-made ones (`named_mistakes`): each must lose points, and
the failing check must name the diagnosis the mistake declares.

`verdicts(assignment, answers)` runs a submission's answers and the source
notebook's test cells (hidden tests included) in a fresh forked process, in
the way nbgrader scores cells: a test cell passes when it raises nothing.
It is the fast path for the sweep (`mlkit mutate`, benchmarks/mutation_sweep.py);
a sample of every sweep is confirmed through the real `nbgrader autograde`
(`mlkit mutate --confirm N`, tests/test_mutation.py).

    mlkit mutate ASSIGNMENT [--confirm N] [--jobs N]

prints `mutation score: P%` (killed over non-equivalent), the reviewed
equivalents it left out with their reasons, the stale ones (matching no
mutant, or a killed one), the hand-written mistakes caught and named, and
every survivor as a short unified diff with its id: what the hidden tests
should catch next.  It prints no score when the reference loses points.
"""

from __future__ import annotations

import ast
import copy
import functools
import io
import json
import os
import select
import signal
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import nbformat

from mlkit import layout, nbcells
from mlkit.authoring import catalog

MUTANT_SECONDS = 30.0


@dataclass(frozen=True)
class GeneratedMutant:
    id: str
    cell: str
    operator: str
    description: str
    answers: dict


# -- where mutations may happen ------------------------------------------------------------------------


def _answer_lines(source: str) -> tuple[str, set[int]]:
    """The source without solution markers, and the (1-based) line numbers mutants may change: all of them."""
    kept = [line for line in source.splitlines() if line.strip() not in nbcells.SOLUTION_MARKERS]
    return "\n".join(kept) + "\n", set(range(1, len(kept) + 1))


# -- the operators -----------------------------------------------------------------------------------------


_BINOP_SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div}
_COMPARE_SWAPS = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
                  ast.NotEq: ast.Eq}
_FUNCTION_SWAPS = {"max": "min", "min": "max", "argmax": "argmin", "argmin": "argmax", "maximum": "minimum",
                   "minimum": "maximum", "sum": "mean", "mean": "sum", "amax": "amin", "amin": "amax"}


def _function_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    if isinstance(node.func, ast.Name):
        return node.func.id
    return None


class _Points(ast.NodeVisitor):
    """Collects (node path, operator, variant, description) for every mutation point in solution lines."""

    def __init__(self, lines: set[int]):
        self.lines = lines
        self.points: list[tuple[int, str, int, str, str]] = []   # (node index, op, variant, text, span)
        self.nodes: list[ast.AST] = []

    def _add(self, node, operator: str, variant: int, description: str) -> None:
        self.nodes.append(node)
        span = f"{node.lineno}:{node.col_offset}-{node.end_lineno}:{node.end_col_offset}"
        self.points.append((len(self.nodes) - 1, operator, variant, description, span))

    def _inside(self, node) -> bool:
        return getattr(node, "lineno", None) in self.lines

    def generic_visit(self, node):
        if self._inside(node):
            self._points_of(node)
        super().generic_visit(node)

    def _points_of(self, node) -> None:
        if isinstance(node, ast.BinOp):
            if type(node.op) in _BINOP_SWAPS:
                self._add(node, "arithmetic", 0, f"{type(node.op).__name__} -> {_BINOP_SWAPS[type(node.op)].__name__}")
            if isinstance(node.op, ast.Div):
                self._add(node, "division", 0, "a / b -> a")
            if isinstance(node.op, ast.MatMult):
                self._add(node, "transpose", 1, "left operand of @ transposed")
        elif isinstance(node, ast.Compare):
            for position, op in enumerate(node.ops):
                if type(op) in _COMPARE_SWAPS:
                    self._add(node, "comparison", position, f"{type(op).__name__} -> {_COMPARE_SWAPS[type(op)].__name__}")
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            self._add(node, "sign", 0, "unary minus removed")
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
            if type(node.value) is int:
                self._add(node, "constant", 1, f"{node.value} -> {node.value + 1}")
                self._add(node, "constant", -1, f"{node.value} -> {node.value - 1}")
            elif 0 < abs(node.value) < 1e-3:
                self._add(node, "constant", 0, f"{node.value!r} -> {node.value * 1e6!r}")
        elif isinstance(node, ast.Call):
            name = _function_name(node)
            if name in _FUNCTION_SWAPS:
                self._add(node, "function", 0, f"{name} -> {_FUNCTION_SWAPS[name]}")
            if len(node.args) == 2 and not any(isinstance(a, ast.Starred) for a in node.args):
                self._add(node, "arguments", 0, f"arguments of {name or 'a call'} swapped")
            for position, keyword in enumerate(node.keywords):
                value = keyword.value
                if keyword.arg == "axis" and isinstance(value, (ast.Constant, ast.UnaryOp)):
                    self._add(node, "axis", position, f"axis={ast.unparse(value)} changed")
                elif keyword.arg == "keepdims" and isinstance(value, ast.Constant) and value.value is True:
                    self._add(node, "keyword", position, "keepdims=True -> False")
                elif keyword.arg == "ddof" and isinstance(value, ast.Constant):
                    self._add(node, "keyword", position, f"ddof={value.value} -> {value.value + 1}")
                elif keyword.arg == "rcond" and not (isinstance(value, ast.Constant) and value.value is None):
                    self._add(node, "keyword", position, "rcond -> None")
        elif isinstance(node, ast.Attribute) and node.attr == "T":
            self._add(node, "transpose", 0, ".T removed")
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.Return)) and node.value is not None:
            self._add(node, "sign", 1, f"value on line {node.lineno} negated")
        docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
            and isinstance(node.value.value, str)  # deleting a docstring or a bare string changes nothing
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.Expr, ast.Return, ast.If, ast.For, ast.While,
                             ast.AnnAssign)) and not docstring:
            self._add(node, "statement", 0, f"statement on line {node.lineno} deleted")


class _Apply(ast.NodeTransformer):
    """Applies one mutation to the node it was found at (matched by identity in a deep copy)."""

    def __init__(self, target: ast.AST, operator: str, variant: int):
        self.target, self.operator, self.variant = target, operator, variant

    def visit(self, node):
        if node is not self.target:
            return super().visit(node)
        op, variant = self.operator, self.variant
        if op == "arithmetic":
            node.op = _BINOP_SWAPS[type(node.op)]()
        elif op == "division":
            return node.left
        elif op == "transpose" and variant == 1:
            node.left = ast.Attribute(value=node.left, attr="T", ctx=ast.Load())
        elif op == "transpose":
            return node.value
        elif op == "comparison":
            node.ops[variant] = _COMPARE_SWAPS[type(node.ops[variant])]()
        elif op == "sign" and variant == 0:
            return node.operand
        elif op == "sign":
            node.value = ast.UnaryOp(op=ast.USub(), operand=node.value)
        elif op == "constant":
            node.value = node.value + variant if variant else node.value * 1e6
        elif op == "function":
            name = _function_name(node)
            if isinstance(node.func, ast.Attribute):
                node.func.attr = _FUNCTION_SWAPS[name]
            else:
                node.func.id = _FUNCTION_SWAPS[name]
        elif op == "arguments":
            node.args = [node.args[1], node.args[0]]
        elif op == "axis":
            keyword = node.keywords[variant]
            current = ast.literal_eval(keyword.value)
            keyword.value = ast.Constant(value={0: 1, 1: 0}.get(current, 0))
        elif op == "keyword":
            keyword = node.keywords[variant]
            if keyword.arg == "keepdims":
                keyword.value = ast.Constant(value=False)
            elif keyword.arg == "ddof":
                keyword.value = ast.Constant(value=keyword.value.value + 1)
            else:
                keyword.value = ast.Constant(value=None)
        elif op == "statement":
            return ast.Pass()
        return node


def _mutate(tree: ast.Module, index: int, operator: str, variant: int, lines: set[int]) -> str:
    mutated = copy.deepcopy(tree)
    finder = _Points(lines)
    finder.visit(mutated)
    target = finder.nodes[index]
    mutated = _Apply(target, operator, variant).visit(mutated)
    ast.fix_missing_locations(mutated)
    return ast.unparse(mutated)


def generate(assignment: str, root: Path = layout.ROOT) -> tuple[list[GeneratedMutant], list[str]]:
    """Every mutant of the reference; returns (mutants to run, ids of mutants identical to the reference)."""
    nb = nbformat.read(layout.notebook_path(assignment, root=root), as_version=4)
    reference = catalog.reference_answers(assignment, root)
    mutants, identical, seen = [], [], set()
    for cell in nb.cells:
        if nbcells.kind_of(cell) != "answer":
            continue
        grade_id = nbcells.grade_id(cell)
        source, lines = _answer_lines(cell.source)
        tree = ast.parse(source)
        baseline = ast.unparse(tree)
        finder = _Points(lines)
        finder.visit(tree)
        for index, operator, variant, description, span in finder.points:
            mutant_id = f"{grade_id}:{span}:{operator}:{variant}"
            if mutant_id in seen:  # would let one verdict or one reviewed equivalence stand for two mutants
                raise RuntimeError(f"two mutants of {assignment} share the id {mutant_id}")
            seen.add(mutant_id)
            code = _mutate(tree, index, operator, variant, lines)
            if code == baseline:
                identical.append(mutant_id)
                continue
            mutants.append(GeneratedMutant(mutant_id, grade_id, operator, description,
                                           {**reference, grade_id: code}))
    return mutants, identical


# -- reviewed equivalents ------------------------------------------------------------------------------


def _equivalent_entries(assignment: str, root: Path) -> list[dict]:
    path = root / "catalog" / assignment / "equivalent_mutants.toml"
    if not path.exists():
        return []
    with path.open("rb") as handle:
        return tomllib.load(handle).get("equivalent", [])


def equivalents(assignment: str, root: Path = layout.ROOT) -> dict[str, str]:
    """Mutant id -> the reviewed one-line reason it cannot be told apart from the reference."""
    return {entry["id"]: entry["reason"] for entry in _equivalent_entries(assignment, root)}


def duplicate_equivalents(assignment: str, root: Path = layout.ROOT) -> list[str]:
    """Ids listed more than once in the reviewed equivalents (each entry is meant for one mutant)."""
    ids = [entry["id"] for entry in _equivalent_entries(assignment, root)]
    return sorted({i for i in ids if ids.count(i) > 1})


# -- the fast runner -----------------------------------------------------------------------------------


def _test_cells(assignment: str, root: Path) -> list[tuple[str, str]]:
    nb = nbformat.read(layout.notebook_path(assignment, root=root), as_version=4)
    return [(nbcells.grade_id(c), c.source) for c in nb.cells if nbcells.kind_of(c) == "tests"]


def _setup_cells(assignment: str, root: Path) -> list[str]:
    nb = nbformat.read(layout.notebook_path(assignment, root=root), as_version=4)
    return [c.source for c in nb.cells if nbcells.kind_of(c) == "code"]


def _answer_order(assignment: str, root: Path) -> list[str]:
    nb = nbformat.read(layout.notebook_path(assignment, root=root), as_version=4)
    return nbcells.answer_cell_ids(nb)


def _failure(error: BaseException) -> dict:
    """What a failed test cell said: the declared mistake it named (None if none) and its one-line message."""
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if not isinstance(error, AssertionError) or not message:
        message = f"{type(error).__name__}: {message}".rstrip(": ")
    return {"mistake": getattr(error, "mistake", None), "message": message[:300]}


def _run_here(setup: list[str], order: list[str], answers: dict, tests: list[tuple[str, str]]) -> dict:
    """Test id -> None (passed) or its failure (`_failure`), for one submission, in this process."""
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    namespace: dict = {"__name__": "__main__"}
    sys.stdout = sys.stderr = io.StringIO()
    for source in setup:
        exec(compile(source, "<setup>", "exec"), namespace)
    for grade_id in order:
        try:
            exec(compile(answers[grade_id], f"<{grade_id}>", "exec"), namespace)
        except BaseException:  # noqa: B036  an answer cell's error costs the tests that need it, as in nbgrader
            pass
    outcome = {}
    for test_id, source in tests:
        try:
            exec(compile(source, f"<{test_id}>", "exec"), namespace)
            outcome[test_id] = None
        except BaseException as error:  # noqa: B036
            outcome[test_id] = _failure(error)
    return outcome


@functools.cache
def _notebook_parts(assignment: str, root: Path) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """(setup cells, answer cell order, test cells) of the source notebook, read once per process."""
    return _setup_cells(assignment, root), _answer_order(assignment, root), _test_cells(assignment, root)


def outcomes(assignment: str, answers: dict, root: Path = layout.ROOT,
             seconds: float = MUTANT_SECONDS) -> dict[str, dict | None] | str:
    """Test id -> None (passed) or {"mistake": declared id or None, "message": one line}, for one submission
    run in a forked process; "timeout" or "crashed" if it did not finish."""
    setup, order, tests = _notebook_parts(assignment, Path(root))
    warm()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            # In the notebook's folder, as a kernel runs: its data files and its diagnostics are found there.
            os.chdir(root / "source" / assignment)
            result = json.dumps(_run_here(setup, order, answers, tests)).encode()
        except BaseException:  # noqa: B036
            result = b'"crashed"'
        with os.fdopen(write, "wb") as out:
            out.write(result)
        os._exit(0)
    os.close(write)
    chunks, deadline = [], time.monotonic() + seconds
    with os.fdopen(read, "rb") as pipe:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([pipe], [], [], remaining)[0]:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return "timeout"
            chunk = os.read(pipe.fileno(), 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    os.waitpid(pid, 0)
    try:
        return json.loads(b"".join(chunks) or b'"crashed"')
    except ValueError:
        return "crashed"


@functools.cache
def warm() -> None:
    """Import what every notebook's setup cell imports, once, before the first fork: each child then starts
    with it loaded (this keeps `mlkit lint`, which grades every reference, fast)."""
    import numpy  # noqa: F401

    import mlkit.checks  # noqa: F401


def verdicts(assignment: str, answers: dict, root: Path = layout.ROOT,
             seconds: float = MUTANT_SECONDS) -> dict[str, bool] | str:
    """Test id -> passed, for one submission, in a forked process; "timeout" or "crashed" if it did not finish."""
    found = outcomes(assignment, answers, root, seconds)
    return found if isinstance(found, str) else {test: failure is None for test, failure in found.items()}


def reference_failures(assignment: str, root: Path = layout.ROOT) -> list[tuple[str, str]]:
    """(test cell, why) for every test cell the notebook's own reference solution fails; [] at full points."""
    found = outcomes(assignment, catalog.reference_answers(assignment, root), root)
    if isinstance(found, str):
        why = f"did not finish within {MUTANT_SECONDS:g} s" if found == "timeout" else "crashed the test process"
        return [("notebook", f"running the reference solution and the tests {why}")]
    return [(test, failure["message"]) for test, failure in found.items() if failure is not None]


def killed(verdict) -> bool:
    return not isinstance(verdict, dict) or not all(verdict.values())


def sweep(assignment: str, root: Path = layout.ROOT, jobs: int = 1, progress: bool = False) -> dict:
    """Every generated mutant's verdict, the hand-written mistakes' results, and the summary row of the report.

    When the reference itself fails a test cell, nothing else runs: `reference_failures` lists why and
    `kill_rate` is None (a test the reference fails kills every mutant and proves nothing)."""
    failing = reference_failures(assignment, root)
    if failing:
        return {"assignment": assignment, "reference_failures": failing, "kill_rate": None}
    mutants, identical = generate(assignment, root)
    reviewed = equivalents(assignment, root)
    handwritten = catalog.mutants(assignment, root)
    runs = {m.id: m.answers for m in mutants}
    problems = {}
    reference = catalog.reference_answers(assignment, root)
    for mistake in handwritten:
        try:
            runs[f"catalog:{mistake.name}"] = mistake.apply(reference)
        except (KeyError, ValueError) as error:
            problems[mistake.name] = f"cannot be applied to the reference: {error}"
    found = _run_all(assignment, runs, root, jobs, progress)
    results = {m.id: _as_verdict(found[m.id]) for m in mutants}
    survived = [m.id for m in mutants if not killed(results[m.id])]
    equivalent = [i for i in survived if i in reviewed]
    unexplained = [i for i in survived if i not in reviewed]
    non_equivalent = len(mutants) - len(equivalent)
    kill_count = len(mutants) - len(survived)
    made = {m.id for m in mutants}
    return {
        "assignment": assignment,
        "reference_failures": [],
        "generated": len(mutants) + len(identical),
        "identical": len(identical),
        "killed": kill_count,
        "survived": len(unexplained),
        "equivalent": len(equivalent),
        "kill_rate": kill_count / non_equivalent if non_equivalent else 1.0,
        "survivors": unexplained,
        "equivalents": {i: reviewed[i] for i in sorted(equivalent)},  # left out of the score, with the reasons
        "stale_equivalents": {  # each listed entry must silence one surviving mutant
            "no longer made": sorted(set(reviewed) - made),
            "killed": sorted(i for i in set(reviewed) & made if killed(results[i])),
            "listed twice": duplicate_equivalents(assignment, root),
        },
        "named_mistakes": [_named(m, found.get(f"catalog:{m.name}"), problems.get(m.name)) for m in handwritten],
        "mutants": {m.id: m for m in mutants},
        "verdicts": results,
    }


def _as_verdict(found):
    return found if isinstance(found, str) else {test: failure is None for test, failure in found.items()}


def _named(mistake: catalog.Mutant, found, problem: str | None) -> dict:
    """One hand-written mistake's result: caught (it loses points) and named (a failing check says its diagnosis)."""
    failed = {} if found is None else {"notebook": found} if isinstance(found, str) else {
        test: failure for test, failure in found.items() if failure is not None}
    named = any(isinstance(f, dict) and f["mistake"] == mistake.diagnosis for f in failed.values()) \
        if mistake.diagnosis else False
    return {"name": mistake.name, "description": mistake.description, "diagnosis": mistake.diagnosis,
            "problem": problem, "caught": problem is None and bool(failed), "named": named,
            "failed": {test: f["message"] if isinstance(f, dict) else f"the run: {f}" for test, f in failed.items()}}


def mistake_findings(named_mistakes: list[dict]) -> list[str]:
    """One line per hand-written mistake the hidden tests miss, or catch without naming what it declares."""
    findings = []
    for entry in named_mistakes:
        if entry["problem"]:
            findings.append(f"{entry['name']}: {entry['problem']}")
        elif not entry["caught"]:
            findings.append(f"{entry['name']}: not caught, every check gives full points ({entry['description']})")
        elif not entry["diagnosis"]:
            findings.append(f"{entry['name']}: caught by {', '.join(entry['failed'])}, but it declares no "
                            "`diagnosis`, the mistake id its feedback should name")
        elif not entry["named"]:
            said = "; ".join(f"{test}: {message}" for test, message in entry["failed"].items())
            findings.append(f"{entry['name']}: caught but not named: no failing check names `{entry['diagnosis']}` "
                            f"(the feedback says {said})")
    return findings


def _run_all(assignment: str, runs: dict[str, dict], root: Path, jobs: int, progress: bool) -> dict:
    """{run id: outcomes} for submissions {run id: answers}, `jobs` at a time (each in a process of its own)."""
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    _notebook_parts(assignment, Path(root))  # read the notebook once, before the threads start
    with tqdm(total=len(runs), desc=f"mutants of {assignment}", unit="mutant", file=sys.stderr,
              disable=not progress, dynamic_ncols=True) as bar, ThreadPoolExecutor(max(1, jobs)) as pool:
        def one(item):
            run_id, answers = item
            found = outcomes(assignment, answers, root)
            bar.update()
            return run_id, found

        return dict(pool.map(one, runs.items()))


def autograde_verdicts(assignment: str, answers_by_id: dict[str, dict],
                       root: Path = layout.ROOT) -> dict[str, dict[str, bool] | str]:
    """The same verdicts, through the real `nbgrader autograde` of a scratch course (slow; for confirming)."""
    import tempfile

    from mlkit import course

    c = course.new_course(Path(tempfile.mkdtemp(prefix="mlkit-mutants-")) / "course", [assignment], root)
    course.nbgrader(c, "generate_assignment", assignment, "--force")
    students = {}
    for number, (mutant_id, answers) in enumerate(sorted(answers_by_id.items())):
        student = f"mutant{number:03d}"
        students[student] = mutant_id
        catalog.write_submission(c, student, assignment, catalog.submission_notebook(assignment, answers, root=c),
                                 root=c)
    course.nbgrader(c, "autograde", assignment, check=False)
    source = nbformat.read(layout.notebook_path(assignment, root=root), as_version=4)
    points = {nbcells.grade_id(cell): nbcells.nbgrader_metadata(cell)["points"]
              for cell in source.cells if nbcells.kind_of(cell) == "tests"}
    graded = course.gradebook(c)
    found: dict[str, dict[str, bool] | str] = {}
    for student, mutant_id in students.items():
        grade = graded.get(student, {}).get(assignment)
        found[mutant_id] = {t: grade.cells.get(t) == p for t, p in points.items()} if grade else "not graded"
    return found


def same_verdict(fast, real) -> bool:
    """Whether a fast verdict and an autograde verdict agree (a timeout or crash must lose points there)."""
    if isinstance(fast, dict):
        return fast == real
    return isinstance(real, dict) and not all(real.values())


def sample(ids: list[str], count: int, seed: str) -> list[str]:
    """A fixed pseudo-random sample of mutant ids (the same for the same ids and seed)."""
    import hashlib

    ranked = sorted(ids, key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).hexdigest())
    return sorted(ranked[:count])


def survivor_diff(mutant: GeneratedMutant, reference: dict[str, str]) -> str:
    """The mutant's change as a short unified diff of its answer cell (both sides as the parser prints them)."""
    import difflib

    before = ast.unparse(ast.parse(_answer_lines(reference[mutant.cell])[0])).splitlines()
    after = mutant.answers[mutant.cell].splitlines()
    lines = difflib.unified_diff(before, after, f"{mutant.cell} (reference)", f"{mutant.cell} ({mutant.id})",
                                 n=1, lineterm="")
    return "\n".join(lines)


def command(args) -> int:
    """`mlkit mutate ASSIGNMENT [--confirm N] [-j JOBS] [--course DIR]`: `main` on the course's notebook."""
    from mlkit import course

    root = course.find(args.course)
    return main(root, layout.resolve_assignment(args.assignment, root), args.confirm, args.jobs)


def main(root: Path, assignment: str, confirm: int = 0, jobs: int | None = None, progress: bool = True) -> int:
    """`mlkit mutate`: the mutation score of one notebook's hidden tests, the equivalents left out, the survivors,
    and the hand-written mistakes caught and named."""
    jobs = jobs or os.cpu_count() or 1
    try:
        result = sweep(assignment, root, jobs, progress)
    except tomllib.TOMLDecodeError as error:
        print(f"mlkit mutate: catalog/{assignment}/mutants.toml or equivalent_mutants.toml cannot be read: {error}",
              file=sys.stderr)
        return 2
    if result["reference_failures"]:
        print(f"{assignment}: no mutation score: the reference solution loses points in its own hidden tests, so "
              "every mutant would be \"killed\" by a test that fails correct code too:")
        for test, why in result["reference_failures"]:
            print(f"  {test}: {why}")
        print(f"Fix the reference or the test first (`mlkit lint {assignment}` reports the same).")
        return 1
    run = result["generated"] - result["identical"]
    print(f"{assignment}: {result['generated']} mutants of the answer cells ({result['identical']} identical to the "
          f"reference, not run); {result['killed']} killed, {result['equivalent']} equivalent, "
          f"{result['survived']} survived of {run}")
    print(f"mutation score: {100 * result['kill_rate']:.1f}% (killed over non-equivalent)")
    if result["equivalents"]:
        print(f"\nequivalent, left out of the score (catalog/{assignment}/equivalent_mutants.toml):")
        for mutant_id, reason in result["equivalents"].items():
            print(f"  {mutant_id}: {reason}")
    stale = {why: ids for why, ids in result["stale_equivalents"].items() if ids}
    for why, ids in stale.items():
        print(f"\nlisted in catalog/{assignment}/equivalent_mutants.toml but {why} (each entry must match one "
              "surviving mutant: remove or re-key it): " + ", ".join(ids))
    mistakes = result["named_mistakes"]
    findings = mistake_findings(mistakes)
    if mistakes:
        print(f"\nhand-written mistakes (catalog/{assignment}/mutants.toml): "
              f"{sum(m['caught'] for m in mistakes)} of {len(mistakes)} caught, "
              f"{sum(m['caught'] and m['named'] for m in mistakes)} caught and named")
        for line in findings:
            print(f"  {line}")
    reference = catalog.reference_answers(assignment, root)
    if result["survivors"]:
        print("\nsurvivors (no hidden test fails for these; test what they change, or list them as equivalent "
              "with the reason):")
        for mutant_id in result["survivors"]:
            mutant = result["mutants"][mutant_id]
            print(f"\n{mutant_id}  ({mutant.description})")
            print(survivor_diff(mutant, reference))
    if confirm:
        chosen = sample(list(result["mutants"]), confirm, assignment)
        real = autograde_verdicts(assignment, {i: result["mutants"][i].answers for i in chosen}, root)
        differ = [i for i in chosen if not same_verdict(result["verdicts"][i], real[i])]
        print(f"\nconfirmed through nbgrader autograde: {len(chosen) - len(differ)} of {len(chosen)} sampled mutants "
              "got the same verdict, check by check" + (f"; differ: {', '.join(differ)}" if differ else ""))
        if differ:
            return 1
    return 1 if result["survivors"] or stale or findings else 0


__all__ = ["GeneratedMutant", "autograde_verdicts", "command", "duplicate_equivalents", "equivalents", "generate",
           "killed", "main", "mistake_findings", "outcomes", "reference_failures", "same_verdict", "sample",
           "survivor_diff", "sweep", "verdicts", "warm"]
