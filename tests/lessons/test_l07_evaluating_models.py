"""Graders for lesson 07 (evaluating models): outcome counts, Wilson interval, two-proportion test,
paired comparison.

``nb`` holds the notebook's setup and exercise definitions (see tests/conftest.py).
"""

from __future__ import annotations

import math
import random

import pytest

import tictactoe
from helpers import build, replies
from rlcourse.clients import InProcessClient
from rlcourse.evaluation import evaluate, wilson_interval
from rlcourse.policies import Reply, ScriptedPolicy
from rlcourse.scripted import ttt_heuristic

# ---------------------------------------------------------------------------------------------
# Exercise 7.1: outcome_counts
# ---------------------------------------------------------------------------------------------


def clumsy_teacher(messages, tools, rng):
    """An invalid first reply, then the teacher's moves."""
    if not any(m["role"] == "assistant" for m in messages):
        return Reply(content="<think>Centre.</think>\n<move>nine</move>")
    return ttt_heuristic(messages, tools, rng)


def played(policy, opponent_p: float, games: int = 24) -> list[dict]:
    env = build(tictactoe.load_environment, num_eval_examples=games, min_random_move_prob=opponent_p,
                max_random_move_prob=opponent_p)
    client = InProcessClient(policy if isinstance(policy, str) else ScriptedPolicy(policy, "grader stand-in"), seed=3)
    return evaluate(env, "grader", client, num_examples=games, state_columns=["board", "outcome", "invalid_moves"])


def expected_counts(rows: list[dict]) -> dict[str, int]:
    counts = {"win": 0, "draw": 0, "loss": 0, "invalid": 0}
    for row in rows:
        outcome = None if row.get("error") else row.get("outcome")
        counts[outcome if outcome in ("win", "draw") else "loss"] += 1
        counts["invalid"] += bool(row.get("invalid_moves", 0) > 0 or row.get("error"))
    return counts


def failed_call_row(example_id: int, outcome: str | None = None) -> dict:
    """What a rollout looks like when the model call itself failed: error set, nothing finished (or, with
    ``outcome``, a game whose state still reports an outcome although the rollout ended with an error)."""
    return {"example_id": example_id, "prompt": [], "completion": [], "reward": 0.0, "outcome": outcome,
            "invalid_moves": 0, "board": tictactoe.EMPTY_BOARD, "error": "EmptyModelResponseError: empty reply",
            "metrics": {"win": 0.0, "draw": 0.0, "loss": 1.0, "invalid_moves": 0.0}}


def counts_of(nb, rows, what):
    got = nb.outcome_counts(rows)
    assert hasattr(got, "get"), f"outcome_counts should return a dict, got {type(got).__name__}"
    missing = [k for k in ("win", "draw", "loss", "invalid") if k not in got]
    assert not missing, f"outcome_counts should return the keys win, draw, loss and invalid; missing {missing}"
    return {k: got[k] for k in ("win", "draw", "loss", "invalid")}


def test_ex7_1_outcome_counts(nb):
    cases = [
        ("the teacher against the optimal opponent (wins impossible, a few losses)", played("scripted/ttt-heuristic", 0.0)),
        ("the random stand-in against the random opponent", played("scripted/ttt-random", 1.0)),
        ("a player whose first reply is invalid (every game has an invalid move)", played(clumsy_teacher, 0.5)),
        ("a player that never sends a move (every game ends unfinished at the turn cap, outcome None)",
         played(replies("I pass."), 1.0, games=6)),
    ]
    for what, rows in cases:
        got, expected = counts_of(nb, rows, what), expected_counts(rows)
        assert got == expected, f"for {what}: expected {expected}, got {got}"
    mixed = cases[0][1][:5] + [failed_call_row(100), failed_call_row(101)]
    got, expected = counts_of(nb, mixed, "failed calls"), expected_counts(mixed)
    assert got["loss"] == expected["loss"], (
        f"a game whose model call failed (error set, outcome None) counts as a loss: expected {expected['loss']} "
        f"losses, got {got['loss']}")
    assert got == expected, f"a failed call (error set) is a loss and an invalid-move game: expected {expected}, got {got}"
    assert sum(got[k] for k in ("win", "draw", "loss")) == len(mixed)
    reported = [failed_call_row(102, "win"), failed_call_row(103, "draw")]
    got = counts_of(nb, reported, "failed calls that report an outcome")
    assert (got["win"], got["draw"], got["loss"], got["invalid"]) == (0, 0, 2, 2), (
        "a game with an error counts as lost (and as an invalid-move game) whatever its outcome says: two such games "
        f"reporting 'win' and 'draw' should give 0 wins, 0 draws, 2 losses, 2 invalid; got {got}")
    assert counts_of(nb, [], "no games") == {"win": 0, "draw": 0, "loss": 0, "invalid": 0}, \
        "with no rows every count is 0"


