"""Machine-made mutants: the generator covers every operator, and a fixed sample is killed the same way twice.

The full sweep is benchmarks/mutation_sweep.py (docs/authoring/mutation-score.md).
Here a small fixed sample per notebook is graded by the fast runner and
again by the real `nbgrader autograde`: the verdicts must agree check by
check, and every sampled mutant not reviewed as equivalent must be killed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlkit import layout
from mlkit.authoring import catalog
from mlkit.authoring import mutation

SAMPLED = ["01_linear_regression", "07_knn"]
RIDGE = Path(__file__).resolve().parent / "data" / "11_ridge_regression"   # the instructor's notebook of the docs
PER_NOTEBOOK = 6


def test_every_operator_makes_mutants_somewhere():
    operators = set()
    for assignment in layout.assignments():
        operators |= {m.operator for m in mutation.generate(assignment)[0]}
    assert operators == {"arithmetic", "comparison", "sign", "constant", "axis", "keyword", "division",
                         "function", "arguments", "statement", "transpose"}


def test_mutants_are_stable_and_change_only_one_answer_cell():
    first, _ = mutation.generate("02_logistic_regression")
    again, _ = mutation.generate("02_logistic_regression")
    assert [m.id for m in first] == [m.id for m in again] and len(first) > 20
    reference = catalog.reference_answers("02_logistic_regression")
    for mutant in first:
        assert mutant.answers[mutant.cell] != reference[mutant.cell]
        assert all(mutant.answers[c] == reference[c] for c in reference if c != mutant.cell)


@pytest.mark.parametrize("assignment", [pytest.param(a, marks=pytest.mark.xdist_group(f"mutants-{a}"))
                                        for a in SAMPLED])
def test_a_fixed_sample_is_killed_alike_by_the_fast_runner_and_nbgrader(assignment):
    mutants = {m.id: m for m in mutation.generate(assignment)[0]}
    ids = mutation.sample(sorted(mutants), PER_NOTEBOOK, seed=f"ci:{assignment}")
    fast = {i: mutation.verdicts(assignment, mutants[i].answers) for i in ids}
    real = mutation.autograde_verdicts(assignment, {i: mutants[i].answers for i in ids})
    for i in ids:
        assert mutation.same_verdict(fast[i], real[i]), f"{i}: fast {fast[i]} but nbgrader {real[i]}"
    equivalent = mutation.equivalents(assignment)
    survivors = [i for i in ids if i not in equivalent and not mutation.killed(fast[i])]
    assert not survivors, f"the hidden tests no longer kill {survivors}"


def _nested_course(tmp_path):
    """The scaffold's notebook with `(1.0 * 1.0 * std)`: two products that start at the same column."""
    import nbformat

    from mlkit import course
    from mlkit.authoring import scaffold

    root = course.new_course(tmp_path / "course", [])
    path = scaffold.new(root, "12_standardize")
    nb = nbformat.read(path, as_version=4)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "standardize")
    answer.source = answer.source.replace("return (X - mean) / std", "return (X - mean) / (1.0 * 1.0 * std)")
    nbformat.write(nb, path)
    return root


def test_mutant_ids_are_unique_in_every_notebook_and_in_nested_expressions(tmp_path):
    import nbformat

    from mlkit import layout
    from mlkit.authoring import nbtext

    ridge = tmp_path / "ridge"
    (ridge / "source" / "11_ridge_regression").mkdir(parents=True)
    nbformat.write(nbtext.to_notebook((RIDGE / "ridge_regression.txt").read_text()),
                   ridge / "source" / "11_ridge_regression" / "ridge_regression.ipynb")
    for assignment, root in [*((a, layout.ROOT) for a in layout.assignments()), ("11_ridge_regression", ridge)]:
        mutants, identical = mutation.generate(assignment, root)
        ids = [m.id for m in mutants] + identical
        assert len(ids) == len(set(ids)) and len(ids) > 20, assignment
    root = _nested_course(tmp_path)
    products = [m for m in mutation.generate("12_standardize", root)[0]
                if m.operator == "arithmetic" and "Mult -> Div" in m.description]
    assert len(products) == 2 and products[0].id != products[1].id
    assert {m.answers["standardize"].splitlines()[-1].strip() for m in products} == {
        "return (X - mean) / (1.0 / 1.0 * std)", "return (X - mean) / (1.0 * 1.0 / std)"}


def test_an_equivalence_entry_silences_one_mutant_and_a_stale_one_is_reported(tmp_path):
    root = _nested_course(tmp_path)
    mutants = mutation.generate("12_standardize", root)[0]
    inner = next(m for m in mutants if m.answers["standardize"].rstrip().endswith("(1.0 / 1.0 * std)"))
    outer = next(m for m in mutants if m.answers["standardize"].rstrip().endswith("(1.0 * 1.0 / std)"))
    made_up = "standardize:99:4-99:9:arithmetic:0"
    (root / "catalog" / "12_standardize" / "equivalent_mutants.toml").write_text(
        f'[[equivalent]]\nid = "{inner.id}"\nreason = "1.0 / 1.0 is 1.0 * 1.0."\n\n'
        f'[[equivalent]]\nid = "{outer.id}"\nreason = "Listed by mistake: dividing by std is no product."\n\n'
        f'[[equivalent]]\nid = "{made_up}"\nreason = "No such mutant."\n')
    result = mutation.sweep("12_standardize", root, jobs=2)
    assert list(result["equivalents"]) == [inner.id]
    assert mutation.killed(result["verdicts"][outer.id]) and outer.id not in result["survivors"]
    assert result["stale_equivalents"]["killed"] == [outer.id]
    assert result["stale_equivalents"]["no longer made"] == [made_up]
