"""Graders for lesson 09 (RL with GRPO and CISPO): group advantages, the CISPO loss, batch settings.

``nb`` holds the notebook's setup and exercise definitions (see tests/conftest.py).
"""

from __future__ import annotations

import math
import random
import statistics

import pytest
import torch

from helpers import loss_value_and_grad
from rlcourse import rl

# ---------------------------------------------------------------------------------------------
# Exercise 9.1: group advantages over a whole batch
# ---------------------------------------------------------------------------------------------


def advantages_of(nb, rewards, group_size, **kwargs) -> list[float]:
    original = list(rewards)
    try:
        got = nb.group_advantages(rewards, group_size, **kwargs)
    except ZeroDivisionError as exc:
        raise AssertionError(f"group_advantages({original}, {group_size}, {kwargs}) divided by zero ({exc}): a group whose "
                             "rewards are all equal has standard deviation 0, give it zeros instead of dividing") from None
    assert got is not None, "group_advantages should return the list of advantages (it returned None)"
    got = [float(a) for a in got]
    assert len(got) == len(original), f"one advantage per reward expected ({len(original)}), got {len(got)}"
    assert list(rewards) == original, "group_advantages should not modify the list of rewards it is given"
    return got


def test_ex9_1_the_lesson_group(nb):
    rewards = [1.2, 0.7, 0.7, 0.2, 1.2, 0.7, 0.1, 0.7]
    got = advantages_of(nb, rewards, 8)
    expected = [r - 0.6875 for r in rewards]
    assert got == pytest.approx(expected), (f"one group of 8 with mean 0.6875: each advantage is reward - 0.6875, "
                                            f"expected {[round(e, 4) for e in expected]}, got {[round(g, 4) for g in got]}")


def test_ex9_1_groups_are_consecutive_and_independent(nb):
    rewards = [1.0, 0.5, 0.5, 0.0, 1.2, 1.2, 1.2, 1.2]
    got = advantages_of(nb, rewards, 4)
    assert got == pytest.approx([0.5, 0.0, 0.0, -0.5, 0.0, 0.0, 0.0, 0.0]), (
        f"with group_size=4, rewards[0:4] and rewards[4:8] are two groups, each with its own mean; "
        f"expected [0.5, 0.0, 0.0, -0.5, 0.0, 0.0, 0.0, 0.0], got {got}")
    rng = random.Random(9)
    for group_size in (2, 4, 8, 16):
        rewards = [rng.choice([-0.1, 0.1, 0.2, 0.7, 1.2]) for _ in range(group_size * 5)]
        got = advantages_of(nb, rewards, group_size)
        expected = rl.group_advantages(rewards, group_size)
        assert got == pytest.approx(expected), (f"group_size={group_size}: your advantages differ from "
                                                f"rlcourse.rl.group_advantages on {rewards}")


def test_ex9_1_a_group_that_agrees_gives_zeros(nb):
    for group in ([0.7] * 8, [1.2] * 8, [-0.1] * 8):
        got = advantages_of(nb, group, 8)
        assert got == pytest.approx([0.0] * 8), f"a group whose rewards are all {group[0]} carries no signal: every advantage should be 0, got {got}"
        got = advantages_of(nb, group, 8, scale_by_std=True)
        assert all(math.isfinite(a) for a in got), (f"with scale_by_std=True a group whose rewards are all equal has standard "
                                                    f"deviation 0: return zeros for it instead of dividing by 0 (got {got})")
        assert got == pytest.approx([0.0] * 8), f"with scale_by_std=True a group of equal rewards should still give zeros, got {got}"


def test_ex9_1_scale_by_std(nb):
    rewards = [1.2, 0.7, 0.7, 0.2, 1.2, 0.7, 0.1, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 1.2]
    got = advantages_of(nb, rewards, 8, scale_by_std=True)
    expected = []
    for start in (0, 8):
        group = rewards[start:start + 8]
        mean, std = statistics.fmean(group), statistics.pstdev(group)
        expected += [(r - mean) / std for r in group]
    assert got == pytest.approx(expected, rel=1e-4), (
        "with scale_by_std=True divide each group's advantages by that group's (population) standard deviation, "
        f"statistics.pstdev(group); expected {[round(e, 3) for e in expected]}, got {[round(g, 3) for g in got]}")
    plain = advantages_of(nb, rewards, 8)
    assert plain == pytest.approx(rl.group_advantages(rewards, 8)), "scale_by_std should default to False (reward - group mean only)"