# ---------------------------------------------------------------------------------------------
# Exercise 7.2: wilson
# ---------------------------------------------------------------------------------------------


def test_ex7_2_wilson_interval(nb):
    low, high = nb.wilson(0, 100)
    assert high > 0.0, ("with 0 successes out of 100 the upper end must stay above 0 (about 0.037); [0, 0] is what "
                        "the Wald interval p ± 1.96·sqrt(p(1-p)/n) gives, not Wilson's")
    for n in (1, 2, 5, 10, 33, 100, 1000):
        for k in range(n + 1) if n <= 100 else (0, 1, 7, 500, 993, 1000):
            got = nb.wilson(k, n)
            expected = wilson_interval(k, n)
            assert len(got) == 2, f"wilson({k}, {n}) should return a pair (low, high), got {got!r}"
            assert got[0] == pytest.approx(expected[0], abs=1e-9) and got[1] == pytest.approx(expected[1], abs=1e-9), (
                f"wilson({k}, {n}) should be ({expected[0]:.6f}, {expected[1]:.6f}), got ({got[0]:.6f}, {got[1]:.6f})"
                + (" (fractions, not percentages)" if got[1] > 1.5 else ""))
            assert 0.0 <= got[0] <= k / n + 1e-12 and k / n - 1e-12 <= got[1] <= 1.0, \
                f"wilson({k}, {n}) = {got} must contain {k}/{n} and stay inside [0, 1]"
    got = nb.wilson(30, 100, z=2.576)
    expected = wilson_interval(30, 100, z=2.576)
    assert got == pytest.approx(expected, abs=1e-9), f"wilson(30, 100, z=2.576) should use z: expected {expected}, got {got}"
    for bad in [(1, 0), (-1, 10), (11, 10)]:
        try:
            nb.wilson(*bad)
        except ValueError:
            continue
        raise AssertionError(f"wilson{bad} should raise ValueError (n must be positive, 0 <= successes <= n)")


# ---------------------------------------------------------------------------------------------
# Exercise 7.3: two_proportion_test
# ---------------------------------------------------------------------------------------------


def reference_test(k1, n1, k2, n2):
    pooled = (k1 + k2) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if spread == 0:
        return 0.0, 1.0
    z = (k1 / n1 - k2 / n2) / spread
    return z, math.erfc(abs(z) / math.sqrt(2))


def test_ex7_3_two_proportion_test(nb):
    z, p = nb.two_proportion_test(90, 100, 74, 100)
    assert z == pytest.approx(2.9448, abs=1e-3), (f"90/100 against 74/100 should give z ≈ 2.945, got {z}"
                                                  + (" (the spread uses the pooled rate (k1 + k2) / (n1 + n2) for both "
                                                     "samples, not each sample's own rate)" if abs(z - 3.0108) < 1e-3 else ""))
    assert p == pytest.approx(0.00323, abs=1e-4), (f"90/100 against 74/100 should give a two-sided p ≈ 0.0032, got {p}"
                                                   + (" (that is the one-sided p; double it)" if abs(p - 0.0016) < 2e-4 else ""))
    z, p = nb.two_proportion_test(74, 100, 90, 100)
    assert z < 0, f"z should be negative when the first rate is the lower one, got {z}"
    cases = [(50, 100, 64, 100), (3, 10, 7, 10), (200, 400, 180, 400), (45, 60, 120, 200), (1, 1000, 9, 1000),
             (0, 50, 5, 50), (100, 100, 97, 100), (20, 40, 20, 40)]
    rng = random.Random(7)
    for _ in range(40):
        n1, n2 = rng.randint(1, 500), rng.randint(1, 500)
        cases.append((rng.randint(0, n1), n1, rng.randint(0, n2), n2))
    for case in cases:
        got = nb.two_proportion_test(*case)
        expected = reference_test(*case)
        assert len(got) == 2, f"two_proportion_test{case} should return a pair (z, p_value), got {got!r}"
        if expected == (0.0, 1.0):
            assert got[0] == pytest.approx(0.0) and got[1] == pytest.approx(1.0), \
                f"two_proportion_test{case}: the pooled rate is 0 or 1, return (0.0, 1.0); got {got}"
            continue
        assert got[0] == pytest.approx(expected[0], rel=1e-6, abs=1e-9), \
            f"two_proportion_test{case}: z should be {expected[0]:.5f}, got {got[0]:.5f} (use the pooled rate)"
        assert got[1] == pytest.approx(expected[1], rel=1e-6, abs=1e-12), \
            f"two_proportion_test{case}: the two-sided p-value should be {expected[1]:.6f}, got {got[1]:.6f}"
    for case in [(0, 100, 0, 100), (100, 100, 100, 100), (0, 3, 0, 7)]:
        got = nb.two_proportion_test(*case)
        assert tuple(got) == pytest.approx((0.0, 1.0)), \
            f"two_proportion_test{case}: both rates are 0% (or both 100%), so return (0.0, 1.0); got {got}"


