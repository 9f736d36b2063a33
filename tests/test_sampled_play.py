"""Sampled play measured honestly: every game draws its own random numbers, and the paired interval
of a comparison covers the true difference at about its nominal rate.

The known truth: two scripted stochastic players (a random free cell, and minimax choosing uniformly
among its best moves) against the environment's opponent. That opponent's reply is fixed by the
example's seed and the board, so the expected reward of each player on each game is an exact sum over
the player's own choices, computed here from the environment's pure functions.
"""

import statistics
from collections import Counter
from fractions import Fraction

import verifiers as vf
from tictactoe import best_moves, legal_moves, opponent_move, play, turn_rng, winner

from rlcourse.clients import InProcessClient
from rlcourse.evaluation import evaluate, game_request_seed, mean_difference


def exact_win_reward(info: dict, choices) -> Fraction:
    """Expected win reward (1 / 0.5 / 0) of a player whose move at ``board`` is uniform over ``choices(board)``."""

    def value(board: str) -> Fraction:
        moves = choices(board)
        total = Fraction(0)
        for cell in moves:
            after = play(board, cell, "X")
            if winner(after) == "X":
                total += 1
                continue
            if "." not in after:
                total += Fraction(1, 2)
                continue
            reply = opponent_move(after, "O", turn_rng(info["seed"], after), info["random_move_prob"])
            after = play(after, reply, "O")
            if winner(after) == "O":
                continue
            total += Fraction(1, 2) if "." not in after else value(after)
        return total / len(moves)

    return value(info["board"])


PLAYERS = {"scripted/ttt-random": legal_moves, "scripted/ttt-minimax": lambda board: best_moves(board, "X")}


def rewards_by_game(rows) -> list[float]:
    return [float(r["reward"]) for r in sorted(rows, key=lambda r: r["example_id"])]


def test_each_game_draws_its_own_sample():
    """With a request seed, every game that opens on the empty board gets the same first move; with a
    game seed they spread over the cells, and the same game seed gives the same games again."""
    env = vf.load_environment("tictactoe", num_eval_examples=120, seed=3)
    client = InProcessClient("scripted/ttt-random")

    def first_moves(rows):
        return Counter(r["completion"][0]["content"][-14:] for r in rows if r["info"]["model_starts"])

    per_request = evaluate(env, "p", client, num_examples=120, sampling_args={"seed": 2026})
    assert len(first_moves(per_request)) == 1  # one draw shared by some 60 games: not 60 samples
    per_game = evaluate(env, "p", client, num_examples=120, game_seed=2026)
    assert len(first_moves(per_game)) == 9
    again = evaluate(env, "p", client, num_examples=120, game_seed=2026)
    assert [r["completion"] for r in again] == [r["completion"] for r in per_game]
    assert game_request_seed(2026, 5, 0) != game_request_seed(2026, 5, 1) != game_request_seed(2027, 5, 0)


def test_paired_interval_covers_the_true_difference_at_its_nominal_rate():
    """60 repeated comparisons (game seeds 0-59) of the two players on the same 50 games, where the
    player's first move matters (it always starts, the opponent is mostly optimal).

    The 95% interval of the mean paired difference must hold the exact difference in at least 52 of
    60 (under exactly 95% coverage, fewer happens with probability under 1%), and the standard error
    it reports must match the real spread of the estimate from one repeat to the next. The counts are
    deterministic (seeded), so the test cannot flicker. Measured: 56 of 60, spread / standard error
    1.10. One request seed per comparison instead (what the pipeline used to send): 40 of 60, and 1.93.
    """
    games = 50
    env = vf.load_environment("tictactoe", num_eval_examples=games, seed=11, model_starts_prob=1.0,
                              max_random_move_prob=0.3)
    infos = env.get_eval_dataset()["info"][:games]
    random_player, minimax = PLAYERS
    # both players always follow the format and never move illegally, so their rewards differ by the
    # win reward alone
    truth = float(sum(exact_win_reward(i, PLAYERS[minimax]) - exact_win_reward(i, PLAYERS[random_player])
                      for i in infos) / games)
    assert truth > 0.2  # a real difference to find

    gains, errors, hits = [], [], 0
    for seed in range(60):
        before, after = (rewards_by_game(evaluate(env, name, InProcessClient(name), num_examples=games,
                                                  max_concurrent=games, game_seed=seed))
                         for name in (random_player, minimax))
        gain, low, high = mean_difference(before, after)
        gains.append(gain)
        errors.append((high - low) / (2 * 1.96))
        hits += low <= truth <= high
    assert hits >= 52, hits
    spread = statistics.stdev(gains) / statistics.mean(errors)
    assert 0.8 <= spread <= 1.25, spread