def test_ex9_1_rejects_a_batch_that_does_not_split(nb):
    for rewards, group_size in (([1.0, 0.5, 0.0], 2), ([0.5] * 10, 4), ([1.0, 0.0] * 4, 0), ([1.0, 0.0] * 4, -2)):
        try:
            got = nb.group_advantages(rewards, group_size)
        except ValueError:
            continue
        except ZeroDivisionError:
            raise AssertionError(f"group_advantages(<{len(rewards)} rewards>, group_size={group_size}) divided by zero: a "
                                 "group size below 1 cannot split the rewards into groups, raise ValueError") from None
        raise AssertionError(f"{len(rewards)} rewards do not split into (whole, non-empty) groups of {group_size}: raise "
                             f"ValueError, not return {got!r}")


# ---------------------------------------------------------------------------------------------
# Exercise 9.2: the CISPO loss
# ---------------------------------------------------------------------------------------------


def random_case(seed: int, batch: int = 3, width: int = 6):
    gen = torch.Generator().manual_seed(seed)
    old = -torch.rand(batch, width, generator=gen) * 3
    new = old + (torch.rand(batch, width, generator=gen) - 0.5) * 1.2   # ratios from e^-0.6 to e^0.6
    advantages = (torch.rand(batch, generator=gen) - 0.5) * 2
    mask = (torch.rand(batch, width, generator=gen) > 0.3).float()
    mask[0, 0] = 1.0
    return new, old, advantages, mask


def loss_and_grad(fn, new, old, advantages, mask, **kwargs):
    return loss_value_and_grad(fn, "cispo_loss", new, old, advantages, mask, "and detach only the clipped weight",
                               **kwargs)


def test_ex9_2_the_three_tokens_of_the_lesson(nb):
    new = torch.tensor([[-1.0, -0.9, -1.8]])
    old = torch.tensor([[-1.2, -0.5, -2.3]])
    value, grad = loss_and_grad(nb.cispo_loss, new, old, torch.tensor([0.5]), torch.ones(1, 3))
    weights = [math.exp(0.2), 0.8, 1.28]
    expected = -sum(w * 0.5 * lp for w, lp in zip(weights, [-1.0, -0.9, -1.8])) / 3
    assert value == pytest.approx(expected, rel=1e-5), (
        f"on the lesson's three tokens (weights clip(ratio) = 1.221, 0.8, 1.28, advantage 0.5) the loss is "
        f"-mean(weight * advantage * logprob) = {expected:.5f}; got {value:.5f}")
    expected_grad = [-w * 0.5 / 3 for w in weights]
    assert grad[0].tolist() == pytest.approx(expected_grad, rel=1e-5), (
        f"every token should get the gradient -weight * advantage / number of tokens = "
        f"{[round(g, 4) for g in expected_grad]}, got {[round(g, 4) for g in grad[0].tolist()]}: is the clipped weight "
        "detached (.detach()), so that it acts as a constant?")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ex9_2_matches_rlcourse_value_and_gradient(nb, seed):
    new, old, advantages, mask = random_case(seed)
    for clip_low, clip_high in ((0.2, 0.28), (0.1, 0.1)):
        kwargs = dict(clip_low=clip_low, clip_high=clip_high)
        value, grad = loss_and_grad(nb.cispo_loss, new, old, advantages, mask, **kwargs)
        ref_value, ref_grad = loss_and_grad(rl.cispo_loss, new, old, advantages, mask, **kwargs)
        assert value == pytest.approx(ref_value, rel=1e-5, abs=1e-7), (
            f"loss {value:.6f} differs from rlcourse.rl.cispo_loss ({ref_value:.6f}) with clip_low={clip_low}, "
            f"clip_high={clip_high}: check the clip range [1 - clip_low, 1 + clip_high], the mask and the mean over "
            "the masked tokens only")
        assert torch.allclose(grad, ref_grad, rtol=1e-4, atol=1e-7), (
            "the loss value is right but its gradient is not: the clipped importance weight must be a constant "
            "(detach it), so that d loss / d logprob = -weight * advantage / tokens")


def test_ex9_2_masked_tokens_do_not_count(nb):
    new, old, advantages, mask = random_case(5)
    value, grad = loss_and_grad(nb.cispo_loss, new, old, advantages, mask)
    assert torch.all(grad[mask == 0] == 0), "tokens with mask 0 (prompt, environment text, padding) must get no gradient"
    changed = new.clone()
    changed[mask == 0] = -50.0  # anything at all in the masked positions
    value2, _ = loss_and_grad(nb.cispo_loss, changed, old, advantages, mask)
    assert value2 == pytest.approx(value, rel=1e-6), "the loss should not depend on the log-probs of masked tokens"


