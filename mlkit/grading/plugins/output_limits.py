"""`LimitOutputSize` (after execution): each output's text capped, so a 20 MB print cannot bloat the
gradebook's notebooks or the feedback. Runs in nbgrader's process (the instructor's); the outputs are the
student's to fill, the kit's own structured outputs are kept.
"""

from __future__ import annotations

import json

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer

from mlkit.grading.plugins import cells


class LimitOutputSize(NbGraderPreprocessor):
    """Truncate every text output to `max_chars` characters, and a cell's outputs to `max_cell_chars` in all."""

    max_chars = Integer(20_000).tag(config=True)
    max_cell_chars = Integer(100_000, help="Characters of all of one cell's outputs together").tag(config=True)
    max_outputs = Integer(100, help="Outputs of one cell; later ones are dropped").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        self._truncate_each(cell)
        total, kept = 0, []
        for output in cell.get("outputs", []):
            size = len(json.dumps(output))
            # The grader's own outputs always stay: the error, and the kit's structured outputs (the diagnosis
            # the reports read, mlkit.checks.DIAGNOSIS_MIME), which student code cannot produce.
            graders = output.get("output_type") == "error" or any(
                mime.startswith(cells.KIT_MIME_PREFIX) for mime in output.get("data", {}))
            if (total + size > self.max_cell_chars or len(kept) >= self.max_outputs) and not graders:
                continue
            total += size
            kept.append(output)
        if "outputs" in cell and len(kept) < len(cell.outputs):
            note = nbformat.v4.new_output("stream", name="stdout", text=(
                f"... [{len(cell.outputs) - len(kept)} more outputs left out: a cell keeps "
                f"{self.max_outputs} outputs and {self.max_cell_chars} characters]\n"))
            cell.outputs = kept + [note]
        return cell, resources

    def _truncate_each(self, cell) -> None:
        for output in cell.get("outputs", []):
            if output.output_type == "stream" and len(output.text) > self.max_chars:
                output.text = output.text[: self.max_chars] + f"\n... [output truncated to {self.max_chars} characters]\n"
            elif output.output_type == "error":
                output.evalue = output.evalue[: self.max_chars]
                output.traceback = [line[: self.max_chars] for line in output.traceback[-50:]]
            elif "data" in output:
                for mime, value in list(output.data.items()):
                    if isinstance(value, str) and len(value) > self.max_chars:
                        output.data[mime] = value[: self.max_chars] + "\n... [truncated]"
