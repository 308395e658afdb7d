"""`mlkit new NN_name`: a new notebook for the course, in the kit's seven-section layout, ready to fill in.

    mlkit new 11_ridge_regression --title "Ridge regression"

writes
    source/11_ridge_regression/ridge_regression.ipynb   the seven sections: what you build, the derivation,
                                                        an answer cell with its solution region, a graded test
                                                        cell (visible part, hidden region, points, its one-
                                                        sentence purpose), a picture, real data, the 60-second
                                                        explanation with its model answer
    source/11_ridge_regression/diagnostics.toml         the mistakes the hidden tests name: its format, and the
                                                        one worked entry the scaffold's hidden test uses
    catalog/11_ridge_regression/mutants.toml            realistic mistakes `mlkit mutate` checks are caught and named
    catalog/11_ridge_regression/equivalent_mutants.toml reviewed equivalent mutants for `mlkit mutate` (none yet)

The worked example is a small, complete algorithm (standardising the columns of a matrix), so the scaffold
passes `mlkit lint`, `nbgrader generate_assignment` and `mlkit mutate` as it stands; the instructor replaces it
section by section. Nothing that exists is overwritten.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

from mlkit.authoring import nbtext

NAME = re.compile(r"^(?P<number>\d{2})_(?P<short>[a-z][a-z0-9_]*)$")

NOTEBOOK = '''# %% [markdown] id=title
# {number} · {title}

One paragraph: what the algorithm does and where the difficulty lies (shapes, a gradient, numerical stability).
Every section of this course's notebooks comes in the same order: **1** what you build, **2** the derivation,
**3** your implementation, **4** the graded tests, **5** a picture, **6** real data, **7** explain it in 60 seconds.

Fill in every cell that says `# YOUR CODE HERE` (remove the `raise NotImplementedError()` line).
Use NumPy only. Run the tests in section 4 as you go: the visible ones show the kind of mistake the hidden ones look for.

# %% [markdown] id=what_you_build
## 1. What you will build

| name | input shapes | output |
|---|---|---|
| `standardize(X)` | `X (n, d)` floats | `(n, d)` floats: every column with mean 0 and standard deviation 1 |

# %% [markdown] id=derivation
## 2. The derivation

For column $j$ with mean $\\mu_j$ and standard deviation $\\sigma_j$ (over the $n$ rows),
$$Z_{{ij}} = \\frac{{X_{{ij}} - \\mu_j}}{{\\sigma_j}} .$$
`X.mean(axis=0)` has shape `(d,)` and broadcasts against `(n, d)`: the statistics are per column (axis 0), not per row.

# %% [code] id=setup
import os

import numpy as np

# %% [markdown] id=implement
## 3. Your implementation

The shape-critical lines: the per-column statistics, shape `(d,)`, and the broadcast back to `(n, d)`.

# %% [answer] id=standardize
def standardize(X):
    """Centre and scale every column of X.

    X: (n, d) floats.
    Returns Z: (n, d) floats, each column with mean 0 and standard deviation 1.
    """
    ### BEGIN SOLUTION
    mean = X.mean(axis=0)                   # (d,)
    std = X.std(axis=0)                     # (d,)
    return (X - mean) / std                 # (n, d)
    ### END SOLUTION

# %% [markdown] id=tests_intro
## 4. Tests

Each cell below checks one thing and carries its own points. The visible part runs a quick example; hidden tests
run more cases when your notebook is graded. A failure message names the most likely mistake.

# %% [tests] id=test_standardize points=2
# Checks that standardize returns an (n, d) array whose columns have mean 0 and standard deviation 1.
from mlkit.checks import Check

check = Check("{assignment}", "test_standardize")
X_demo = np.array([[1.0, 10.0], [3.0, 30.0], [5.0, 50.0]])
check.ndarray(standardize(X_demo), "standardize(X)", shape=(3, 2))
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(11)
X_hidden = rng.normal(loc=[1.0, -2.0, 5.0], scale=[0.5, 3.0, 10.0], size=(40, 3))
per_row = (X_hidden - X_hidden.mean(axis=1, keepdims=True)) / X_hidden.std(axis=1, keepdims=True)
check.close(standardize(X_hidden), (X_hidden - X_hidden.mean(axis=0)) / X_hidden.std(axis=0),
            "standardize(X) on random data", mistakes={{"wrong_axis": per_row}})
### END HIDDEN TESTS

# %% [markdown] id=picture_intro
## 5. A picture

What the algorithm does, drawn (skipped while the notebook is being graded).

# %% [student] id=picture
if not os.environ.get("NBGRADER_EXECUTION"):
    import matplotlib.pyplot as plt

    X_plot = np.random.default_rng(0).normal(loc=[3.0, -1.0], scale=[2.0, 0.5], size=(200, 2))
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    for ax, data, title in zip(axes, [X_plot, standardize(X_plot)], ["raw", "standardised"]):
        ax.scatter(data[:, 0], data[:, 1], s=8)
        ax.set_title(title)
        ax.set_aspect("equal")
    plt.show()

# %% [markdown] id=real_data_intro
## 6. Real data

A small real data set, shipped as CSV beside this notebook (`data/...`), run through the implementation
(skipped while grading).

# %% [student] id=real_data
if not os.environ.get("NBGRADER_EXECUTION"):
    pass  # e.g. data = np.loadtxt("data/your_data.csv", delimiter=",", skiprows=1)

# %% [markdown] id=explain_prompt
## 7. Explain it in 60 seconds

In at most five sentences, as if in an interview: what does standardising do to each column, along which axis are
the statistics taken, and why does it matter for a distance- or gradient-based model?

# %% [manual] id=explain points=3
Standardising subtracts each column's mean and divides by its standard deviation, so every feature ends up with
mean 0 and unit spread; the statistics are taken over the rows (axis 0), giving one mean and one standard deviation
per feature, shape `(d,)`, broadcast back over the `(n, d)` matrix. Without it a feature measured in large units
dominates every distance and makes the loss surface elongated, so gradient descent needs a tiny step size.
'''

DIAGNOSTICS = '''# Mistakes the hidden tests of {assignment} recognise, by graded test cell (its grade_id).
#
# One table per mistake, under the test cell that can recognise it:
#
#   [<test grade_id>.mistakes.<mistake id>]
#   message = "One sentence naming the mistake, as the student will read it in the feedback."
#   hint = "Where to look: the right formula or line."
#
# A hidden test names a mistake by its id: check.fail("<mistake id>"), or
# check.close(actual, expected, name, mistakes={{"<mistake id>": what that mistake would return}}).
# `mlkit lint` checks that every entry belongs to a test cell that exists and is named by its hidden test.

[test_standardize.mistakes.wrong_axis]
message = "The statistics are taken over each row (axis=1) instead of each column (axis=0)."
hint = "mean = X.mean(axis=0) and std = X.std(axis=0) have shape (d,), one value per feature."
'''

MUTANTS = '''# Realistic mistakes students make in {assignment}, written down by you.
# `mlkit mutate {assignment}` runs each against the hidden tests and reports it unless it loses points AND a
# failing check names its `diagnosis` (the sentence the student reads in the feedback). One table per mistake,
# one text substitution in one answer cell (worked examples: the kit's catalog/01_linear_regression/mutants.toml):
#
#   [[mutant]]
#   name = "short_name"
#   description = "What the student did."
#   cell = "<answer cell grade_id>"
#   find = "a line of the reference solution"
#   replace = "the same line with the mistake"
#   diagnosis = "<mistake id in diagnostics.toml>"
'''

EQUIVALENTS = '''# Machine-made mutants of {assignment} that no test can tell apart from the reference, each with a reviewed
# reason; `mlkit mutate` leaves them out of the score and lists them.
#
#   [[equivalent]]
#   id = "<cell>:<line>:<column>-<end line>:<end column>:<operator>:<variant>"   (as `mlkit mutate` prints it)
#   reason = "Why no correct test can tell it apart."
#
# Each entry silences the one mutant of that id; an entry that matches no surviving mutant is reported.
'''


class ScaffoldRefused(ValueError):
    """The name is not NN_name, or the notebook (or its catalog) exists already."""


def new(root: Path, name: str, title: str | None = None) -> Path:
    """Write the scaffold of `name` into the course `root`; returns the notebook's path."""
    match = NAME.match(name)
    if not match:
        raise ScaffoldRefused(f"{name!r} is not a notebook name: two digits, an underscore and a lower-case name "
                              "(11_ridge_regression)")
    folder, catalog_folder = root / "source" / name, root / "catalog" / name
    for existing in (folder, catalog_folder):
        if existing.exists():
            raise ScaffoldRefused(f"{existing} exists already: nothing was written")
    if any(p.name.startswith(match["number"] + "_") for p in (root / "source").glob("*")):
        raise ScaffoldRefused(f"the course has a notebook numbered {match['number']} already")
    short = match["short"]
    fields = {"assignment": name, "number": match["number"],
              "title": title or short.replace("_", " ").capitalize()}
    nb = nbtext.to_notebook(NOTEBOOK.format(**fields))
    folder.mkdir(parents=True)
    path = folder / f"{short}.ipynb"
    nbformat.write(nb, path)
    (folder / "diagnostics.toml").write_text(DIAGNOSTICS.format(**fields))
    catalog_folder.mkdir(parents=True)
    (catalog_folder / "mutants.toml").write_text(MUTANTS.format(**fields))
    (catalog_folder / "equivalent_mutants.toml").write_text(EQUIVALENTS.format(**fields))
    return path


def command(args) -> int:
    """`mlkit new NN_name [--title TITLE] [--course DIR]`: `new`, then what to do next; 2 when it is refused."""
    from mlkit import course

    root, name = course.find(args.course), args.name
    try:
        path = new(root, name, args.title)
    except ScaffoldRefused as refused:
        print(f"mlkit new: {refused}", file=sys.stderr)
        return 2
    folder, catalog_folder = path.parent, root / "catalog" / name
    print("written:")
    for written, what in ((path, "the seven sections, a worked example in each"),
                          (folder / "diagnostics.toml", "the mistakes its hidden tests name"),
                          (catalog_folder / "mutants.toml", "your realistic mistakes, for mlkit mutate"),
                          (catalog_folder / "equivalent_mutants.toml", "mutants no test can tell apart, each with why")):
        print(f"  {written.relative_to(root)}   {what}")
    print(f"next: edit {path.relative_to(root)} in JupyterLab or as text "
          f"(python -m mlkit.authoring.nbtext to-text {path.relative_to(root)}); then mlkit lint {name}, "
          f"mlkit release {name}, mlkit mutate {name}")
    return 0
