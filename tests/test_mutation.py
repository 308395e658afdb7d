"""Machine-made mutants: the generator covers every operator, and a fixed sample is killed the same way twice.

The full sweep is benchmarks/mutation_sweep.py (docs/authoring/mutation-score.md).
Here a small fixed sample per notebook is graded by the fast runner and
again by the real `nbgrader autograde`: the verdicts must agree check by
check, and every sampled mutant not reviewed as equivalent must be killed.
"""

from __future__ import annotations

import pytest

from mlkit.authoring import catalog
from mlkit.authoring import mutation

SAMPLED = ["01_linear_regression", "07_knn"]
PER_NOTEBOOK = 6


def test_every_operator_makes_mutants_somewhere():
    operators = set()
    for assignment in catalog.assignments():
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
