"""The kit's defences switched off one at a time in a scratch course, so that each attack is shown to succeed
without its defence before it counts as stopped by it.

`weaken(course, {...})` appends to that course's `nbgrader_config.py` (the kit itself is never changed):

    boundary        answer cells run in the grading kernel itself (nbgrader's own Execute, no student process)
    sandbox         the student process runs unsandboxed (as `allow_unsandboxed` on a machine without bubblewrap)
    rebuild         the submitted notebook is graded as it is (no RebuildFromRelease)
    links           the submitted notebook is read by nbconvert's own exporter, which follows links
    names, writeback, handles, environment, system_files, folder, sort_watch, output_budget, tree_bound,
    dev_readonly, private_copies, subordinate_ids
                    the grading kernel is `weakened_kernel.py`, which puts that part of the boundary or the
                    sandbox back to what the kit did before it
    hidden_prints   feedback keeps what cells with hidden tests printed, and their errors' messages
    cell_output     no cap on a cell's outputs taken together
    markup_bound    Markdown goes to the HTML cleaner unbounded (no cap on its size, nesting or count)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from jinja2 import pass_context
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

from mlkit.reports import safehtml
from mlkit.reports.feedback import RedactHiddenTests

HERE = Path(__file__).resolve().parent
KERNEL_DEFENCES = {"names", "writeback", "handles", "environment", "system_files", "folder", "sort_watch",
                   "output_budget", "sandbox", "tree_bound", "dev_readonly", "private_copies",
                    "subordinate_ids"}
DEFENCES = KERNEL_DEFENCES | {"boundary", "rebuild", "hidden_prints", "cell_output", "links", "markup_bound"}


def weaken(course: Path, defences: set[str]) -> None:
    unknown = set(defences) - DEFENCES
    assert not unknown, f"no such defence: {unknown}"
    lines = ["", "# --- defences switched off for the attack suite (tests/weakened.py) ---", "import sys",
             f"sys.path.insert(0, {str(HERE)!r})"]
    kernel = sorted(set(defences) & KERNEL_DEFENCES)
    if kernel:
        name = "mlkit-weakened-" + "-".join(kernel).replace("_", "")
        _kernelspec(name, kernel)
        lines.append(f"c.ResilientExecute.kernel_name = {name!r}")
    if "sandbox" in defences:
        lines.append("c.ResilientExecute.allow_unsandboxed = True")
    if "boundary" in defences:
        lines += ["c.Autograde.autograde_preprocessors = [p if p != 'mlkit.grading.plugins.execute.ResilientExecute' "
                  "else 'nbgrader.preprocessors.Execute' for p in c.Autograde.autograde_preprocessors]",
                  "c.Execute.kernel_name = 'python3'", "c.Execute.timeout = 30",
                  "c.Execute.interrupt_on_timeout = True"]
    if "rebuild" in defences:
        lines.append("c.Autograde.sanitize_preprocessors = [p for p in c.Autograde.sanitize_preprocessors "
                     "if p not in ('mlkit.grading.plugins.rebuild.RebuildFromRelease', "
                     "'nbgrader.preprocessors.OverwriteCells')]")
    if "links" in defences:
        lines.append("c.Autograde.exporter_class = 'nbconvert.exporters.NotebookExporter'")
    if "hidden_prints" in defences:
        lines.append("c.GenerateFeedback.preprocessors = ['weakened.RedactKeepingPrints' if p.endswith("
                     "'RedactHiddenTests') else p for p in c.GenerateFeedback.preprocessors]")
    if "cell_output" in defences:
        lines += ["c.LimitOutputSize.max_cell_chars = 10**12", "c.LimitOutputSize.max_outputs = 10**9",
                  "c.LimitOutput.max_lines = -1"]
    if "markup_bound" in defences:
        lines.append("c.HTMLExporter.filters = {'markdown2html': 'weakened.markdown2html_unbounded'}")
    with open(course / "nbgrader_config.py", "a") as config:
        config.write("\n".join(lines) + "\n")


def _kernelspec(name: str, defences: list[str]) -> None:
    folder = Path(sys.prefix) / "share" / "jupyter" / "kernels" / name
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [sys.executable, "-I", str(HERE / "weakened_kernel.py"), ",".join(defences), "-f",
                     "{connection_file}", "--InteractiveShell.xmode=Plain"],
            "display_name": f"weakened: {', '.join(defences)}", "language": "python"}
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1))


class RedactKeepingPrints(RedactHiddenTests):
    """Feedback as before it dropped what cells with hidden tests printed and the messages of their errors."""

    def preprocess_cell(self, cell, resources, index):
        streams = [o for o in cell.get("outputs", []) if o.get("output_type") == "stream"]
        messages = [f"{o.ename}: {o.evalue}" for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        cell, resources = super().preprocess_cell(cell, resources, index)
        if cell.cell_type == "code":
            errors = [o for o in cell.outputs if o.get("output_type") == "error"]
            for output, message in zip(errors, messages):
                output.traceback = [message]
            cell.outputs = streams + [o for o in cell.outputs if o.get("output_type") != "stream"]
        return cell, resources


@pass_context
def markdown2html_unbounded(context, source: str) -> str:
    """The course's Markdown filter as it was before its bounds: rendered, then cleaned, whatever the size."""
    cell = context.get("cell", {}) or {}
    path = (context.get("resources", {}) or {}).get("metadata", {}).get("path", "")
    renderer = IPythonRenderer(escape=False, attachments=cell.get("attachments", {}), embed_images=False,
                               path=path, exclude_anchor_links=True)
    return safehtml.clean(MarkdownWithMath(renderer=renderer).render(source))
