"""The kit's wheel carries the kit's own course, for `mlkit init`, the demo and self-study.

The course (nbgrader_config.py, source/ with its data, catalog/, SPEC.md, and release/: self-study's practice
notebooks are cut from it) lives at the repository's root, where instructors edit it; a wheel has no such root,
so the build copies it into the package as `mlkit/course_files/`. `mlkit.layout.ROOT` reads it from there when
the kit is not a checkout.
The students' hand-out (`mlkit student-build`) builds from a copy of the package alone, where there is no
course to pack: its wheel must carry no reference solution and no hidden test.
"""

import atexit
import shutil
import tempfile
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
COURSE = ("nbgrader_config.py", "source", "release", "catalog", "SPEC.md")
SKIPPED = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc")


class BuildWithCourse(build_py):
    def run(self):
        super().run()
        if self.editable_mode or not (HERE / "source").is_dir():
            return
        target = Path(self.build_lib) / "mlkit" / "course_files"
        target.mkdir(parents=True)
        for name in COURSE:
            if (HERE / name).is_dir():
                shutil.copytree(HERE / name, target / name, ignore=SKIPPED)
            else:
                shutil.copy2(HERE / name, target / name)


# Each build in a build folder of its own: pip builds a local folder in place, and two builds sharing its
# build/ (two installs at once, or a stale copy of the course from an earlier build) must not meet.
BUILD_BASE = tempfile.mkdtemp(prefix="mlkit-build-")
atexit.register(shutil.rmtree, BUILD_BASE, True)

setup(cmdclass={"build_py": BuildWithCourse}, options={"build": {"build_base": BUILD_BASE}})
