"""`mlkit` command line: the course's jobs, each a thin layer over nbgrader's own commands."""

from __future__ import annotations

import argparse
import sys

from mlkit import catalog, classreport, course, demo, selfstudy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlkit", description="NumPy ML course kit on nbgrader.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="build release/, autograde the sample class, write feedback, print the gradebook")
    rel = sub.add_parser("release", help="regenerate release/ from source/ with nbgrader generate_assignment")
    rel.add_argument("assignments", nargs="*", help="default: all")
    sub.add_parser("gradebook", help="print the student x assignment table of the course gradebook")
    sub.add_parser("clean", help="remove the sample class, autograded/, feedback/ and gradebook.db")
    grade = sub.add_parser("grade", help="autograde the class in parallel (nbgrader's autograde, same gradebook)")
    grade.add_argument("assignments", nargs="*", help="default: all")
    grade.add_argument("-j", "--jobs", type=int, help="worker processes (default: two per core)")
    grade.add_argument("--force", action="store_true", help="regrade submissions already autograded")
    grade.add_argument("--course", help="course folder (default: this kit's)")
    report = sub.add_parser("class-report", help="write the class report (HTML with a chart, and CSV) after autograding")
    report.add_argument("--out", default="reports", help="output folder (default: reports/)")
    self_grade = sub.add_parser("selfgrade", help="grade your own completed notebook (self-study), with feedback")
    self_grade.add_argument("notebook", help="your working copy of a release notebook")
    self_grade.add_argument("--assignment", help="which assignment it is (default: recognised from its cells)")
    self_grade.add_argument("--workspace", help="where attempts are graded and kept (default ~/.mlkit-selfstudy)")
    args = parser.parse_args(argv)

    if args.command == "demo":
        demo.run()
    elif args.command == "release":
        demo.release(course.ROOT, args.assignments or catalog.assignments())
    elif args.command == "gradebook":
        print(course.format_gradebook(course.gradebook(course.ROOT), catalog.assignments()))
    elif args.command == "clean":
        demo.clean()
    elif args.command == "grade":
        from mlkit import grade as grading  # imports nbgrader: only when grading

        return grading.main(args.assignments, args.jobs, args.force, args.course)
    elif args.command == "class-report":
        for path in classreport.write(course.ROOT, course.ROOT / args.out):
            print(path)
    elif args.command == "selfgrade":
        return selfstudy.main(args.notebook, args.workspace, args.assignment)
    return 0


if __name__ == "__main__":
    sys.exit(main())
