"""Every grader rejects the plausible wrong answers in tests/wrong_answers/ and accepts the correct
alternatives there, graded by ``check`` exactly as in a learner's notebook."""

from __future__ import annotations

import contextlib
import io
import importlib
import pkgutil
import re
import sys
from pathlib import Path

import pytest

import wrong_answers
from rlcourse.grading import check, load_notebook

ROOT = Path(__file__).resolve().parents[1]


def cases(kind: str) -> list:
    found = []
    for module in pkgutil.iter_modules(wrong_answers.__path__):
        lesson = int(module.name[1:])
        for exercise, description, source in getattr(importlib.import_module(f"wrong_answers.{module.name}"), kind):
            found.append(pytest.param(lesson, exercise, source, id=f"{exercise} {description}"))
    return found


def grade(lesson: int, exercise: str, source: str) -> tuple[bool, str]:
    """``check``'s result and its printed verdict for ``source`` run in a fresh load of the solution.

    The answer runs in the notebook module's own namespace, so the setup cells' functions (which look
    names up there) use it too, as they would in the learner's kernel.
    """
    (path,) = (ROOT / "solutions").glob(f"{lesson:02d}_*.ipynb")
    module_name = load_notebook(path).__name__
    namespace = vars(sys.modules[module_name])
    try:
        exec(compile(source, f"<answer to {exercise}>", "exec"), namespace)
        verdict = io.StringIO()
        with contextlib.redirect_stdout(verdict):
            passed = check(exercise, namespace=namespace, timeout=30)
    finally:
        sys.modules.pop(module_name, None)  # one fresh notebook module per answer; do not keep them all
    return passed, verdict.getvalue()


@pytest.mark.parametrize("lesson,exercise,source", cases("WRONG"))
def test_grader_rejects_a_wrong_answer(lesson, exercise, source):
    passed, verdict = grade(lesson, exercise, source)
    assert not passed, verdict
    # rejected for what it gets wrong, not because the fixture itself is broken
    assert "raised NameError" not in verdict and "not solved yet" not in verdict, verdict


@pytest.mark.parametrize("lesson,exercise,source", cases("RIGHT"))
def test_grader_accepts_a_correct_alternative(lesson, exercise, source):
    passed, verdict = grade(lesson, exercise, source)
    assert passed, verdict


def test_every_exercise_has_wrong_answers():
    """Every exercise of a lesson that has a wrong_answers module appears in its WRONG list."""
    for module in pkgutil.iter_modules(wrong_answers.__path__):
        lesson = int(module.name[1:])
        (path,) = (ROOT / "solutions").glob(f"{lesson:02d}_*.ipynb")
        exercises = set(re.findall(r'check\(\\"(\d+\.\d+)\\"\)', path.read_text()))
        covered = {exercise for exercise, _, _ in importlib.import_module(f"wrong_answers.{module.name}").WRONG}
        assert exercises and exercises <= covered, f"lesson {lesson}: no wrong answers for {sorted(exercises - covered)}"
