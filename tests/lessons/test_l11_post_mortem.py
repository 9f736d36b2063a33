"""Graders for lesson 11 (post-mortem): positions never met in training, spotting a biased opponent,
the spread of results across seeds, PPO's clipped loss.

``nb`` holds the notebook's setup and exercise definitions (see tests/conftest.py).
"""

from __future__ import annotations

import functools
import math
import random
import statistics

import pytest
import torch

import tictactoe as ttt
from helpers import as_number, loss_value_and_grad
from rlcourse import postmortem as pm
from rlcourse import rl

# ---------------------------------------------------------------------------------------------
# Exercise 11.1: the share of X's decisions on positions never met in training
# ---------------------------------------------------------------------------------------------


def reference_unseen_share(positions, games) -> float:
    boards = [board for game in games for board, _ in game.x_moves]
    return sum(board not in positions for board in boards) / len(boards)


def share_of(nb, positions, games) -> float:
    return as_number(nb.unseen_share(positions, games), "unseen_share", "one number between 0 and 1")


@functools.lru_cache(maxsize=None)
def small_run():
    """A short run against the biased opponent (cached: check() gives graders no fixtures but nb)."""
    return pm.train(pm.TrainSettings(games=1024, batch_size=128, min_random_move_prob=0.0,
                                     max_random_move_prob=0.0, tie_break="first"))


def test_ex11_1_extremes(nb):
    games = pm.play_games(pm.TablePolicy(), 30, 1.0, seed=11)
    every = {board for game in games for board, _ in game.x_moves}
    got = share_of(nb, set(), games)
    assert got == pytest.approx(1.0), f"with an empty training set every decision is on an unseen position: expected 1.0, got {got}"
    got = share_of(nb, every, games)
    assert got == pytest.approx(0.0), f"when training met every board of these games the share is 0.0, got {got}"
    got = share_of(nb, frozenset(every), games)
    assert got == pytest.approx(0.0), "positions may come as any set-like collection (set, frozenset)"


def test_ex11_1_counts_decisions_not_distinct_boards(nb):
    empty_start = pm.Game(1, 0.0, True, x_moves=[(ttt.EMPTY_BOARD, 4), ("O...X....", 8)], outcome="draw")
    again = pm.Game(2, 0.0, True, x_moves=[(ttt.EMPTY_BOARD, 0)], outcome="loss")
    other = pm.Game(3, 0.0, False, x_moves=[("....O....", 0)], outcome="draw")
    got = share_of(nb, {"O...X...."}, [empty_start, again, other])
    assert got == pytest.approx(3 / 4), (
        "4 decisions, one of them (the board 'O...X....') seen in training: 3 of 4 unseen = 0.75; the empty board "
        f"appears in two games and counts twice; got {got}")


def test_ex11_1_matches_the_reference(nb):
    run = small_run()
    for opponent, p, tie in (("the biased optimal opponent", 0.0, "first"), ("the uniform optimal opponent", 0.0, "uniform"),
                             ("the random opponent", 1.0, "uniform")):
        games = pm.play_games(run.policy, 120, p, tie, seed=7)
        expected = reference_unseen_share(run.positions, games)
        got = share_of(nb, run.positions, games)
        assert got == pytest.approx(expected), (
            f"against {opponent}: {expected:.4f} of X's decisions are on boards the run never met, got {got:.4f}")


def test_ex11_1_refuses_games_without_a_decision(nb):
    with pytest.raises(ValueError):
        nb.unseen_share({"X........"}, [])
        raise AssertionError("unseen_share(positions, []) has no decision to count: raise ValueError (not 0/0)")
    no_decision = [pm.Game(1, 0.0, False, x_moves=[], outcome="loss"), pm.Game(2, 0.0, True, x_moves=[], outcome="loss")]
    try:
        got = nb.unseen_share({"X........"}, no_decision)
    except ValueError:
        return
    except ZeroDivisionError:
        raise AssertionError("two games holding no X decision: raise ValueError (there is nothing to count), not "
                             "ZeroDivisionError") from None
    raise AssertionError(f"two games holding no X decision (x_moves empty) give no decision to count: raise ValueError, "
                         f"not return {got!r}")


