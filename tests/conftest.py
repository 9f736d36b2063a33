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
