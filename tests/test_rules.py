"""One home per rule: the game's turns and messages are pure functions of the ``tictactoe`` package
(:func:`tictactoe.model_turn`, :func:`tictactoe.opponent_turn`, :func:`tictactoe.message_text`), and the
environment, :mod:`rlcourse.play` and :mod:`rlcourse.audit` all play through them."""

from __future__ import annotations

import random

import pytest
import verifiers as vf

import tictactoe as ttt
from rlcourse import audit, play
from rlcourse.clients import InProcessClient
from rlcourse.evaluation import evaluate

X_TO_MOVE = "XO..X...O"  # X to move: X has 0 and 4, O has 1 and 8


def test_a_valid_reply_takes_the_cell_and_o_is_to_move():
    step = ttt.model_turn(X_TO_MOVE, "<think>t</think><move>3</move>")
    assert step == ttt.Step("XO.XX...O", cell=3)


@pytest.mark.parametrize("text, problem", [
    ("<move>1</move>", "cell 1 is already taken"),
    ("nothing", "no <move>...</move> tag found"),
    ("<move>1</move><move>2</move>", "2 <move> tags found; give exactly one"),
    ("<move>9</move>", "'9' is not a cell number from 0 to 8"),
    (None, "no <move>...</move> tag found"),
])
def test_an_invalid_reply_leaves_the_board_and_says_why(text, problem):
    retry = ttt.model_turn(X_TO_MOVE, text, "full")
    assert (retry.board, retry.over, retry.problem, retry.cell) == (X_TO_MOVE, False, problem, None)
    assert retry.message == ttt.board_message(X_TO_MOVE, f"Invalid move: {problem}. The board is unchanged. "
                                                         "Reply with <think>...</think> then <move>N</move>, N a free cell.")
    assert ttt.model_turn(X_TO_MOVE, text, "full", last_turn=True) == ttt.Step(
        X_TO_MOVE, True, None, f"Invalid move ({problem}). Turn limit reached: game over.", problem=problem)
    assert ttt.model_turn(X_TO_MOVE, text, "basic") == ttt.Step(
        X_TO_MOVE, True, "loss", f"Invalid move ({problem}). You lose.", problem=problem)


def test_x_wins_or_fills_the_board_with_the_end_of_game_text():
    won = ttt.model_turn("XO..X..O.", "<move>8</move>")
    assert (won.over, won.outcome, won.cell) == (True, "win", 8)
    assert won.message == f"You took cell 8 and won!\n\n{ttt.render_board('XO..X..OX')}"
    full = ttt.model_turn("XOXXOOOX.", "<move>8</move>")
    assert (full.over, full.outcome, full.board) == (True, "draw", "XOXXOOOXX")
    assert full.message == f"You took cell 8. The board is full: draw.\n\n{ttt.render_board('XOXXOOOXX')}"


def test_the_opponents_turn_ends_the_game_or_gives_the_next_position():
    after_x = "XO.XX...O"
    nxt = ttt.opponent_turn(after_x, 3, 5)
    assert nxt == ttt.Step("XO.XXO..O", message=ttt.turn_message("XO.XXO..O", 3, 5), cell=5)
    capped = ttt.opponent_turn(after_x, 3, 5, last_turn=True)
    assert (capped.over, capped.outcome) == (True, None)
    assert capped.message == f"O took cell 5. Turn limit reached: game over.\n\n{ttt.render_board('XO.XXO..O')}"
    lost = ttt.opponent_turn("XO.XX..OO", 3, 6, last_turn=True)  # O's win counts before the turn cap
    assert (lost.over, lost.outcome, lost.message) == (True, "loss", f"O took cell 6 and won.\n\n{ttt.render_board('XO.XX.OOO')}")
    drawn = ttt.opponent_turn("XOXXO.OXX", 8, 5)
    assert (drawn.over, drawn.outcome) == (True, "draw")
    assert drawn.message == f"O took cell 5. The board is full: draw.\n\n{ttt.render_board('XOXXOOOXX')}"


