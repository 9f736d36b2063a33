"""Game logic, checked exhaustively over every reachable position."""

import random

import pytest

from tictactoe import (EMPTY_BOARD, best_moves, follows_format, legal_moves, minimax_value, opponent_move,
                       other, parse_board, parse_move, play, render_board, turn_rng, winner)

from helpers import reachable_positions


POSITIONS = reachable_positions()


def reference_winner(board):
    """Independent winner check: rows, columns and diagonals read from a 3x3 grid."""
    grid = [board[0:3], board[3:6], board[6:9]]
    lines = grid + ["".join(col) for col in zip(*grid)] + [board[0] + board[4] + board[8], board[2] + board[4] + board[6]]
    for mark in "XO":
        if mark * 3 in lines:
            return mark
    return None


def test_number_of_reachable_positions():
    # 5,478 distinct legal positions is the classic count for games where X moves first
    assert len({board for board, _ in reachable_positions("X")}) == 5478
    assert len({board for board, _ in POSITIONS}) > 5478  # O-first games add boards with more O than X


def test_winner_matches_reference_everywhere():
    for board, _ in POSITIONS:
        assert winner(board) == reference_winner(board), board


def brute_value(board, player):
    """Plain recursive minimax without caching (independent of the cached implementation)."""
    w = reference_winner(board)
    if w is not None:
        return 1 if w == player else -1
    moves = [i for i in range(9) if board[i] == "."]
    if not moves:
        return 0
    return max(-brute_value(board[:m] + player + board[m + 1:], other(player)) for m in moves)


def test_minimax_values_match_brute_force_on_a_sample_and_known_facts():
    assert minimax_value(EMPTY_BOARD, "X") == 0  # perfect play draws
    rng = random.Random(0)
    sample = rng.sample(sorted(POSITIONS), 400)
    for board, player in sample:
        assert minimax_value(board, player) == brute_value(board, player)


def test_best_moves_are_exactly_the_optimal_moves_everywhere():
    for board, player in POSITIONS:
        if winner(board) or "." not in board:
            continue
        best = best_moves(board, player)
        value = minimax_value(board, player)
        assert best and all(-minimax_value(play(board, m, player), other(player)) == value for m in best)
        others = set(legal_moves(board)) - set(best)
        assert all(-minimax_value(play(board, m, player), other(player)) < value for m in others)


def all_outcomes_against_optimal(board, to_move, opponent="O"):
    """Winners of every game where the opponent plays any best move and the other side plays anything."""
    w = winner(board)
    if w is not None or "." not in board:
        return {w}
    if to_move == opponent:
        moves = best_moves(board, opponent)
    else:
        moves = legal_moves(board)
    results = set()
    for m in moves:
        results |= all_outcomes_against_optimal(play(board, m, to_move), other(to_move), opponent)
    return results


@pytest.mark.parametrize("first", ["X", "O"])
def test_optimal_opponent_never_loses(first):
    outcomes = all_outcomes_against_optimal(EMPTY_BOARD, first)
    assert "X" not in outcomes and "O" in outcomes and None in outcomes


def test_uniform_tie_break_uses_every_best_move_and_first_is_biased():
    board = EMPTY_BOARD
    assert len(best_moves(board, "O")) == 9  # every opening move draws
    picks = {opponent_move(board, "O", random.Random(s), 0.0) for s in range(200)}
    assert picks == set(range(9))
    assert {opponent_move(board, "O", random.Random(s), 0.0, "first") for s in range(50)} == {0}


def test_random_move_probability_one_gives_random_legal_moves():
    board = "XO.X.O..."
    picks = {opponent_move(board, "O", random.Random(s), 1.0) for s in range(300)}
    assert picks == set(legal_moves(board))


def test_turn_rng_is_fixed_by_seed_and_board():
    board = "X...O...."
    a = [turn_rng(7, board).random() for _ in range(3)]
    assert a == [turn_rng(7, board).random() for _ in range(3)]
    assert turn_rng(7, board).random() != turn_rng(8, board).random()
    assert turn_rng(7, board).random() != turn_rng(7, "X...O..X.").random()


def test_render_and_parse_round_trip_on_every_position():
    for board, _ in POSITIONS:
        assert parse_board("noise\n" + render_board(board) + "\nmore") == board
    assert parse_board("no board here") is None
    two = render_board("X........") + "\n\n" + render_board("X...O....")
    assert parse_board(two) == "X...O...."  # the last board wins


@pytest.mark.parametrize("text,cell", [
    ("<move>4</move>", 4), ("<think>x</think><move> 0 </move>", 0), ("<move>\n8\n</move>", 8),
])
def test_parse_move_accepts(text, cell):
    assert parse_move(text) == (cell, None)


@pytest.mark.parametrize("text", [
    None, "", "   ", "4", "<move></move>", "<move>9</move>", "<move>-1</move>", "<move>4.0</move>",
    "<move>\uff11</move>", "<move>\u0664</move>", "<move>4</move><move>5</move>", "<move>4", "<MOVE>4</MOVE>",
    "<move>" + "1" * 100_000 + "</move>", "x" * 100_000,
])
def test_parse_move_rejects_with_a_reason(text):
    cell, reason = parse_move(text)
    assert cell is None and isinstance(reason, str) and reason


@pytest.mark.parametrize("text,full,basic", [
    ("<think>Centre.</think>\n<move>4</move>", True, False),
    ("  <think>a</think><move>0</move>  ", True, False),
    ("<move>4</move>", False, True),
    ("<think></think><move>4</move>", False, False),
    ("<think>a</think><move>4</move> extra", False, False),
    ("<think>a <move>3</move></think><move>4</move>", False, False),
    ("<think>a</think><move>44</move>", False, False),
])
def test_follows_format(text, full, basic):
    assert follows_format(text, "full") is full
    assert follows_format(text, "basic") is basic


def test_the_audit_takes_any_scripted_player():
    """A pipeline with another scripted teacher audits that teacher: minimax loses no line."""
    from rlcourse import audit

    assert audit.audit(audit.scripted_move_fn("scripted/ttt-minimax")).failed == 0
    heuristic = audit.audit(audit.teacher_move_fn())
    assert heuristic.failed > 0 and heuristic.invalid == 0  # the teacher falls for forks, never breaks a rule
