"""GRPO's group-relative advantage: each reward minus the mean reward of its group.

Plain Python (no torch), so lesson 11's table policy (:mod:`rlcourse.postmortem`) and the language
model trainer (:mod:`rlcourse.rl`) share this one definition.
"""

from __future__ import annotations


def groups_of(rewards: list[float], group_size: int) -> list[list[float]]:
    """Consecutive ``group_size`` items: the rollouts of one example."""
    if len(rewards) % group_size:
        raise ValueError(f"{len(rewards)} rewards do not split into groups of {group_size}")
    return [rewards[start : start + group_size] for start in range(0, len(rewards), group_size)]


def group_advantages(rewards: list[float], group_size: int | None = None) -> list[float]:
    """GRPO's advantage: each reward minus the mean reward of its group (consecutive ``group_size``
    items; ``None``: all of ``rewards`` are one group). A group's advantages sum to 0."""
    if group_size is None:
        group_size = len(rewards) or 1
    return [r - sum(group) / len(group) for group in groups_of(rewards, group_size) for r in group]
