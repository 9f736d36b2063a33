"""Shared fixtures: offline settings and a local server per session. The lesson graders' ``nb`` fixture
is in tests/lessons/conftest.py; the shared helper functions (in-process rollouts, scripted replies)
in tests/helpers.py."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
# Notebooks collected by nbmake (`pytest tests solutions --nbmake`) inherit this: quick mode unless
# the caller chose otherwise (COURSE_QUICK=0 runs them in full).
os.environ.setdefault("COURSE_QUICK", "1")

import pytest  # noqa: E402

from rlcourse.server import LocalServer  # noqa: E402


@pytest.fixture(scope="session")
def local_server():
    with LocalServer() as server:
        yield server


@pytest.fixture(autouse=True)
def global_seed():
    """With COURSE_TEST_SEED set, seed Python's, NumPy's and torch's global generators before every test.

    A grader must not depend on them: tools/check_grader_determinism.py runs the graders under several
    seeds and compares the verdicts. Without the variable nothing is seeded.
    """
    value = os.environ.get("COURSE_TEST_SEED")
    if value is not None:
        import random

        import numpy
        import torch

        random.seed(int(value))
        numpy.random.seed(int(value))
        torch.manual_seed(int(value))
    yield