def positions_with_x_to_move() -> list[str]:
    """Every unfinished position where X is to move, in games started by either side."""
    seen, stack = set(), [(ttt.EMPTY_BOARD, "X"), (ttt.EMPTY_BOARD, "O")]
    while stack:
        board, player = stack.pop()
        if (board, player) in seen or ttt.is_over(board):
            continue
        seen.add((board, player))
        stack.extend((ttt.play(board, m, player), ttt.other(player)) for m in ttt.legal_moves(board))
    return sorted(board for board, player in seen if player == "X")


def test_every_move_in_every_position_follows_the_rules():
    positions = positions_with_x_to_move()
    assert len(positions) > 1000
    for board in positions:
        for cell in range(9):
            step = ttt.model_turn(board, f"<think>.</think><move>{cell}</move>", "full")
            if board[cell] != ".":
                assert (step.board, step.over, step.problem) == (board, False, f"cell {cell} is already taken")
                continue
            after = ttt.play(board, cell, "X")
            assert (step.board, step.cell, step.problem, step.over) == (after, cell, None, ttt.is_over(after))
            assert step.outcome == ("win" if ttt.winner(after) == "X" else "draw" if ttt.is_over(after) else None)
            if step.over:
                continue
            for reply in ttt.legal_moves(after):
                answer = ttt.opponent_turn(after, cell, reply)
                final = ttt.play(after, reply, "O")
                assert (answer.board, answer.cell, answer.over) == (final, reply, ttt.is_over(final))
                assert answer.outcome == ("loss" if ttt.winner(final) == "O" else "draw" if ttt.is_over(final) else None)
                assert (answer.message == ttt.turn_message(final, cell, reply)) is not answer.over


@pytest.mark.parametrize("message, text", [
    ({"role": "user", "content": "hi"}, "hi"),
    ({"role": "assistant", "content": None}, ""),
    ({"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image"}, {"type": "text", "text": "b"}]}, "ab"),
    ("plain content", "plain content"),
    ([{"type": "text", "text": "parts"}], "parts"),
    (None, ""),
    (vf.UserMessage(content="an object"), "an object"),
])
def test_message_text_reads_a_message_or_its_content(message, text):
    assert ttt.message_text(message) == text


@pytest.fixture
def counted(monkeypatch):
    """Count the calls to the two rule functions, wherever they come from."""
    calls = {"model_turn": 0, "opponent_turn": 0}
    for name in calls:
        original = getattr(ttt, name)

        def wrapper(*args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(ttt, name, wrapper)
    return calls


def test_the_environment_plays_through_the_rules(counted):
    env = vf.load_environment("tictactoe", num_train_examples=1, num_eval_examples=4, min_random_move_prob=1.0)
    evaluate(env, "scripted/ttt-random", InProcessClient("scripted/ttt-random"), num_examples=4)
    assert counted["model_turn"] > 0 and counted["opponent_turn"] > 0


def test_play_plays_through_the_rules(counted):
    player = play.ModelPlayer(play.Scripted("scripted/ttt-random", seed=1), human_first=True, start=False)
    player.new_game()
    rng = random.Random(1)
    while not player.over:
        player.human_move(rng.choice(ttt.legal_moves(player.board)))
    assert counted["model_turn"] > 0 and counted["opponent_turn"] > 0


def test_the_audit_plays_through_the_rules(counted):
    result = audit.audit(audit.scripted_move_fn("scripted/ttt-minimax"))
    assert result.failed == 0 and counted["model_turn"] > 0 and counted["opponent_turn"] >= result.lines - result.wins


def test_the_heuristic_teachers_audit_is_unchanged():
    """The numbers the committed notebooks show for the scripted teacher."""
    result = audit.audit(audit.teacher_move_fn())
    assert (result.lines, result.wins, result.draws, result.losses, result.invalid) == (566, 423, 129, 14, 0)
