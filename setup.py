"""The kit's wheel carries the kit's own course, for `mlkit init`, the demo and self-study.

The course (nbgrader_config.py, source/ with its data, catalog/, SPEC.md) lives at the repository's root, where
instructors edit it; a wheel has no such root, so the build copies it into the package as
`mlkit/course_files/`. `mlkit.authoring.catalog.ROOT` reads it from there when the kit is not a checkout.
The students' hand-out (`mlkit student-build`) builds from a copy of the package alone, where there is no
course to pack: its wheel must carry no reference solution and no hidden test.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
COURSE = ("nbgrader_config.py", "source", "catalog", "SPEC.md")
SKIPPED = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc")


class BuildWithCourse(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "mlkit" / "course_files"
        shutil.rmtree(target, ignore_errors=True)  # an earlier build's copy in build/ must never linger
        if self.editable_mode or not (HERE / "source").is_dir():
            return
        target.mkdir(parents=True)
        for name in COURSE:
            if (HERE / name).is_dir():
                shutil.copytree(HERE / name, target / name, ignore=SKIPPED)
            else:
                shutil.copy2(HERE / name, target / name)


setup(cmdclass={"build_py": BuildWithCourse})