# ---------------------------------------------------------------------------------------------
# Exercise 11.2: is the opponent's tie-break biased?
# ---------------------------------------------------------------------------------------------


def reference_statistics(observations) -> dict:
    ties = first = 0
    expected = variance = 0.0
    for board, move in observations:
        best = ttt.best_moves(board, "O")
        if len(best) >= 2 and move in best:
            ties += 1
            first += move == best[0]
            expected += 1 / len(best)
            variance += (1 / len(best)) * (1 - 1 / len(best))
    return {"ties": ties, "first": first, "expected": expected, "variance": variance}


def reference_z(stats) -> float:
    return (stats["first"] - stats["expected"]) / math.sqrt(stats["variance"]) if stats["variance"] > 0 else 0.0


def observed(tie_break: str, p: float, games: int, seed: int):
    played = pm.play_games(pm.TablePolicy(), games, p, tie_break, seed=seed)
    return [move for game in played for move in game.o_moves]


KEYS = ("ties", "first", "expected", "variance")


def stats_of(nb, observations) -> dict:
    got = nb.tie_statistics(observations)
    assert isinstance(got, dict), f"tie_statistics should return a dict with the keys {KEYS}, got {got!r}"
    missing = [k for k in KEYS if k not in got]
    assert not missing, f"tie_statistics's dict lacks the keys {missing} (it should have {KEYS})"
    return got


def test_ex11_2_hand_cases(nb):
    # empty board: all 9 cells draw, so 9 equally good moves; O taking cell 0 is the first of them
    got = stats_of(nb, [(ttt.EMPTY_BOARD, 0)])
    assert (got["ties"], got["first"]) == (1, 1), f"O on the empty board took cell 0, the first of 9 best moves: got {got}"
    assert got["expected"] == pytest.approx(1 / 9) and got["variance"] == pytest.approx(1 / 9 * 8 / 9), (
        f"a uniform tie-break takes the first of 9 best moves with probability 1/9 (variance 1/9 x 8/9); got {got}")
    got = stats_of(nb, [(ttt.EMPTY_BOARD, 5)])
    assert (got["ties"], got["first"]) == (1, 0), f"cell 5 is a best move but not the first: got {got}"
    # X threatens 0-1-2: O's only good move is 2, no tie to learn from
    forced = "XX..O...."
    assert ttt.best_moves(forced, "O") == [2]
    got = stats_of(nb, [(forced, 2)])
    assert got["ties"] == 0 and got["first"] == 0 and got["expected"] == 0, (
        f"with a single best move there is no tie to break: that observation says nothing; got {got}")
    # a move that is not among the best ones (a random move) is not a tie-break either
    assert 7 not in ttt.best_moves(forced, "O")
    got = stats_of(nb, [(forced, 7), ("X........", 3)])
    best = ttt.best_moves("X........", "O")
    assert got["ties"] == 0, (f"neither observation is a choice between equally good moves (O's best reply to X in a corner is "
                              f"only {best}; 7 was not best on the other board): got {got}")


@pytest.mark.parametrize("tie_break, p", [("first", 0.0), ("uniform", 0.0), ("first", 0.5), ("uniform", 1.0)])
def test_ex11_2_statistics_match_the_reference(nb, tie_break, p):
    observations = observed(tie_break, p, 60, seed=21)
    expected = reference_statistics(observations)
    got = stats_of(nb, observations)
    assert got["ties"] == expected["ties"] and got["first"] == expected["first"], (
        f"opponent with tie_break={tie_break!r}, random_move_prob={p}: expected {expected['ties']} ties and "
        f"{expected['first']} first choices, got {got['ties']} and {got['first']}. Use ttt.best_moves(board, 'O')")
    assert got["expected"] == pytest.approx(expected["expected"]) and got["variance"] == pytest.approx(expected["variance"]), (
        f"expected = sum of 1/k and variance = sum of 1/k (1 - 1/k) over the ties (k best moves each): "
        f"{expected['expected']:.4f} and {expected['variance']:.4f}, got {got['expected']} and {got['variance']}")


