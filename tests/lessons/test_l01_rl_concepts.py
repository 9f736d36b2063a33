"""Graders of lesson 01 (RL concepts): rollout loop, discounted return, epsilon-greedy, advantages."""

import random

import pytest


def as_tuples(trajectory):
    return [tuple(step) for step in trajectory]


def test_ex1_1_always_right_reaches_the_goal(nb):
    trajectory = nb.rollout(nb.LineWalk(), nb.always_right, random.Random(0))
    assert trajectory is not None, "rollout should return the list of steps"
    assert as_tuples(trajectory) == [(3, 1, 0.0), (4, 1, 0.0), (5, 1, 1.0)], \
        f"always moving right from 3 should give steps (3,+1,0), (4,+1,0), (5,+1,1); got {as_tuples(trajectory)}"


def test_ex1_1_records_the_state_where_the_action_was_chosen(nb):
    trajectory = nb.rollout(nb.LineWalk(), lambda state, rng: -1, random.Random(0))
    states = [step[0] for step in trajectory]
    assert states == [3, 2, 1], f"each step should hold the state *before* the action: expected [3, 2, 1], got {states}"
    assert [step[2] for step in trajectory] == [0.0, 0.0, -1.0], "falling off the left end should end with reward -1"


def test_ex1_1_stops_when_the_environment_says_done(nb):
    calls = []

    def dither(state, rng):  # never reaches an end: only the step cap (max_steps) ends this episode
        calls.append(state)
        assert len(calls) <= 50, (
            "the episode went on after env.step returned done=True at step 7 (max_steps=7): stop as soon as done is "
            "True, whether an end of the line was reached or the step cap")
        return +1 if state <= 3 else -1

    trajectory = nb.rollout(nb.LineWalk(max_steps=7), dither, random.Random(0))
    assert len(trajectory) == 7, f"an episode capped at 7 steps should have 7 steps, got {len(trajectory)}"
    assert all(step[2] == 0.0 for step in trajectory)


def test_ex1_1_resets_and_passes_the_rng(nb):
    env, rng, seen = nb.LineWalk(size=4), random.Random(5), []

    def policy(state, given):
        seen.append(given)
        return +1

    first = nb.rollout(env, policy, rng)
    second = nb.rollout(env, policy, rng)
    assert as_tuples(first) == as_tuples(second) == [(2, 1, 0.0), (3, 1, 1.0)], \
        "every rollout should start with env.reset(): two rollouts in a row should be identical"
    assert seen and all(g is rng for g in seen), "pass the rollout's rng on to the policy: policy(state, rng)"


@pytest.mark.parametrize("rewards, gamma, expected", [
    ([0.0, 0.0, 1.0], 1.0, 1.0),
    ([0.0, 0.0, 1.0], 0.9, 0.81),
    ([1.0, 1.0, 1.0], 0.5, 1.75),
    ([0.5, -1.0, 2.0, 0.0, 3.0], 1.0, 4.5),
    ([2.0], 0.1, 2.0),
    ([], 0.9, 0.0),
])
def test_ex1_2_discounted_return(nb, rewards, gamma, expected):
    got = nb.discounted_return(list(rewards), gamma)
    assert got == pytest.approx(expected), f"discounted_return({rewards}, gamma={gamma}) should be {expected}, got {got}"


def test_ex1_2_gamma_defaults_to_one(nb):
    got = nb.discounted_return([1.0, 2.0, 3.0])
    assert got == pytest.approx(6.0), f"with the default gamma=1 the return is the plain sum (6.0), got {got}"


def test_ex1_3_greedy_when_epsilon_is_zero(nb):
    rng = random.Random(0)
    picks = {nb.epsilon_greedy([0.1, 0.7, 0.3], 0.0, rng) for _ in range(200)}
    assert picks == {1}, f"with epsilon=0 the best arm (index 1) should always be chosen, got {sorted(picks)}"
    tie = nb.epsilon_greedy([0.2, 0.9, 0.9, 0.1], 0.0, rng)
    assert tie == 1, f"on a tie, choose the lowest index: expected 1 for [0.2, 0.9, 0.9, 0.1], got {tie}"


def test_ex1_3_uniform_when_epsilon_is_one(nb):
    rng = random.Random(1)
    n, arms = 4000, 4
    counts = [0] * arms
    for _ in range(n):
        counts[nb.epsilon_greedy([0.0, 1.0, 0.0, 0.0], 1.0, rng)] += 1
    shares = [c / n for c in counts]
    assert all(abs(s - 1 / arms) < 0.04 for s in shares), \
        f"with epsilon=1 every arm should be picked about 25% of the time, got shares {[round(s, 3) for s in shares]}"


def test_ex1_3_explores_the_right_amount(nb):
    rng = random.Random(2)
    n = 6000
    best = sum(nb.epsilon_greedy([0.1, 0.2, 0.9, 0.3], 0.2, rng) == 2 for _ in range(n)) / n
    # 80% greedy picks + a quarter of the 20% random ones
    assert abs(best - 0.85) < 0.03, f"with epsilon=0.2 and 4 arms the best arm should come up ~85% of the time, got {best:.1%}"


def test_ex1_3_uses_only_the_given_rng(nb):
    def sequence(global_seed):
        random.seed(global_seed)
        rng = random.Random(7)
        return [nb.epsilon_greedy([0.5, 0.1, 0.4], 0.5, rng) for _ in range(300)]

    assert sequence(1) == sequence(2), \
        "draw the randomness from the rng argument (rng.random(), rng.randrange(...)), not from the random module"


@pytest.mark.parametrize("rewards, expected", [
    ([1.0, 0.0, 0.0, 1.0], [0.5, -0.5, -0.5, 0.5]),
    ([0.2, 1.2, 0.7], [-0.5, 0.5, 0.0]),
    ([0.5, 0.5, 0.5, 0.5], [0.0, 0.0, 0.0, 0.0]),
    ([3.0], [0.0]),
])
def test_ex1_4_group_advantages(nb, rewards, expected):
    original = list(rewards)
    got = nb.group_advantages(rewards)
    assert got is not None and len(list(got)) == len(rewards), \
        f"one advantage per reward expected ({len(rewards)}), got {got!r}"
    assert list(got) == pytest.approx(expected), f"group_advantages({original}) should be {expected}, got {list(got)}"
    assert rewards == original, "group_advantages should not modify the list it is given"


def test_ex1_4_advantages_sum_to_zero(nb):
    rng = random.Random(3)
    for _ in range(20):
        rewards = [rng.choice([0.0, 0.5, 1.0, 1.2]) for _ in range(8)]
        got = list(nb.group_advantages(rewards))
        assert sum(got) == pytest.approx(0.0, abs=1e-9), f"advantages of a group should sum to 0; {rewards} gave {got}"
