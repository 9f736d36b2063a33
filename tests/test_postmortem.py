"""rlcourse.postmortem: the table policy, its group-relative trainer and the evaluation helpers."""

from __future__ import annotations

import math
import random

import pytest

import tictactoe as ttt
from rlcourse import postmortem as pm

SMALL = dict(games=512, batch_size=64, group_size=8, min_random_move_prob=0.0, max_random_move_prob=1.0)


def test_same_seed_same_table_and_log_other_seed_differs():
    a = pm.train(pm.TrainSettings(**SMALL, seed=3))
    b = pm.train(pm.TrainSettings(**SMALL, seed=3))
    c = pm.train(pm.TrainSettings(**SMALL, seed=4))
    assert a.policy.logits == b.policy.logits and a.log == b.log and a.positions == b.positions
    assert a.policy.logits != c.policy.logits
    assert pm.evaluate(a.policy, 100, 0.3) == pm.evaluate(b.policy, 100, 0.3)


def test_advantages_sum_to_zero_per_group():
    rng = random.Random(0)
    for _ in range(200):
        rewards = [rng.choice([0.0, 0.5, 1.0]) for _ in range(rng.randint(2, 16))]
        advantages = pm.group_advantages(rewards)
        assert math.fsum(advantages) == pytest.approx(0.0, abs=1e-12)
        assert [r - a for r, a in zip(rewards, advantages)] == pytest.approx([sum(rewards) / len(rewards)] * len(rewards))


def test_a_group_shares_start_and_opponent():
    settings = pm.TrainSettings(**SMALL)
    group = pm.play_group(pm.TablePolicy(), 12345, settings, random.Random(1))
    assert len(group) == settings.group_size
    assert len({(g.seed, g.random_move_prob, g.x_starts) for g in group}) == 1
    # equal positions meet equal replies inside the group
    replies = {}
    for game in group:
        for board, cell in game.o_moves:
            assert replies.setdefault(board, cell) == cell


def test_illegal_moves_are_never_chosen_and_have_probability_zero():
    policy = pm.TablePolicy({"XO.......": [50.0, 50.0, 0, 0, 0, 0, 0, 0, 0]})  # huge logits on taken cells
    probs = policy.probs("XO.......")
    assert probs[0] == probs[1] == 0.0 and sum(probs) == pytest.approx(1.0)
    rng = random.Random(0)
    assert all(policy.sample("XO.......", rng) >= 2 for _ in range(500))
    assert policy.greedy("XO.......") == 2  # all free cells tie: the lowest
    run = pm.train(pm.TrainSettings(**SMALL))
    for board, row in run.policy.logits.items():
        for _ in range(20):
            assert board[run.policy.sample(board, rng)] == "."
        assert board[run.policy.greedy(board)] == "."


def test_the_update_is_the_policy_gradient_of_advantage_times_logprob():
    policy = pm.TablePolicy()
    board = "X...O...."
    game = pm.Game(0, 0.0, True, x_moves=[(board, 2)], outcome="win")
    pm.policy_gradient_step(policy, [game, pm.Game(0, 0.0, True, outcome="loss")], [0.5, -0.5], learning_rate=2.0)
    p = 1 / 7  # uniform over the 7 free cells before the step
    expected = [0.0 if board[c] != "." else 2.0 / 2 * 0.5 * ((c == 2) - p) for c in range(9)]
    assert policy.logits[board] == pytest.approx(expected)
    assert policy.probs(board)[2] > p


def test_training_against_a_fixed_opponent_learns_and_the_biased_one_shows_fewer_positions():
    settings = dict(games=4096, batch_size=256, min_random_move_prob=0.0, max_random_move_prob=0.0)
    first = pm.train(pm.TrainSettings(**settings, tie_break="first"))
    uniform = pm.train(pm.TrainSettings(**settings, tie_break="uniform"))
    assert len(first.positions) < len(uniform.positions)
    before = pm.evaluate(pm.TablePolicy(), 200, 0.0, "first")["loss"]
    after = pm.evaluate(first.policy, 200, 0.0, "first")["loss"]
    assert after < before


def test_shares_and_games_against_the_environment_rules():
    games = pm.play_games(pm.TablePolicy(), 300, 1.0, seed=5)
    result = pm.shares(games)
    assert result["win"] + result["draw"] + result["loss"] == pytest.approx(1.0)
    for outcome in pm.OUTCOMES:
        low, high = result[f"{outcome}_ci"]
        assert low <= result[outcome] <= high
    for game in games:
        board = ttt.EMPTY_BOARD
        moves = sorted([(b.count("X") + b.count("O"), b, c, "X") for b, c in game.x_moves]
                       + [(b.count("X") + b.count("O"), b, c, "O") for b, c in game.o_moves])
        for _, before, cell, mark in moves:
            assert before == board
            board = ttt.play(board, cell, mark)
        won = ttt.winner(board)
        assert game.outcome == ("draw" if won is None else "win" if won == "X" else "loss")
    chances, taken = pm.win_chances(games)
    assert 0 <= taken <= chances and taken == sum(g.outcome == "win" for g in games)


def test_settings_are_checked():
    for bad in (dict(group_size=1, batch_size=8), dict(batch_size=20, group_size=8), dict(games=8, batch_size=16),
                dict(min_random_move_prob=0.5, max_random_move_prob=0.2), dict(tie_break="last")):
        with pytest.raises(ValueError):
            pm.train(pm.TrainSettings(**{**SMALL, **bad}))


def test_lesson_11_real_model_sections_run_on_the_saved_runs(capsys):
    """Sections 6 and 7 of lesson 11 read docs/runs/ (the tiny model's saved runs): their cells (but the
    exercise and its check) must run on the committed files and print every run they name."""
    import json
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    from rlcourse.grading import load_notebook

    path = Path(__file__).resolve().parents[1] / "solutions" / "11_post_mortem.ipynb"
    namespace = vars(load_notebook(path))
    exec("import matplotlib.pyplot as plt", namespace)
    cells = json.loads(path.read_text())["cells"]
    first, end = (next(i for i, c in enumerate(cells) if "".join(c["source"]).startswith(heading))
                  for heading in ("## 6.", "## 8."))
    ran = 0
    for cell in cells[first:end]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and not source.startswith("check(") and "ppo_clip_loss(logprobs" not in source:
            exec(compile(source, f"lesson 11 cell {ran}", "exec"), namespace)
            ran += 1
    printed = capsys.readouterr().out
    assert ran >= 3
    for expected in ("1.5 ", "one batch: 64 games", "4 steps per batch, PPO", "the SFT model they started from"):
        assert expected in printed, f"{expected!r} missing from the output of lesson 11's real-model sections"
    import matplotlib.pyplot as plt
    plt.close("all")
