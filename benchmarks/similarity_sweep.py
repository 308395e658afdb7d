"""How well `mlkit similarity` tells planted copies from independent implementations, on every notebook.

    .venv/bin/python benchmarks/similarity_sweep.py [ASSIGNMENT ...] [--json FILE]

Method
- Independent implementations: for each notebook, the reference answers and every catalogued alternative
  (`catalog/<assignment>/alternatives/`, each another style of correct answer; a cell an alternative does not
  list keeps the reference's answer, which is boilerplate to the comparison).
- Planted copies, two per notebook: of one correct solution (the first alternative) and of one wrong solution
  (the first mutant of `mutants.toml`, those the sample class uses first, whose code differs from the
  reference's once names are abstracted: a name-only slip is the reference to the comparison), each made by
  `plant_copy`:
  every local variable and positional argument renamed (not a constructor's or a keyword argument's, which
  are the notebook's API), methods of each class and functions of each cell in reverse
  order, the original comments removed and others written, a blank line after every third line.
- Each notebook's submissions (independents, the wrong solution, both copies) are built as students' notebooks
  (`catalog.submission_notebook`), their answer code taken from the solution cells as the command takes it,
  and ranked by `mlkit.reports.similarity.rank` (the release's scaffold and the reference answers boilerplate).
- Positives: (original, its copy), two per notebook.  Negatives: every other pair of that notebook.
  Flagged: similarity >= `similarity.THRESHOLD`.  Precision = flagged positives / flagged; recall = flagged
  positives / positives; and per notebook whether every positive ranks above every negative.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from copydetect.utils import filter_code  # noqa: E402

from mlkit import layout  # noqa: E402
from mlkit.authoring import catalog  # noqa: E402
from mlkit.reports import similarity  # noqa: E402

NEW_NAMES = ("value", "item", "thing", "part", "piece", "entry", "data", "temp", "node", "block")


class _Rename(ast.NodeTransformer):
    """Renames a function's arguments and the names it assigns, consistently, inside that function."""

    def __init__(self, mapping: dict[str, str]):
        self.mapping = mapping

    def visit_Name(self, node):
        node.id = self.mapping.get(node.id, node.id)
        return node

    def visit_arg(self, node):
        node.arg = self.mapping.get(node.arg, node.arg)
        return node


