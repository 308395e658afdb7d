"""nbgrader's start-up in a command that only grades (`mlkit selfgrade`, `mlkit hint`, `mlkit followup`).

Two costs of stock nbgrader that such a command never needs, each cut here explicitly (nothing happens on
import of this module), with nbgrader's own applications and gradebook otherwise untouched:

- `without_server_extensions()`: `import nbgrader` (and so every `import nbgrader.<anything>`) first runs
  the package's `__init__.py`, which imports its four Jupyter server extensions (assignment list, course
  list, formgrader, validate) and with them Jupyter Server and its web handlers; nbgrader has no switch
  for it and no narrower entry point (every module is below that package).  This registers the `nbgrader`
  package without running that file: its submodules (`nbgrader.apps`, `nbgrader.api`, the
  preprocessors, ...) import exactly as before, because a package's submodules need only its path, and
  `nbgrader.__version__` is set as the file sets it.  Anything else asked of the package itself (the
  extension hooks `_jupyter_server_extension_points`, `_load_jupyter_server_extension`, ...) runs the
  real `__init__.py` at that moment and is answered from it.  Called before anything imports nbgrader;
  afterwards it changes nothing.
- `gradebook_version_in_process()`: a new gradebook is stamped with the head revision of nbgrader's
  database migrations, which nbgrader finds by running the `alembic heads` command: a second Python
  process that imports all of nbgrader, its server extensions included (seconds of CPU, on every first
  attempt of a new self-study workspace).  This asks alembic's own script directory for the same head in
  this process (`nbgrader.api.get_alembic_version`, replaced).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading

PACKAGE = "nbgrader"


def without_server_extensions() -> bool:
    """Register nbgrader without its server extensions; whether it did (False: nbgrader is imported already).

    Input: none; it changes `sys.modules` of this process only."""
    if PACKAGE in sys.modules:
        return False
    spec = importlib.util.find_spec(PACKAGE)
    package = importlib.util.module_from_spec(spec)  # __path__, __file__, __spec__: enough for submodules
    full_load = threading.Lock()
    loaded = False

    def __getattr__(name: str):
        """A name the short registration lacks: a submodule by itself, anything else from the real file."""
        nonlocal loaded
        if name.startswith("__") or loaded:
            raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}")
        if importlib.util.find_spec(f"{PACKAGE}.{name}") is not None:
            __import__(f"{PACKAGE}.{name}")  # the interpreter's own import, which `-X importtime` reports
            return sys.modules[f"{PACKAGE}.{name}"]
        with full_load:
            if not loaded:
                loaded = True  # the file's own imports ask the package for names it has not defined yet
                spec.loader.exec_module(package)
        try:
            return package.__dict__[name]
        except KeyError:
            raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}") from None

    package.__getattr__ = __getattr__
    sys.modules[PACKAGE] = package
    try:
        package.__version__ = importlib.import_module(f"{PACKAGE}._version").__version__
    except BaseException:
        del sys.modules[PACKAGE]
        raise
    return True


def _alembic_head() -> str:
    """The head revision of nbgrader's migrations, as `alembic -c INI heads` prints it first."""
    from alembic.script import ScriptDirectory
    from nbgrader import dbutil

    return ScriptDirectory(dbutil.ALEMBIC_DIR).get_revisions("heads")[0].revision


def gradebook_version_in_process() -> None:
    """Make nbgrader find the version stamp of a new gradebook without starting `alembic` (imports nbgrader.api).

    Input: none; it replaces `nbgrader.api.get_alembic_version` in this process."""
    from nbgrader import api

    api.get_alembic_version = _alembic_head
