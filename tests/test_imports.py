"""The import rules of the kit's layers: pyproject.toml's `[tool.importlinter]` contracts, checked by `lint-imports`.

The contracts (see docs/contributing/architecture.md): the top level is layered (cli > demo | study > reports >
grading | authoring > course > the ground floor), the ground floor imports no workflow, the notebooks' checking
helpers import nothing of grading, and no two modules import each other, directly or through others.

`EXPECTED_BROKEN` names the contracts the code does not keep yet (none today): such a contract is reported, and
the test fails once it holds, so that it leaves the list and is kept from then on.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import support

KIT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
EXPECTED_BROKEN: set[str] = set()


def _contracts(config: Path) -> dict[str, str]:
    """Contract id -> its name, as the configuration declares them."""
    with config.open("rb") as handle:
        declared = tomllib.load(handle)["tool"]["importlinter"]["contracts"]
    return {contract["id"]: contract["name"] for contract in declared}


def _lint_imports(folder: Path, config: Path, options=("--no-cache",)) -> tuple[dict[str, bool], str]:
    """({contract id: kept}, the report) of `lint-imports OPTIONS` on the `mlkit` package found first from
    `folder`, with the contracts of `config`."""
    env = {**os.environ, "COLUMNS": "1000", "PYTHONPATH": str(folder)}  # one line per contract in the summary
    ran = subprocess.run([str(LINT_IMPORTS), *options, "--config", str(config)], cwd=folder, env=env,
                         capture_output=True, text=True, timeout=300)
    report = ran.stdout + ran.stderr
    verdicts = {}
    for contract_id, name in _contracts(config).items():
        found = re.search(rf"^{re.escape(name)} (KEPT|BROKEN)$", report, re.M)
        assert found, f"lint-imports said nothing of the contract {contract_id!r} (exit {ran.returncode}):\n{report}"
        verdicts[contract_id] = found[1] == "KEPT"
    assert ran.returncode == (0 if all(verdicts.values()) else 1), report
    return verdicts, report


def test_the_kit_keeps_its_import_contracts():
    """The command docs/contributing/architecture.md shows, run on the kit."""
    (command,) = support.doc_commands("contributing/architecture.md", "lint-imports")
    program, *options = command.split()
    assert program.endswith("lint-imports"), command
    verdicts, report = _lint_imports(KIT, KIT / "pyproject.toml", options)
    broken = {contract for contract, kept in verdicts.items() if not kept}
    assert not broken - EXPECTED_BROKEN, f"broken import contracts {sorted(broken - EXPECTED_BROKEN)}:\n{report}"
    assert not EXPECTED_BROKEN - broken, (f"{sorted(EXPECTED_BROKEN - broken)} now hold: take them out of "
                                          "EXPECTED_BROKEN in tests/test_imports.py")


def _reverse_of_an_import_inside(package: str) -> tuple[str, str]:
    """(module, line) that closes a cycle inside `package`: an import of a module of it, planted in a module that
    module imports (taken from the kit's own import graph, so that it holds whatever the package's modules are)."""
    import grimp

    graph = grimp.build_graph("mlkit", cache_dir=None)  # no cache folder written into the checkout
    edges = sorted((importer, imported) for importer in graph.find_descendants(package)
                   for imported in graph.find_modules_directly_imported_by(importer)
                   if imported.startswith(f"{package}.") and not graph.find_children(imported))
    importer, imported = edges[0]
    return imported.removeprefix("mlkit.").replace(".", "/") + ".py", f"import {importer}"


# One planted import per contract, each a mistake the contract is there to catch: (module, line added, contract).
PLANTED = [
    ("layout.py", "import mlkit.authoring.catalog", "ground-floor"),
    ("checks.py", "import mlkit.grading", "checks-without-grading"),
    ("reports/results.py", "import mlkit.study", "layers"),
    ("authoring/nbtext.py", "import mlkit.authoring.catalog", "acyclic"),
    ("grading/sandbox/launcher.py", "import mlkit.grading.kernel.boundary", "grading-zones"),
    (None, "mlkit.grading", "acyclic-grading"),
    (None, "mlkit.study", "acyclic-study"),
]


@pytest.mark.parametrize("module, line, contract", PLANTED, ids=[contract for _, _, contract in PLANTED])
def test_a_planted_import_breaks_its_contract(tmp_path, module, line, contract):
    """A copy of the package with one import that breaks the rule: `lint-imports` reports that contract broken.
    (module None: the cycle is closed inside the package `line` names.)"""
    if contract in EXPECTED_BROKEN:
        pytest.skip(f"{contract} is broken without a planted import (EXPECTED_BROKEN)")
    if module is None:
        module, line = _reverse_of_an_import_inside(line)
    shutil.copytree(KIT / "mlkit", tmp_path / "mlkit", ignore=shutil.ignore_patterns("__pycache__", "course_files"))
    shutil.copy2(KIT / "pyproject.toml", tmp_path / "pyproject.toml")
    planted = tmp_path / "mlkit" / module
    planted.write_text(f"{planted.read_text()}\n{line}  # planted by tests/test_imports.py\n")
    verdicts, report = _lint_imports(tmp_path, tmp_path / "pyproject.toml")
    assert not verdicts[contract], f"{line!r} in mlkit/{module} left {contract!r} kept:\n{report}"
