"""Round-trip between nbgrader notebooks and a plain-text "percent" format.

The `.ipynb` files in `source/` are the course's source of truth.  This
format exists so a notebook can be reviewed and edited as text (diffs, grep,
an editor without Jupyter) and turned back into an identical notebook:

    python -m mlkit.authoring.nbtext to-text  source/01_linear_regression/linear_regression.ipynb > lr.py
    python -m mlkit.authoring.nbtext to-notebook lr.py -o source/01_linear_regression/linear_regression.ipynb

Each cell starts with a header line; markdown bodies are written as is.

    # %% [markdown] id=intro              read-only instructions
    # %% [code] id=setup                  read-only code
    # %% [student] id=playground          a plain cell the student may edit
    # %% [answer] id=closed_form          autograded answer (solution regions inside)
    # %% [tests] id=test_shapes points=2  autograded tests (hidden regions inside)
    # %% [manual] id=explain points=3     manually graded written answer (markdown)

The kinds, and how a cell's nbgrader metadata names its kind, are `mlkit.nbcells`'.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

from mlkit import nbcells

HEADER = re.compile(r"^# %% \[(?P<kind>\w+)\](?P<attrs>(?: \w+=\S+)*)\s*$")

def to_text(nb) -> str:
    chunks = []
    for cell in nb.cells:
        kind = nbcells.kind_of(cell)
        header = f"# %% [{kind}] id={cell.get('id')}"
        meta = nbcells.nbgrader_metadata(cell)
        if "points" in meta:
            header += f" points={meta['points']:g}"
        chunks.append(header + "\n" + cell.source.rstrip("\n") + "\n")
    return "\n".join(chunks)


def to_notebook(text: str):
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    current = None
    body: list[str] = []

    def flush():
        if current is None:
            return
        kind, attrs = current
        cell_type, flags = nbcells.KINDS[kind]
        source = "\n".join(body).strip("\n")
        cell = nbformat.v4.new_markdown_cell(source) if cell_type == "markdown" else nbformat.v4.new_code_cell(source)
        cell["id"] = attrs["id"]
        if flags is not None:
            meta = dict(flags, grade_id=attrs["id"], schema_version=3)
            if "points" in attrs:
                meta["points"] = float(attrs["points"]) if "." in attrs["points"] else int(attrs["points"])
            cell.metadata["nbgrader"] = meta
            if flags["locked"]:
                cell.metadata["deletable"] = False
                cell.metadata["editable"] = False
        nb.cells.append(cell)

    for line in text.splitlines():
        match = HEADER.match(line)
        if match:
            flush()
            attrs = dict(part.split("=", 1) for part in match["attrs"].split())
            if match["kind"] not in nbcells.KINDS:
                raise ValueError(f"unknown cell kind in {line!r}")
            current, body = (match["kind"], attrs), []
        else:
            body.append(line)
    flush()
    nbformat.validate(nb)
    return nb


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("to-text")
    a.add_argument("notebook", type=Path)
    b = sub.add_parser("to-notebook")
    b.add_argument("text", type=Path)
    b.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "to-text":
        sys.stdout.write(to_text(nbformat.read(args.notebook, as_version=4)))
    else:
        nbformat.write(to_notebook(args.text.read_text()), args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
