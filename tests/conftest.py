"""Shared fixtures: offline settings, a local server per session, in-process rollouts, and the
``nb`` fixture of the lesson graders."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
# Notebooks collected by nbmake (`pytest tests solutions --nbmake`) inherit this: quick mode unless
# the caller chose otherwise (COURSE_QUICK=0 runs them in full).
os.environ.setdefault("COURSE_QUICK", "1")

import pytest  # noqa: E402

from rlcourse.clients import InProcessClient  # noqa: E402
from rlcourse.grading import load_notebook  # noqa: E402
from rlcourse.policies import Reply, ScriptedPolicy  # noqa: E402
from rlcourse.server import LocalServer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GRADER_MODULE_RE = re.compile(r"^test_l(\d\d)_(\w+)$")


def notebook_for(module_name: str, target: str) -> Path:
    """tests/test_lNN_slug.py -> <target>/NN_slug.ipynb (target: "solutions" or "lessons")."""
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


@pytest.fixture(scope="session")
def local_server():
    with LocalServer() as server:
        yield server


def quiet(*args, **kwargs):
    return None


def run_rollouts(env, policy, num_examples: int = 10, rollouts_per_example: int = 1,
                 state_columns=("board", "outcome", "invalid_moves"), seed: int = 0, sampling_args=None):
    """Evaluate ``env`` with a policy (model id, Policy, or function) in process; return the outputs."""
    if callable(policy) and not isinstance(policy, ScriptedPolicy):
        policy = ScriptedPolicy(policy, "test policy")
    client = InProcessClient(policy, seed=seed)
    results = asyncio.run(env.evaluate(client=client, model="test", sampling_args=sampling_args or {},
                                       num_examples=num_examples, rollouts_per_example=rollouts_per_example,
                                       max_concurrent=32, state_columns=list(state_columns),
                                       on_start=quiet, on_progress=quiet, on_log=quiet))
    return results["outputs"]


def replies(*texts: str):
    """A policy that sends ``texts[k]`` as its k-th reply in every conversation (then repeats the last)."""

    def policy(messages, tools, rng):
        k = sum(1 for m in messages if m.get("role") == "assistant")
        return Reply(content=texts[min(k, len(texts) - 1)])

    return policy
