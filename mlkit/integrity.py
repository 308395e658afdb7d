"""The old name of `mlkit.grading.integrity`, for course configurations written before the kit's modules were grouped.

`nbgrader_config.py` names nbgrader plug-ins by module path; a course folder copied from an older kit
names this one.  It is the same module object, not a copy.
"""

import sys

from mlkit.grading import integrity as _module

sys.modules[__name__] = _module
