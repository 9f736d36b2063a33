"""Shared fixtures: offline settings, a local server per session, and in-process rollouts."""

from __future__ import annotations

import asyncio
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pytest  # noqa: E402

from rlcourse.policies import Reply, ScriptedPolicy  # noqa: E402
from rlcourse.server import InProcessClient, LocalServer  # noqa: E402


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
