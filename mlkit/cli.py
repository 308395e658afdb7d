"""`mlkit` command line: the course's jobs, each a thin layer over nbgrader's own commands.

This module only parses and dispatches.  Each verb's work lives in the module of its workflow, imported only
when that verb runs: `mlkit --help` and `mlkit selfgrade` do not pay for nbgrader's or the grader's imports they
do not use.  A verb is one line in `VERBS` (verb -> "module:function", the function taking the parsed arguments
and returning the exit status, conventionally named `command` or `VERB_command`) and its arguments in
`build_parser`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from mlkit import invocation  # first: it remembers the folder and PATH the command was typed with

# Not imported in the command's process: a grammar that jsonschema's URI format checker builds at import
# time (most of a second), for Jupyter's event schemas, which no mlkit command emits (see mlkit.grading.autograde).
sys.modules.setdefault("rfc3987_syntax", None)

DEMO_FOLDER = "mlkit-demo"  # mlkit.demo.DEFAULT_FOLDER, repeated here so that --help imports nothing

VERBS = {
    "demo": "mlkit.demo:command",
    "clean": "mlkit.demo:clean_command",
    "init": "mlkit.course:init_command",
    "gradebook": "mlkit.course:gradebook_command",
    "exchange": "mlkit.permissions:exchange_command",
    "release": "mlkit.authoring.release:command",
    "new": "mlkit.authoring.scaffold:command",
    "lint": "mlkit.authoring.lint:command",
    "mutate": "mlkit.authoring.mutation:command",
    "student-build": "mlkit.authoring.student_build:command",
    "grade": "mlkit.grading.grade:command",
    "feedback": "mlkit.grading.feedback:command",
    "doctor": "mlkit.grading.doctor:command",
    "class-report": "mlkit.reports.classreport:command",
    "similarity": "mlkit.reports.similarity:command",
    "export": "mlkit.reports.lms:command",     # the LMS's files (mlkit.reports.lms)
    "roster": "mlkit.reports.lms:command",
    "handback": "mlkit.reports.lms:command",
    "selfgrade": "mlkit.study.selfgrade:command",
    "practice": "mlkit.study.practice:command",
    "study": "mlkit.study.dashboard:command",
    "rate": "mlkit.study.rating:command",
    "hint": "mlkit.study.hints:command",
    "followup": "mlkit.study.followups:command",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlkit", description="NumPy ML course kit on nbgrader.")
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("demo", help="in a course folder of its own: build release/, autograde the sample class, "
                                       "write feedback, print the gradebook")
    show.add_argument("assignments", nargs="*", help="default: all")
    show.add_argument("--into", help=f"the demo's course folder (default: ./{DEMO_FOLDER}, made here)")
    course_help = "the course folder (default: the folder this runs in, found as nbgrader finds it)"
    start = sub.add_parser("init", help="write a new course into an empty or new folder: the configuration and "
                                        "the notebooks' sources with their data")
    start.add_argument("folder")
    start.add_argument("assignments", nargs="*", help="default: all")
    start.add_argument("--course-id", help="nbgrader's course_id for the new course (default: the folder's name)")
    start.add_argument("--group", help="a group of graders who may read the course too (default: its owner only)")
    exchange = sub.add_parser("exchange", help="the nbgrader exchange on a shared machine")
    exchange_sub = exchange.add_subparsers(dest="exchange_command", required=True)
    exchange_init = exchange_sub.add_parser("init", help="as root: make or repair the exchange ROOT for a course, "
                                                         "so that no student can take it over")
    exchange_init.add_argument("root", help="the exchange folder (the course's c.Exchange.root)")
    exchange_init.add_argument("--course", required=True, dest="course_id", help="the course id (c.CourseDirectory.course_id)")
    exchange_init.add_argument("--instructor", required=True, help="the account that releases and collects")
    doctor = sub.add_parser("doctor", help="check what the kit relies on here (sandbox, tree bound, course and "
                                           "exchange permissions, gradebook, scheduler); exit 1 on a problem")
    doctor.add_argument("--course", help="the course folder (default: the folder this runs in, if it is one)")
    rel = sub.add_parser("release", help="regenerate release/ from source/ with nbgrader generate_assignment")
    rel.add_argument("assignments", nargs="*", help="default: all (01, 01_linear_regression or linear_regression)")
    rel.add_argument("--course", help=course_help)
    book = sub.add_parser("gradebook", help="print the student x assignment table of the course gradebook")
    book.add_argument("--course", help=course_help)
    wipe = sub.add_parser("clean", help="remove the demo's course folder (only one the demo made), after asking")
    wipe.add_argument("--into", help=f"the demo's course folder (default: ./{DEMO_FOLDER})")
    wipe.add_argument("--yes", action="store_true", help="do not ask")
    grade = sub.add_parser("grade", help="autograde the class in parallel (nbgrader's autograde, same gradebook)")
    grade.add_argument("assignments", nargs="*", help="default: all (01, 01_linear_regression or linear_regression)")
    grade.add_argument("-j", "--jobs", type=int, help="worker processes (default: two per core)")
    grade.add_argument("--force", action="store_true", help="regrade submissions already autograded")
    grade.add_argument("--course", help=course_help)
    grade.add_argument("--scheduler", help="grade on the workers of this Dask scheduler (tls://HOST:8786, with the "
                                           "cluster's certificates: c.MlkitGrade.tls_ca_file, tls_cert_file, "
                                           "tls_key_file); default: c.MlkitGrade.scheduler, else this machine")
    grade.add_argument("--private-network", action="store_true",
                       help="accept a plain tcp:// scheduler: only trusted machines reach its port "
                            "(default: c.MlkitGrade.private_network, else refused)")
    grade.add_argument("--feedback", action="store_true", help="also write each graded submission's feedback")
    pages = sub.add_parser("feedback", help="nbgrader's generate_feedback for the class, in parallel or on the "
                                            "Dask workers (pages as stock's)")
    pages.add_argument("assignments", nargs="*", help="default: all (01, 01_linear_regression or linear_regression)")
    pages.add_argument("-j", "--jobs", type=int, help="worker processes (default: one per core)")
    pages.add_argument("--force", action="store_true", help="write feedback already up to date again")
    pages.add_argument("--course", help=course_help)
    pages.add_argument("--scheduler", help="render on the workers of this Dask scheduler (as mlkit grade)")
    pages.add_argument("--private-network", action="store_true",
                       help="accept a plain tcp:// scheduler (as mlkit grade)")
    report = sub.add_parser("class-report", help="write the class report (HTML with a chart, and CSV) after autograding")
    report.add_argument("--out", default="reports", help="output folder, in the course folder (default: reports/)")
    report.add_argument("--course", help=course_help)
    self_grade = sub.add_parser("selfgrade", help="grade your own completed notebook (self-study), with feedback")
    self_grade.add_argument("notebook", help="your working copy of a release notebook")
    self_grade.add_argument("--assignment", help="which assignment it is (default: recognised from its cells)")
    self_grade.add_argument("--workspace", help="where attempts are graded and kept (default ~/.mlkit-selfstudy)")
    practise = sub.add_parser("practice", help="write a practice notebook (guided, blank or interview level) and "
                                                "start the clock; --mock: a timed mock interview")
    practise.add_argument("algorithm", nargs="?", help="assignment name, number or part of it (knn, 07, logistic)")
    practise.add_argument("--level", choices=["guided", "blank", "interview"],
                          help="default: the highest level open to you")
    practise.add_argument("--minutes", type=int, help="time limit (default: 45 guided, 30 blank, 20 interview)")
    practise.add_argument("--mock", nargs="?", const=True, default=False, metavar="ALGORITHM",
                          help="a mock interview (interview level, 20 minutes, always open) of ALGORITHM if given "
                               "(--mock knn), else of the weakest or most overdue algorithm")
    practise.add_argument("--open", action="store_true", help="start JupyterLab on the notebook")
    practise.add_argument("--workspace", help="self-study workspace (default ~/.mlkit-selfstudy)")
    study = sub.add_parser("study", help="write the study dashboard (mastery, what is due, plan, trend) and open it")
    study.add_argument("--workspace", help="self-study workspace (default ~/.mlkit-selfstudy)")
    study.add_argument("--no-open", action="store_true", help="only write it")
    rating = sub.add_parser("rate", help="rate your 60-second explanation against the model answer, or your mastery")
    rating.add_argument("algorithm")
    rating.add_argument("--explanation", type=int, nargs="?", const=0, metavar="1-5",
                        help="how well your explanation matched the model answer (without a number: asked)")
    rating.add_argument("--mastery", type=int, help="1 cannot, 2 vaguely, 3 can code, 4 can derive and code, 5 can teach")
    rating.add_argument("--workspace", help="self-study workspace (default ~/.mlkit-selfstudy)")
    hint = sub.add_parser("hint", help="the next hint for a failed check of your latest attempt "
                                       "(a question, then the formula with shapes, then that check's reference "
                                       "lines)")
    hint.add_argument("algorithm", nargs="?", help="default: the algorithm of your latest attempt")
    hint.add_argument("--check", help="which failed check (default: the first)")
    hint.add_argument("--give-up", action="store_true",
                      help="show the model 60-second answer before full marks (recorded: no mastery from this try)")
    hint.add_argument("--workspace", help="self-study workspace (default ~/.mlkit-selfstudy)")
    follow = sub.add_parser("followup", help="the interviewer's follow-up questions, open after full marks at the "
                                             "interview level: show, answer and rate them, or grade a code one")
    follow.add_argument("algorithm", nargs="?", help="assignment name, number or part of it (knn, 07, logistic)")
    follow.add_argument("question", nargs="?", help="a follow-up's id: its model answer (spoken) or its exercise "
                                                    "notebook (code); default: list the questions")
    follow.add_argument("--rate", type=int, metavar="N", help="1-5: how well your spoken answer matched the model")
    follow.add_argument("--grade", nargs="?", const="", metavar="NOTEBOOK",
                        help="grade a code follow-up's exercise (default: the notebook it wrote)")
    follow.add_argument("--mutate", action="store_true", help="the mutation score of the graded follow-ups' tests")
    follow.add_argument("-j", "--jobs", type=int, help="with --mutate: mutants run at once (default: one per core)")
    follow.add_argument("--workspace", help="self-study workspace (default ~/.mlkit-selfstudy)")
    scaffold = sub.add_parser("new", help="a new notebook in source/NN_name/ in the kit's seven sections, with its "
                                          "diagnostics file and catalog folder")
    scaffold.add_argument("name", help="two digits, an underscore, a name: 11_ridge_regression")
    scaffold.add_argument("--title", help='the notebook\'s title (default: from the name)')
    scaffold.add_argument("--course", help=course_help)
    linter = sub.add_parser("lint", help="check source notebooks the way the kit relies on them")
    linter.add_argument("assignments", nargs="*", help="default: all")
    linter.add_argument("--course", help=course_help)
    mutate = sub.add_parser("mutate", help="the mutation score of a notebook's hidden tests, with the survivors")
    mutate.add_argument("assignment")
    mutate.add_argument("--confirm", type=int, default=0, metavar="N",
                        help="grade a sample of N mutants again through nbgrader autograde")
    mutate.add_argument("-j", "--jobs", type=int, help="mutants run at once (default: one per core)")
    mutate.add_argument("--course", help=course_help)
    similar = sub.add_parser("similarity", help="rank pairs of submissions whose answer code is suspiciously alike "
                                               "(reports/similarity_ASSIGNMENT.html and .csv)")
    similar.add_argument("assignment", help="01, 01_linear_regression or linear_regression")
    similar.add_argument("--archive", help="earlier cohorts' notebooks to compare with: any "
                                           "<student>/<ASSIGNMENT>/*.ipynb below this folder")
    similar.add_argument("--threshold", type=float, help="similarity flagged (default: 0.6)")
    similar.add_argument("--out", default="reports", help="output folder, in the course folder (default: reports/)")
    similar.add_argument("--course", help=course_help)
    from mlkit.reports import lms  # its verbs' arguments are defined beside their code

    lms.add_commands(sub, course_help)  # the LMS's files: export, roster import, handback
    build = sub.add_parser("student-build", help="what students receive: release/ and the kit's wheel, "
                                                  "without source/ or the catalog")
    build.add_argument("out", help="an empty or new folder")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse `argv` (default: the process's arguments), run the verb's function and return its exit status; a
    refusal (`invocation.CommandRefused`: no course there, no such assignment, ...) is printed as
    `mlkit VERB: reason` with status 2."""
    try:
        args = build_parser().parse_args(argv)
        module, function = VERBS[args.command].split(":")
        try:
            return getattr(importlib.import_module(module), function)(args) or 0
        except invocation.CommandRefused as refused:
            print(f"mlkit {args.command}: {refused}", file=sys.stderr)
            return 2
    except BrokenPipeError:
        # The reader went away (`mlkit ... | head`): what it did not read is not an error of the command's.
        # Python would report the pipe again when it flushes stdout at exit; point stdout at nothing first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # what a shell reports for a process ended by SIGPIPE (128 + 13)


if __name__ == "__main__":
    sys.exit(main())
