"""The tests' shared helpers: build verifiers environments and run rollouts in process, for the
environment tests (tests/test_env_*.py) and the lesson graders (tests/lessons/test_lNN_*.py).

``check()`` runs a grader in a worker thread, and verifiers 0.2.1 installs SIGINT/SIGTERM handlers
whenever an ``Environment`` is built, which Python allows only in the main thread ("signal only works
in main thread"). :func:`build` builds an environment from any thread: off the main thread those two
handler installations are skipped (they only matter for a process that gets interrupted, and the
notebook's kernel keeps its own). :func:`rollouts` evaluates an environment with a scripted policy
through :class:`~rlcourse.clients.InProcessClient` (no server, no HTTP), also from any thread;
:func:`run_rollouts` is the same with the environment tests' defaults. :func:`replies` scripts a policy.
:func:`reachable_positions` walks every legal Tic-Tac-Toe position; :func:`teacher_conversation` is a
plausible game for the tiny-model tests; :func:`loss_value_and_grad` runs a learner's RL loss function.
"""

from __future__ import annotations

import random
from typing import Any, Callable

import tictactoe as ttt

from rlcourse.clients import InProcessClient, run_coroutine
from rlcourse.grading import environments_buildable
from rlcourse.policies import Policy, Reply, ScriptedPolicy


def build(factory: Callable[..., Any], *args, **kwargs) -> Any:
    """``factory(*args, **kwargs)`` (a class or function that builds an Environment), from any thread."""
    with environments_buildable():
        return factory(*args, **kwargs)


def _quiet(*args, **kwargs) -> None:
    return None


def rollouts(env, policy, num_examples: int = -1, rollouts_per_example: int = 1, state_columns=(),
             seed: int = 0, sampling_args: dict | None = None, max_concurrent: int = 16) -> list[dict[str, Any]]:
    """Evaluate ``env`` in process with ``policy`` (a model id like "scripted/tool-caller", a Policy,
    or a function ``(messages, tools, rng) -> Reply``); return verifiers' outputs (messages stay
    verifiers objects, as reward functions see them)."""
    if callable(policy) and not isinstance(policy, Policy):
        policy = ScriptedPolicy(policy, "grader policy")
    client = InProcessClient(policy, seed=seed)
    results = run_coroutine(env.evaluate(
        client=client, model="grader", sampling_args=sampling_args or {}, num_examples=num_examples,
        rollouts_per_example=rollouts_per_example, max_concurrent=max_concurrent, state_columns=list(state_columns),
        on_start=_quiet, on_progress=_quiet, on_log=_quiet))
    return results["outputs"]


def run_rollouts(env, policy, num_examples: int = 10, rollouts_per_example: int = 1,
                 state_columns=("board", "outcome", "invalid_moves"), seed: int = 0, sampling_args=None):
    """:func:`rollouts` with the environment tests' defaults (10 examples, the Tic-Tac-Toe state, 32 at once)."""
    return rollouts(env, policy, num_examples, rollouts_per_example, state_columns, seed, sampling_args,
                    max_concurrent=32)


def replies(*texts: str):
    """A policy whose k-th reply in every conversation is ``texts[k]`` (then it repeats the last)."""

    def policy(messages, tools, rng):
        k = sum(1 for m in messages if m.get("role") == "assistant")
        return Reply(content=texts[min(k, len(texts) - 1)])

    return policy


def call(fn: Callable[..., Any], *args, **kwargs) -> Any:
    """Call a sync or async function (reward functions, stop conditions) and return its value."""
    value = fn(*args, **kwargs)
    if hasattr(value, "__await__"):
        value = run_coroutine(_await(value))
    return value


async def _await(awaitable):
    return await awaitable


def reachable_positions(firsts: str = "XO") -> set[tuple[str, str]]:
    """Every (board, player to move) reachable in legal play from the empty board, for games started
    by each player in ``firsts`` (terminal positions included)."""
    seen: set[tuple[str, str]] = set()
    for first in firsts:
        stack = [(ttt.EMPTY_BOARD, first)]
        while stack:
            board, player = stack.pop()
            if (board, player) in seen:
                continue
            seen.add((board, player))
            if ttt.winner(board) is None and "." in board:
                stack.extend((ttt.play(board, m, player), ttt.other(player)) for m in ttt.legal_moves(board))
    return seen


def teacher_conversation(seed: int) -> list[dict]:
    """A plausible full game conversation, built from the environment's own messages."""
    rng = random.Random(seed)
    board = ttt.EMPTY_BOARD
    messages = [{"role": "system", "content": ttt.FULL_SYSTEM_PROMPT},
                {"role": "user", "content": ttt.opening_message(board, None)}]
    while True:
        cell = rng.choice(ttt.legal_moves(board))
        messages.append({"role": "assistant", "content": f"<think>I try {cell}.</think>\n<move>{cell}</move>"})
        board = ttt.play(board, cell, "X")
        if ttt.is_over(board):
            return messages
        reply = rng.choice(ttt.legal_moves(board))
        board = ttt.play(board, reply, "O")
        if ttt.is_over(board):
            return messages
        messages.append({"role": "user", "content": ttt.turn_message(board, cell, reply)})


def as_number(got, name: str, expected: str = "one number") -> float:
    """A learner's return value as a float, or an AssertionError that says what ``name`` returned."""
    assert got is not None, f"{name} should return a number (it returned None)"
    try:
        return float(got)
    except (TypeError, ValueError):
        raise AssertionError(f"{name} should return {expected}, got {got!r}") from None


def loss_value_and_grad(fn: Callable, name: str, logprobs, old_logprobs, advantages, mask, gradient_hint: str,
                        **kwargs) -> tuple[float, Any]:
    """A loss function of lessons 09 and 11 on copies of its inputs: its value and d loss / d logprobs,
    with a clear message when it is not a 0-dimensional tensor that gradients flow through."""
    import torch

    x = logprobs.clone().requires_grad_(True)
    loss = fn(x, old_logprobs.clone(), advantages.clone(), mask.clone(), **kwargs)
    assert isinstance(loss, torch.Tensor) and loss.dim() == 0, \
        f"{name} should return a single number as a 0-dimensional tensor, got {loss!r}"
    assert loss.requires_grad, (f"the loss has no gradient: compute it from logprobs with torch operations "
                                f"({gradient_hint}), so that loss.backward() reaches logprobs")
    loss.backward()
    return loss.item(), x.grad if x.grad is not None else torch.zeros_like(x)
