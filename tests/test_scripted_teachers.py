"""The scripted teachers play as strong as their docstrings say (simulated with the environment's pure functions)."""

import random

from tictactoe import legal_moves, opponent_move, play, winner

from rlcourse.scripted import careless_move, teacher_move


def play_games(move, random_move_prob: float, games: int = 4000, seed: int = 1) -> dict[str, float]:
    """Shares of wins, draws and losses of ``move`` (as X) against the environment's opponent; who starts is a coin flip."""
    rng = random.Random(seed)
    counts = {"win": 0, "draw": 0, "loss": 0}
    for _ in range(games):
        board, x_to_move = "." * 9, rng.random() < 0.5
        while winner(board) is None and "." in board:
            if x_to_move:
                board = play(board, move(board, rng)[0], "X")
            else:
                board = play(board, opponent_move(board, "O", rng, random_move_prob), "O")
            x_to_move = not x_to_move
        counts[{"X": "win", "O": "loss", None: "draw"}[winner(board)]] += 1
    return {k: v / games for k, v in counts.items()}


def test_the_careless_teacher_is_as_strong_as_the_talks_teacher():
    # the talk's gpt-5-mini: 90% wins against the random opponent, 76% draws against the optimal one
    against_random, against_optimal = play_games(careless_move, 1.0), play_games(careless_move, 0.0)
    assert 0.86 <= against_random["win"] <= 0.92, against_random
    assert 0.73 <= against_optimal["draw"] <= 0.81, against_optimal


def test_the_heuristic_teacher_is_clearly_stronger_than_the_careless_one():
    assert play_games(teacher_move, 0.0)["draw"] >= play_games(careless_move, 0.0)["draw"] + 0.08


def test_the_careless_teacher_never_misses_a_win_and_only_plays_free_cells():
    rng = random.Random(0)
    for _ in range(2000):
        board = "X.X.O.O.." if rng.random() < 0.5 else "XX..OO..."
        cell, thought = careless_move(board, rng)
        assert board[cell] == "." and winner(play(board, cell, "X")) == "X"
    for board in ["X...O....", "XO..O..X.", "........."]:
        for _ in range(300):
            cell, thought = careless_move(board, rng)
            assert cell in legal_moves(board) and thought.startswith("Free: ")
