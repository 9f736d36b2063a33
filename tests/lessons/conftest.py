"""The lesson graders' fixture: ``nb``, a lesson notebook's setup and exercise cells, run on the
solution (must pass) and on the lesson's stub (must raise NotImplementedError)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rlcourse.grading import load_notebook

ROOT = Path(__file__).resolve().parents[2]
GRADER_MODULE_RE = re.compile(r"^test_l(\d\d)_(\w+)$")


def notebook_for(module_name: str, target: str) -> Path:
    """tests/lessons/test_lNN_slug.py -> <target>/NN_slug.ipynb (target: "solutions" or "lessons")."""
    match = GRADER_MODULE_RE.match(module_name.rsplit(".", 1)[-1])
    if not match:
        raise ValueError(f"the nb fixture serves grader modules named test_lNN_slug.py, not {module_name}")
    return ROOT / target / f"{match.group(1)}_{match.group(2)}.ipynb"


@pytest.fixture(scope="module", params=[
    "solutions",
    pytest.param("lessons", marks=pytest.mark.xfail(raises=NotImplementedError, strict=True)),
])
def nb(request):
    """The globals of the lesson's setup + exercise cells: the solution's, then the stub's.

    On the ``lessons`` target every grader must raise NotImplementedError (strict xfail): a grader
    that passes on a stub checks nothing.
    """
    path = notebook_for(request.module.__name__, request.param)
    if not path.exists():
        hint = "run `make lessons`" if request.param == "lessons" else "write it"
        pytest.fail(f"{path.relative_to(ROOT)} does not exist ({hint})", pytrace=False)
    return load_notebook(path)
