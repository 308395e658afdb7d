"""nbgrader preprocessors for the feedback students read.

All run inside `nbgrader generate_feedback` (listed in `nbgrader_config.py`):

`AddCheckSummary` puts a table at the top of the report: every check, its
points, passed or not, and for a failure the diagnosed mistake in one
sentence with a hint (see `mlkit.reports.results`).

`RedactHiddenTests`: stock feedback shows the autograded notebook as is,
which includes the hidden tests' source and tracebacks quoting their lines.
This keeps what a student should see (the visible tests, every failure's
one-sentence message, what cells without hidden tests printed) and drops
the rest: what a cell with hidden tests printed can show their inputs (the
student's code may print every array a hidden test hands it).

`RenderMathOffline` turns the LaTeX of Markdown cells into MathML
(`mlkit.reports.mathml`), and the course's HTML template (`mlkit/reports/templates/offline`)
leaves out nbconvert's MathJax, which is loaded from a CDN: feedback reads
the same with no network.
"""

from __future__ import annotations

from nbconvert.exporters import HTMLExporter
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import List, Unicode, default, validate

from mlkit import nbcells
from mlkit.reports import mathml, safehtml, templates
from mlkit.checks import DIAGNOSIS_MIME
from mlkit.reports.results import SUMMARY_CSS, check_results, readable_error, summary_table_html



def strip_hidden_regions(source: str, begin: str, end: str, placeholder: str) -> str:
    """Replace every `begin`..`end` block (markers included) by `placeholder` at the same indent."""
    out: list[str] = []
    hiding = False
    for line in source.splitlines():
        if not hiding and line.strip() == begin:
            hiding = True
            indent = line[: len(line) - len(line.lstrip())]
            out.append(indent + placeholder)
        elif hiding and line.strip() == end:
            hiding = False
        elif not hiding:
            out.append(line)
    return "\n".join(out)


def is_test_cell(cell) -> bool:
    meta = nbcells.nbgrader_metadata(cell)
    return bool(meta.get("grade")) and not meta.get("solution")




class FeedbackStep(NbGraderPreprocessor):
    """A step of the feedback pipeline.

    nbconvert's exporter configures `display_data_priority` for every preprocessor it runs, and nbgrader's
    base class declares it without `config=True`, so traitlets warned about it on every generate_feedback."""

    display_data_priority = List(["text/html", "application/pdf", "text/latex", "image/svg+xml", "image/png",
                                  "image/jpeg", "text/plain"], config=True)


class RedactHiddenTests(FeedbackStep):
    """Hide hidden-test source and traceback lines; keep failure messages."""

    begin_test_delimeter = Unicode("BEGIN HIDDEN TESTS").tag(config=True)
    end_test_delimeter = Unicode("END HIDDEN TESTS").tag(config=True)
    placeholder = Unicode("# (hidden tests: not shown in feedback)").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        begin = f"### {self.begin_test_delimeter}"
        hidden = is_test_cell(cell) and any(line.strip() == begin for line in cell.source.splitlines())
        if is_test_cell(cell):
            cell.source = strip_hidden_regions(cell.source, begin, f"### {self.end_test_delimeter}", self.placeholder)
        kept = []
        for output in cell.get("outputs", []):
            if hidden and output.output_type == "stream":
                # What a cell with hidden tests printed may show their inputs: the student's code can
                # print every array a hidden test hands it.  Its failure message stays.
                continue
            if output.output_type == "error":
                output.ename, output.evalue = readable_error(output, hidden)
                output.traceback = [f"{output.ename}: {output.evalue}"]
            elif output.output_type == "display_data" and DIAGNOSIS_MIME in output.get("data", {}):
                # The diagnosis is shown as the error line already; this raw
                # form is for the reports, not for reading.
                continue
            kept.append(output)
        cell.outputs = kept
        return cell, resources


class AddCheckSummary(FeedbackStep):
    """The summary table of checks, which the page opens with (`resources["mlkit_summary"]`, placed by the
    course's feedback template, `mlkit/reports/templates/offline/index.html.j2`, in place of nbgrader's list of
    test cells: each row links to its cell).  Every text in it that a student could have shaped is escaped."""

    def preprocess(self, nb, resources):
        results = check_results(nb, resources["nbgrader"]["assignment"])
        if results:
            resources["mlkit_summary"] = summary_table_html(results, title="Summary of the automatic checks",
                                                            link_cells=True)
            resources.setdefault("inlining", {}).setdefault("css", []).append(SUMMARY_CSS)
        return nb, resources


class RenderMathOffline(FeedbackStep):
    """LaTeX in Markdown cells becomes MathML, which browsers draw without MathJax or a network."""

    def preprocess(self, nb, resources):
        budget = mathml.LatexBudget()
        for cell in nb.cells:
            if cell.cell_type == "markdown" and mathml.has_math(cell.source):
                # Past what the page shows of a cell (safehtml.MAX_CELL_CHARS) nothing is converted: the
                # page leaves it out, and says so.
                shown, rest = cell.source[:safehtml.MAX_CELL_CHARS], cell.source[safehtml.MAX_CELL_CHARS:]
                cell.source = mathml.markdown_with_mathml(shown, budget) + rest
        return nb, resources


class OfflineFeedbackExporter(HTMLExporter):
    """The exporter of feedback pages (GenerateFeedback.exporter_class), configured on its own.

    The course sets its template (`mlkit/reports/templates/offline`) for this class alone: nbgrader's
    formgrader renders its pages with HTMLExporter too, and needs its own template there.  That template
    extends nbgrader's `feedback/index.html.j2`, found in nbgrader's own template folder (set here, not in the
    course's configuration, so that a course configured by an earlier kit finds it too)."""

    @default("extra_template_paths")
    def _nbgrader_templates(self) -> list[str]:
        return [templates.nbgrader_templates()]

    @validate("extra_template_paths")
    def _with_nbgrader_templates(self, proposal) -> list[str]:
        # nbgrader's GenerateFeedback sets HTMLExporter.extra_template_paths (to its static files) for every
        # exporter, this one included.
        paths = list(proposal["value"])
        return paths if templates.nbgrader_templates() in paths else [*paths, templates.nbgrader_templates()]