def test_ex11_2_verdicts(nb):
    for games in (5, 30):
        assert nb.looks_biased(observed("first", 0.0, games, seed=3)) is True, \
            f"{games} games against the tie_break='first' optimal opponent should be flagged as biased"
    assert nb.looks_biased(observed("first", 0.3, 60, seed=3)) is True, \
        "a biased optimal opponent that plays 30% random moves is still biased on its ties: flag it"
    for seed in range(8):
        for p in (0.0, 0.5):
            observations = observed("uniform", p, 60, seed=100 + seed)
            assert reference_z(reference_statistics(observations)) < 3.0  # the reference does not flag them
            assert nb.looks_biased(observations) is False, (
                f"the uniform opponent (random_move_prob={p}, seed {100 + seed}) picks among best moves at random: "
                "it should not be flagged")
    assert nb.looks_biased([]) is False, "no observation is no evidence: looks_biased([]) should be False"
    assert nb.looks_biased([("XX..O....", 2)]) is False, "a forced move (a single best move) is no evidence either"


def test_ex11_2_threshold_is_the_z_score(nb):
    rng = random.Random(5)
    tested = 0
    for seed in range(200):
        observations = observed("uniform", 0.0, 4, seed=seed)
        # add a few first choices on the empty board to push the z-score up
        observations += [(ttt.EMPTY_BOARD, 0)] * rng.randint(0, 3)
        z = reference_z(reference_statistics(observations))
        for threshold in (1.0, 2.0, 3.0):
            if abs(z - threshold) < 0.05:
                continue  # too close to call with rounding differences
            got = nb.looks_biased(observations, threshold)
            assert got is (z > threshold), (
                f"with first = {reference_statistics(observations)['first']} first choices where a uniform tie-break "
                f"expects {reference_statistics(observations)['expected']:.3f}, z = {z:.3f}; looks_biased(..., {threshold}) "
                f"should be {z > threshold}, got {got!r}")
            tested += 1
    assert tested > 300


# ---------------------------------------------------------------------------------------------
# Exercise 11.3: spread across seeds
# ---------------------------------------------------------------------------------------------


def test_ex11_3_values(nb):
    rng = random.Random(3)
    for n in (2, 3, 5, 12):
        values = [rng.random() for _ in range(n)]
        got = nb.spread(values)
        assert isinstance(got, dict), f"spread should return a dict with mean, std, low and high, got {got!r}"
        expected = {"mean": statistics.fmean(values), "std": statistics.stdev(values), "low": min(values), "high": max(values)}
        for key, value in expected.items():
            assert key in got, f"spread's dict lacks the key {key!r}"
            assert got[key] == pytest.approx(value), (
                f"spread({[round(v, 3) for v in values]})[{key!r}] should be {value:.6f}, got {got[key]!r}"
                + (" (the sample standard deviation divides by n - 1, as statistics.stdev does)" if key == "std" else ""))
    got = nb.spread([0.25, 0.25, 0.25])
    assert got["std"] == pytest.approx(0.0) and got["mean"] == pytest.approx(0.25), f"equal values have no spread, got {got}"
    got = nb.spread((0.0, 1.0))
    assert got["std"] == pytest.approx(math.sqrt(0.5)), f"spread((0, 1)): std = sqrt(0.5) with n - 1 = 1, got {got['std']}"


def test_ex11_3_needs_two_values(nb):
    nb.spread([0.1, 0.2])
    for values in ([], [0.5]):
        with pytest.raises(ValueError):
            nb.spread(values)
            raise AssertionError(f"spread({values}) cannot say how results vary with fewer than 2 runs: raise ValueError")


# ---------------------------------------------------------------------------------------------
# Exercise 11.4: PPO's clipped loss
# ---------------------------------------------------------------------------------------------


def ppo_value_and_grad(nb, new, old, advantages, mask, **kwargs):
    return loss_value_and_grad(nb.ppo_clip_loss, "ppo_clip_loss", new, old, advantages, mask,
                               "without detaching the ratio", **kwargs)