def _locals(function: ast.FunctionDef) -> list[str]:
    """The names a copier can rename without changing the notebook's API: what the function assigns, and its
    positional arguments without a default (a constructor's or a keyword argument's name is the SPEC's)."""
    positional = function.args.args[:len(function.args.args) - len(function.args.defaults)]
    arguments = [] if function.name == "__init__" else [a.arg for a in positional if a.arg not in ("self", "cls")]
    kept = {a.arg for a in function.args.args + function.args.kwonlyargs} - set(arguments)
    assigned = [n.id for n in ast.walk(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
    return [name for name in dict.fromkeys(arguments + assigned) if name not in kept]


def plant_copy(source: str, seed: int = 0) -> str:
    """`source` (one answer cell) as a student who copied it would disguise it (see the module's docstring)."""
    tree = ast.parse(source)
    counter = seed
    for function in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
        mapping = {}
        for name in _locals(function):
            mapping[name] = f"{NEW_NAMES[counter % len(NEW_NAMES)]}_{counter}"
            counter += 1
        for statement in function.body:
            _Rename(mapping).visit(statement)
        for argument in function.args.args:
            argument.arg = mapping.get(argument.arg, argument.arg)
    for holder in [tree, *[n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]]:
        functions = [n for n in holder.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        others = [n for n in holder.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        holder.body = others + functions[::-1]
    lines = []
    for number, line in enumerate(ast.unparse(tree).splitlines(), 1):
        stripped = line.lstrip()
        if stripped.startswith("def "):
            lines.append(f"{line[:len(line) - len(stripped)]}# my own version of {stripped[4:].split('(')[0]}")
        lines.append(line)
        if number % 3 == 0:
            lines.append("")
    copied = "\n".join(lines) + "\n"
    ast.parse(copied)  # still Python
    return copied


def _visible_mistake(assignment: str, reference: dict[str, str]) -> catalog.Mutant:
    """The first mutant (those of the sample class first) whose code differs from the reference's once names are
    abstracted: one that changes a name alone (np.log for np.log2) is the reference to any comparison that
    ignores names, and is left out (see the README)."""
    ordered = sorted(catalog.mutants(assignment), key=lambda m: not m.in_sample_class)
    for mutant in ordered:
        cell = mutant.cell
        if filter_code(mutant.apply(reference)[cell], "x.py")[0] != filter_code(reference[cell], "x.py")[0]:
            return mutant
    raise ValueError(f"{assignment}: no mutant differs from the reference beyond a name")


def notebook_sweep(assignment: str) -> dict:
    reference = catalog.reference_answers(assignment)
    independents = {"reference": reference}
    independents.update({f"alt-{name}": {**reference, **answers}
                         for name, answers in catalog.alternatives(assignment).items()})
    wrong = _visible_mistake(assignment, reference)
    correct_name = next(name for name in independents if name.startswith("alt-"))
    originals = {correct_name: independents[correct_name], f"mutant-{wrong.name}": wrong.apply(reference)}
    answers = {**independents, **originals}
    positives = set()
    for number, (name, original) in enumerate(originals.items()):
        answers[f"copy-of-{name}"] = {cell: plant_copy(source, seed=10 * number) for cell, source in original.items()}
        positives.add(frozenset((name, f"copy-of-{name}")))
    submissions = [similarity.Submission(name, similarity.answer_code(catalog.submission_notebook(assignment, a)))
                   for name, a in answers.items()]
    pairs = similarity.rank(submissions, assignment)
    scored = [(p.similarity, frozenset((p.first.name, p.second.name)) in positives, p.first.name, p.second.name)
              for p in pairs]
    positive_scores = [s for s, positive, *_ in scored if positive]
    negative_scores = [s for s, positive, *_ in scored if not positive]
    return {
        "assignment": assignment,
        "pairs": len(scored),
        "positives": [(a, b, round(s, 3)) for s, positive, a, b in scored if positive],
        "highest_negative": max(((round(s, 3), a, b) for s, positive, a, b in scored if not positive), default=None),
        "lowest_positive": round(min(positive_scores), 3),
        "copies_rank_first": min(positive_scores) > max(negative_scores, default=0.0),
        "true_positives": sum(s >= similarity.THRESHOLD for s in positive_scores),
        "false_positives": sum(s >= similarity.THRESHOLD for s in negative_scores),
        "false_negatives": sum(s < similarity.THRESHOLD for s in positive_scores),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assignments", nargs="*", help="default: every notebook")
    parser.add_argument("--json", help="write the per-notebook results here")
    args = parser.parse_args(argv)
    names = [layout.resolve_assignment(a) for a in args.assignments] or layout.assignments()
    results = [notebook_sweep(name) for name in names]
    tp = sum(r["true_positives"] for r in results)
    fp = sum(r["false_positives"] for r in results)
    fn = sum(r["false_negatives"] for r in results)
    for r in results:
        print(f"{r['assignment']:24} pairs {r['pairs']:3}  lowest copy {r['lowest_positive']:.2f}  highest other "
              f"{r['highest_negative'][0]:.2f} ({r['highest_negative'][1]} & {r['highest_negative'][2]})  "
              f"copies first: {'yes' if r['copies_rank_first'] else 'NO'}")
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    print(f"\nthreshold {similarity.THRESHOLD}: precision {precision:.3f} ({tp}/{tp + fp}), recall {recall:.3f} "
          f"({tp}/{tp + fn}); every copy above every other pair in {sum(r['copies_rank_first'] for r in results)}"
          f" of {len(results)} notebooks")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "precision": precision, "recall": recall},
                                              indent=1, default=list))
    return 0 if all(r["copies_rank_first"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