# ---------------------------------------------------------------------------------------------
# Exercise 7.4: paired_record
# ---------------------------------------------------------------------------------------------


def rows_of(outcomes: dict[int, str | None]) -> list[dict]:
    return [{"example_id": i, "outcome": o, "error": None, "reward": 0.0} for i, o in outcomes.items()]


def reference_record(rows_a, rows_b, outcome):
    a = {r["example_id"]: r["outcome"] == outcome for r in rows_a}
    b = {r["example_id"]: r["outcome"] == outcome for r in rows_b}
    common = a.keys() & b.keys()
    only_a, only_b = sum(a[i] and not b[i] for i in common), sum(b[i] and not a[i] for i in common)
    return only_a, only_b, len(common) - only_a - only_b


def test_ex7_4_paired_record(nb):
    a = rows_of({0: "win", 1: "draw", 2: "loss", 3: None, 4: "win", 5: "win", 6: "draw"})
    b = rows_of({0: "draw", 1: "draw", 2: "win", 3: "loss", 4: "win", 5: "loss", 6: "win"})
    got = tuple(nb.paired_record(a, b))
    assert got == (2, 2, 3), (f"A: win, draw, loss, unfinished, win, win, draw against B: draw, draw, win, loss, win, "
                              f"loss, win should give (only A won 2, only B won 2, both or neither 3), got {got}")
    got = tuple(nb.paired_record(a, b, "draw"))
    assert got == (1, 1, 5), f"the same games with outcome='draw' should give (1, 1, 5), got {got}"
    got = tuple(nb.paired_record(a, list(reversed(b))))
    assert got == (2, 2, 3), f"games must be matched by example_id, not by position in the list: got {got} with B reversed"
    assert tuple(nb.paired_record(b, a)) == (2, 2, 3) and tuple(nb.paired_record(b, a, "draw")) == (1, 1, 5)
    lopsided_a = rows_of({0: "win", 1: "win", 2: "loss"})
    lopsided_b = rows_of({0: "loss", 1: "win", 2: "loss"})
    assert tuple(nb.paired_record(lopsided_a, lopsided_b)) == (1, 0, 2), \
        "only A won game 0, both won game 1, neither won game 2: expected (1, 0, 2)"
    assert tuple(nb.paired_record(lopsided_b, lopsided_a)) == (0, 1, 2), "swapping the players should swap the first two counts"
    rng = random.Random(11)
    for _ in range(20):
        ids = rng.sample(range(200), 60)
        a = rows_of({i: rng.choice(["win", "draw", "loss", None]) for i in ids})
        b_ids = ids[:50] + rng.sample(range(200, 300), 5)  # 10 games only in A, 5 only in B
        b = rows_of({i: rng.choice(["win", "draw", "loss", None]) for i in b_ids})
        rng.shuffle(b)
        for outcome in ("win", "draw"):
            expected, got = reference_record(a, b, outcome), tuple(nb.paired_record(a, b, outcome))
            assert got == expected, (f"with outcome={outcome!r}, games present in only one list (skip them) and B "
                                     f"shuffled: expected {expected}, got {got}")
    same = rows_of({i: "draw" for i in range(7)})
    assert tuple(nb.paired_record(same, same, "draw")) == (0, 0, 7), "a player against itself: every game is 'both or neither'"