def test_ex11_4_the_four_cases_by_hand(nb):
    # row 0, advantage +1: ratios e^0.1 (inside), e^0.5 (above the range), e^-0.5 (below)
    # row 1, advantage -1: ratios e^-0.5 (below the range), e^0.5 (above)
    new = torch.tensor([[-1.0, -0.5, -1.5], [-1.5, -0.5, 0.0]])
    old = torch.tensor([[-1.1, -1.0, -1.0], [-1.0, -1.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    value, grad = ppo_value_and_grad(nb, new, old, torch.tensor([1.0, -1.0]), mask)
    e = math.exp
    terms = [e(0.1), 1.28, e(-0.5), -0.8, -e(0.5)]   # min(ratio * A, clip(ratio) * A) per token
    assert value == pytest.approx(-sum(terms) / 5, rel=1e-5), (
        f"the loss is -mean over the 5 model tokens of min(ratio * A, clip(ratio) * A) = {-sum(terms) / 5:.5f}, "
        f"got {value:.5f}")
    expected = {(0, 0): ("inside the range, A > 0", -e(0.1) / 5),
                (0, 1): ("ratio above 1 + clip_high with A > 0: the clipped term wins, no gradient", 0.0),
                (0, 2): ("ratio below 1 - clip_low with A > 0: the unclipped term is smaller and keeps its gradient",
                         -e(-0.5) / 5),
                (1, 0): ("ratio below 1 - clip_low with A < 0: the clipped term wins, no gradient", 0.0),
                (1, 1): ("ratio above 1 + clip_high with A < 0: the unclipped term is smaller and keeps its gradient",
                         e(0.5) / 5),
                (1, 2): ("a masked token", 0.0)}
    for (row, col), (case, g) in expected.items():
        assert grad[row, col].item() == pytest.approx(g, rel=1e-5, abs=1e-8), (
            f"{case}: d loss / d logprob should be {g:.4f} (ratio * A / tokens, or 0), got {grad[row, col].item():.4f}")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ex11_4_matches_rlcourse_value_and_gradient(nb, seed):
    gen = torch.Generator().manual_seed(seed)
    old = -torch.rand(4, 7, generator=gen) * 3
    new = old + (torch.rand(4, 7, generator=gen) - 0.5) * 1.6   # ratios from e^-0.8 to e^0.8
    advantages = (torch.rand(4, generator=gen) - 0.5) * 2
    mask = (torch.rand(4, 7, generator=gen) > 0.3).float()
    mask[0, 0] = 1.0
    for kwargs in ({}, {"clip_low": 0.1, "clip_high": 0.4}):
        value, grad = ppo_value_and_grad(nb, new, old, advantages, mask, **kwargs)
        reference = new.clone().requires_grad_(True)
        ref_value = rl.ppo_clip_loss(reference, old, advantages, mask, **kwargs)
        ref_value.backward()
        assert value == pytest.approx(ref_value.item(), rel=1e-5, abs=1e-7), (
            f"loss {value:.6f} differs from rlcourse.rl.ppo_clip_loss ({ref_value.item():.6f}) with {kwargs or 'the defaults'}: "
            "check the clip range [1 - clip_low, 1 + clip_high], the min, the mask and the mean over masked tokens")
        assert torch.allclose(grad, reference.grad, rtol=1e-4, atol=1e-7), (
            f"the gradient differs from rlcourse.rl.ppo_clip_loss's with {kwargs or 'the defaults'}")


def test_ex11_4_masked_tokens_do_not_count(nb):
    old = torch.tensor([[-1.0, -2.0, -0.5]])
    new = torch.tensor([[-0.9, -2.0, -0.5]])
    value, grad = ppo_value_and_grad(nb, new, old, torch.tensor([0.5]), torch.tensor([[1.0, 1.0, 0.0]]))
    changed, _ = ppo_value_and_grad(nb, torch.tensor([[-0.9, -2.0, -40.0]]), old, torch.tensor([0.5]),
                                    torch.tensor([[1.0, 1.0, 0.0]]))
    assert changed == pytest.approx(value, rel=1e-6), "the loss should not depend on the log-probs of masked tokens"
    assert grad[0, 2].item() == 0.0, "a masked token gets no gradient"
    assert value == pytest.approx(-(math.exp(0.1) * 0.5 + 0.5) / 2, rel=1e-5), (
        "two model tokens: the mean divides by 2, the number of tokens whose mask is 1")