def test_ex9_2_clipped_tokens_keep_their_gradient(nb):
    new = torch.tensor([[-0.5, -3.0]])
    old = torch.tensor([[-1.5, -2.0]])      # ratios e^1 (far above the range) and e^-1 (far below)
    value, grad = loss_and_grad(nb.cispo_loss, new, old, torch.tensor([1.0]), torch.ones(1, 2))
    assert grad[0, 0].item() == pytest.approx(-1.28 / 2, rel=1e-5), (
        "a token whose ratio is far above 1 + clip_high keeps a gradient in CISPO, with its weight capped at 1.28 "
        f"(-1.28 * advantage / 2 tokens = -0.64); got {grad[0, 0].item():.4f}")
    assert grad[0, 1].item() == pytest.approx(-0.8 / 2, rel=1e-5), (
        "a token whose ratio is far below 1 - clip_low has its weight raised to 0.8 and keeps a gradient "
        f"(-0.8 / 2 = -0.4); got {grad[0, 1].item():.4f}")
    for a in (-1.0, 1.0):
        v, g = loss_and_grad(nb.cispo_loss, torch.tensor([[-0.7]]), torch.tensor([[-0.7]]), torch.tensor([a]), torch.ones(1, 1))
        assert v == pytest.approx(-a * -0.7), f"ratio 1, advantage {a}, logprob -0.7: the loss is {-a * -0.7}, got {v}"
        assert g.item() == pytest.approx(-a), (f"with advantage {a} the gradient should be {-a} (gradient descent then "
                                               f"{'raises' if a > 0 else 'lowers'} the log-prob); got {g.item()}")


# ---------------------------------------------------------------------------------------------
# Exercise 9.3: checking a batch configuration
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size, rollouts, num_groups, expected", [
    (256, 8, None, 32),      # RL 1 of the talk
    (480, 8, 60, 60),        # RL 2 of the talk
    (64, 8, None, 8),
    (16, 2, 8, 8),
    (12, 12, None, 1),
])
def test_ex9_3_valid_settings_give_num_groups(nb, batch_size, rollouts, num_groups, expected):
    got = nb.check_batch(batch_size, rollouts, num_groups)
    assert got == expected and isinstance(got, int), (
        f"check_batch({batch_size}, {rollouts}, {num_groups}) should return num_groups = {batch_size} / {rollouts} "
        f"= {expected} (an int), got {got!r}")


@pytest.mark.parametrize("batch_size, rollouts, num_groups, why", [
    (250, 8, None, "250 games do not split into groups of 8"),
    (256, 8, 30, "32 groups of 8 make 256 games, not 30 groups"),
    (256, 1, None, "a group of 1 rollout has advantage 0 always: rollouts_per_example must be at least 2"),
    (0, 8, None, "batch_size must be positive"),
    (-16, 8, None, "batch_size must be positive"),
    (8, 16, None, "a batch smaller than one group"),
    (256, 0, None, "rollouts_per_example must be at least 2"),
    (256.0, 8, None, "batch_size must be an int, not a float"),
    (256, 8.0, None, "rollouts_per_example must be an int, not a float"),
    (256, 8, 0, "num_groups 0 is given (it is not None) and does not match 256 / 8 = 32"),
])
def test_ex9_3_bad_settings_raise_a_helpful_value_error(nb, batch_size, rollouts, num_groups, why):
    try:
        got = nb.check_batch(batch_size, rollouts, num_groups)
    except ValueError as exc:
        message = str(exc)
        assert len(message) >= 15, (f"check_batch({batch_size}, {rollouts}, {num_groups}) raised ValueError with the message "
                                    f"{message!r}: say what is wrong and how to fix it")
        numbers = {str(x) for x in (batch_size, rollouts, num_groups) if x is not None} | {str(int(batch_size))}
        assert any(n in message for n in numbers), (
            f"the message {message!r} should mention the offending value(s) ({', '.join(sorted(numbers))}), so the "
            "reader knows which setting to change")
        return
    except (NotImplementedError, AssertionError):
        raise
    except Exception as exc:
        raise AssertionError(f"check_batch({batch_size}, {rollouts}, {num_groups}) should raise ValueError ({why}), "
                             f"it raised {type(exc).__name__}: {exc}") from exc
    raise AssertionError(f"check_batch({batch_size}, {rollouts}, {num_groups}) returned {got!r}; it should raise "
                         f"ValueError: {why}")
