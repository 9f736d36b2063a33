"""Graders for lesson 05 (Tic-Tac-Toe, first version): winner, read_move, env_response of the basic game.

``nb`` holds the notebook's setup and exercise definitions (see tests/conftest.py).
"""

from __future__ import annotations

import itertools
import random

import verifiers as vf

import tictactoe
from helpers import build, reachable_positions, replies, rollouts
from rlcourse.clients import run_coroutine
from rlcourse.scripted import GARBAGE_TEXTS, fuzz_text
from tictactoe import EMPTY_BOARD, message_text, parse_board, render_board


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


REACHABLE = sorted({board for board, _ in reachable_positions()})


def shown(board: str) -> str:
    return "\n" + render_board(board) + "\n"


def play_games(env, policy, num_examples: int, seed: int = 0) -> list[dict]:
    """Play ``num_examples`` games in process; ``policy`` is a model id or a plain function."""
    return rollouts(env, policy, num_examples=num_examples, state_columns=["board", "outcome", "invalid_moves"], seed=seed)


# ---------------------------------------------------------------------------------------------
# Exercise 5.1: winner
# ---------------------------------------------------------------------------------------------


def test_ex5_1_winner(nb):
    for board in ["XXX.O.O..", "O..O..O.X", "X...X...X", "..O.O.O.X"]:
        got = nb.winner(board)
        expected = tictactoe.winner(board)
        assert got == expected, f"winner() of{shown(board)}should be {expected!r}, got {got!r}"
    for board in [EMPTY_BOARD, "XOXXOOOXX", "XO......."]:
        got = nb.winner(board)
        assert got is None, (f"nobody has won on{shown(board)}so winner() should return None, got {got!r}"
                             + (" (three empty cells are not a line of one mark)" if got == "." else ""))
    for board in REACHABLE:  # every position a game can reach
        got, expected = nb.winner(board), tictactoe.winner(board)
        assert got == expected, f"winner() of{shown(board)}should be {expected!r}, got {got!r}"
    for cells in itertools.product("XO.", repeat=9):  # every other arrangement with at most one winner
        board = "".join(cells)
        lines = {board[a] for a, b, c in tictactoe.LINES if board[a] != "." and board[a] == board[b] == board[c]}
        if len(lines) > 1:
            continue
        got, expected = nb.winner(board), tictactoe.winner(board)
        assert got == expected, f"winner() of{shown(board)}should be {expected!r}, got {got!r}"


# ---------------------------------------------------------------------------------------------
# Exercise 5.2: read_move
# ---------------------------------------------------------------------------------------------


def reference_read_move(text, board):
    cell, _ = tictactoe.parse_move(text)
    return cell if cell is not None and board[cell] == "." else None


NAMED_CASES = [  # (reply, board, expected, what it shows)
    ("<move>4</move>", EMPTY_BOARD, 4, "a plain valid move"),
    ("<move> 0 </move>", EMPTY_BOARD, 0, "spaces around the digit are allowed"),
    ("<move>\n8\n</move>", EMPTY_BOARD, 8, "newlines around the digit are allowed"),
    ("<think>centre</think>\n<move>4</move>", EMPTY_BOARD, 4, "text around the tag does not stop the move"),
    (None, EMPTY_BOARD, None, "a reply with no content"),
    ("", EMPTY_BOARD, None, "an empty reply"),
    ("   \n", EMPTY_BOARD, None, "a blank reply"),
    ("4", EMPTY_BOARD, None, "a digit without tags"),
    ("<move></move>", EMPTY_BOARD, None, "an empty tag"),
    ("<move> </move>", EMPTY_BOARD, None, "a blank tag"),
    ("<move>9</move>", EMPTY_BOARD, None, "9 is off the board"),
    ("<move>-1</move>", EMPTY_BOARD, None, "a negative number"),
    ("<move>+4</move>", EMPTY_BOARD, None, "a sign is not a digit"),
    ("<move>04</move>", EMPTY_BOARD, None, "two characters are not one digit"),
    ("<move>01</move>", EMPTY_BOARD, None, "'01' is two digits, even though it is a substring of '012345678'"),
    ("<move>12</move>", EMPTY_BOARD, None, "'12' is a number off the board, not one digit"),
    ("<move>345</move>", EMPTY_BOARD, None, "three digits are not one digit"),
    ("<move>4.0</move>", EMPTY_BOARD, None, "a decimal number"),
    ("<move>four</move>", EMPTY_BOARD, None, "a word"),
    ("<move>\uff14</move>", EMPTY_BOARD, None, "a full-width digit (not ASCII)"),
    ("<move>\u0664</move>", EMPTY_BOARD, None, "an Arabic-Indic digit (not ASCII)"),
    ("<move>4</move><move>5</move>", EMPTY_BOARD, None, "two moves"),
    ("<move>4</move> or <move>4</move>", EMPTY_BOARD, None, "the same move twice is still two tags"),
    ("<move>4", EMPTY_BOARD, None, "an unclosed tag"),
    ("<MOVE>4</MOVE>", EMPTY_BOARD, None, "uppercase tags"),
    ("<move>4</move>", "....X....", None, "cell 4 is taken by X"),
    ("<move>0</move>", "O........", None, "cell 0 is taken by O"),
    ("<move>" + "1" * 100_000 + "</move>", EMPTY_BOARD, None, "a 100,000-digit number"),
    ("x" * 100_000, EMPTY_BOARD, None, "100,000 characters of noise"),
]


def call_read_move(nb, text, board):
    try:
        return nb.read_move(text, board)
    except NotImplementedError:
        raise
    except Exception as exc:  # the environment must survive any reply
        raise AssertionError(f"read_move({text!r:.60}, {board!r}) raised {type(exc).__name__}: {exc}; "
                             "it must return None for a reply it cannot use") from exc


def test_ex5_2_read_move(nb):
    for text, board, expected, what in NAMED_CASES:
        got = call_read_move(nb, text, board)
        assert got == expected and type(got) is type(expected), (
            f"{what}: read_move({text!r:.60}, {board!r}) should return {expected!r}, got {got!r}")
    for board in REACHABLE:  # every cell of every reachable position
        for cell in range(9):
            expected = cell if board[cell] == "." else None
            got = call_read_move(nb, f"<move>{cell}</move>", board)
            assert got == expected, (f"read_move('<move>{cell}</move>', board) on{shown(board)}should return "
                                     f"{expected!r} (cell {cell} is {'free' if expected is not None else 'taken'}), got {got!r}")
    rng = random.Random(5)
    garbage = GARBAGE_TEXTS + [fuzz_text(rng) for _ in range(1500)]
    for text in garbage:
        board = rng.choice(REACHABLE)
        expected = reference_read_move(text, board)
        got = call_read_move(nb, text, board)
        assert got == expected, f"read_move({text!r:.60}, {board!r}) should return {expected!r}, got {got!r}"


# ---------------------------------------------------------------------------------------------
# Exercise 5.3: env_response of the basic game
# ---------------------------------------------------------------------------------------------


def require_exercises_5_1_and_5_2(nb) -> None:
    """env_response uses the learner's winner and read_move: point at them if they are wrong."""
    problems = []
    try:
        if any(nb.winner(b) != tictactoe.winner(b) for b in ("XXX.O.O..", "X...X...X", "OOOXX.X..", EMPTY_BOARD, "XOXXOOOXX")):
            problems.append("winner (exercise 5.1)")
    except NotImplementedError:
        raise
    except Exception:
        problems.append("winner (exercise 5.1)")
    try:
        if any(nb.read_move(t, b) != reference_read_move(t, b) for t, b, *_ in NAMED_CASES if len(t or "") < 1000):
            problems.append("read_move (exercise 5.2)")
    except NotImplementedError:
        raise
    except Exception:
        problems.append("read_move (exercise 5.2)")
    assert not problems, (f"env_response relies on your {' and '.join(problems)}, which is not right yet: "
                          "run its check and fix it first")


def build_env(nb, num_examples: int = 40):
    """What the lesson's load_basic_environment builds, around the notebook's own BasicTicTacToeEnv.

    Built here rather than by calling nb.load_basic_environment, so that the class graded is always the
    namespace's BasicTicTacToeEnv (the exercise), whichever namespace the setup function was defined in.
    """
    rubric = vf.Rubric(funcs=[tictactoe.win_reward, tictactoe.move_format], weights=[1.0, 0.2])
    for metric in (tictactoe.win, tictactoe.draw, tictactoe.loss, tictactoe.invalid_moves):
        rubric.add_metric(metric)
    games = nb.make_basic_dataset(num_examples)
    return build(nb.BasicTicTacToeEnv, dataset=games, eval_dataset=games, system_prompt=tictactoe.BASIC_SYSTEM_PROMPT,
                 rubric=rubric, max_turns=10)


def fresh_state(env, seed: int, board: str = EMPTY_BOARD) -> dict:
    state = {"info": {"seed": seed}, "trajectory": [], "final_env_response": None, "error": None}
    state = run_coroutine(env.setup_state(state)) or state
    state["board"] = board
    return state


def respond(env, state: dict, reply: str) -> list:
    messages = [vf.UserMessage(content="Your move."), vf.AssistantMessage(content=reply)]
    before = state["board"]
    try:
        out = run_coroutine(env.env_response(messages, state))
    except (NotImplementedError, AssertionError):
        raise
    except Exception as exc:
        raise AssertionError(f"env_response raised {type(exc).__name__}: {exc}, for the reply {reply!r} on the board"
                             f"{shown(before)}") from exc
    assert isinstance(out, list) and out, f"env_response must return a non-empty list of messages, got {out!r}"
    return out


def last_text(out: list) -> str:
    return message_text(out[-1])


def check_finished(state, outcome, situation, out=None):
    assert state["outcome"] == outcome, f"{situation}: state['outcome'] should be {outcome!r}, got {state['outcome']!r}"
    assert state.get("final_env_response"), (f"{situation}: the game is over, so state['final_env_response'] must be "
                                             "set (use self.finish(state, outcome, text))")
    if out is not None:
        shown_board = parse_board(last_text(out))
        assert shown_board == state["board"], (
            f"{situation}: the last message should show the final board (render_board(board)), got "
            + ("no board" if shown_board is None else f"the board{shown(shown_board)}") + f" for{shown(state['board'])}")


def test_ex5_3_env_response_on_chosen_positions(nb):
    require_exercises_5_1_and_5_2(nb)
    env = build_env(nb, 4)

    state = fresh_state(env, seed=1)
    out = respond(env, state, "<move>4</move>")
    board = state["board"]
    assert board[4] == "X", f"after '<move>4</move>' on an empty board, cell 4 should hold X; board is{shown(board)}"
    assert board.count("O") == 1 and board.count("X") == 1, f"O should answer with exactly one move; board is{shown(board)}"
    assert state["outcome"] is None and not state.get("final_env_response"), \
        "the game is not over after one move each: do not set an outcome or final_env_response yet"
    assert parse_board(last_text(out)) == board, ("the message after a normal turn must show the current board "
                                                  "(use turn_message(board, cell, reply), which draws it with render_board)")

    state = fresh_state(env, seed=1)
    respond(env, state, "<move>0</move>")
    assert state["board"][0] == "X" and state["invalid_moves"] == 0 and state["outcome"] is None, (
        f"'<move>0</move>' on an empty board is a valid move (cell 0 is a cell like any other: test `cell is None`, "
        f"not `not cell`); got invalid_moves={state['invalid_moves']}, outcome={state['outcome']!r}, board"
        f"{shown(state['board'])}")

    state = fresh_state(env, seed=1, board="X...O....")
    out = respond(env, state, "<move>4</move>")
    assert state["board"] == "X...O....", "an invalid move must not change the board"
    assert state["invalid_moves"] == 1, f"an invalid move should add 1 to state['invalid_moves'], got {state['invalid_moves']}"
    check_finished(state, "loss", "a move to an occupied cell", out)

    state = fresh_state(env, seed=2, board="X...O....")
    out = respond(env, state, "I think the centre")
    check_finished(state, "loss", "a reply without a <move> tag", out)

    state = fresh_state(env, seed=3, board="XX.OO....")
    out = respond(env, state, "<move>2</move>")
    assert state["board"] == "XXXOO....", f"X's winning move should be on the board, got{shown(state['board'])}"
    check_finished(state, "win", "X completing the top row", out)

    state = fresh_state(env, seed=4, board="XOXXOOOX.")
    out = respond(env, state, "<move>8</move>")
    assert state["board"] == "XOXXOOOXX", f"X's last move should fill the board, got{shown(state['board'])}"
    check_finished(state, "draw", "X filling the board without a line", out)

    replies_seen = set()
    o_won = False
    for seed in range(60):  # O threatens cell 5; a random O takes it now and then
        state = fresh_state(env, seed=seed, board="XX.OO.X..")
        out = respond(env, state, "<move>8</move>")
        board = state["board"]
        assert board[8] == "X" and board.count("O") == 3, f"X took 8 and O should have answered once; board is{shown(board)}"
        replies_seen.add(next(i for i in range(9) if board[i] == "O" and "XX.OO.X.."[i] == "."))
        if tictactoe.winner(board) == "O":
            o_won = True
            check_finished(state, "loss", "O completing a line", out)
        else:
            assert state["outcome"] is None, f"nobody has won on{shown(board)}so the outcome should stay None"
    assert o_won, "O never completed its line at cell 5 in 60 games: does O pick a random free cell with state['rng']?"
    assert replies_seen == {2, 5, 7}, (f"O should pick any free cell at random; over 60 games it only chose {sorted(replies_seen)} "
                                       "of the free cells [2, 5, 7]")

    first_replies = set()
    for seed in range(40):
        state = fresh_state(env, seed=seed)
        respond(env, state, "<move>4</move>")
        first_replies.add(state["board"].index("O"))
    assert len(first_replies) >= 6, (f"after X takes the centre, O's answer over 40 games was always one of {sorted(first_replies)}: "
                                     "O should choose at random with state['rng'].choice(legal_moves(board))")
    # O's dice belong to the game: replaying the same games, in another order and whatever the global random
    # state, gives the same replies. (Global seeds fixed here, so the verdict never depends on chance.)
    def o_answers(seeds, global_seed):
        random.seed(global_seed)
        boards = {}
        for seed in seeds:
            state = fresh_state(env, seed=seed)
            respond(env, state, "<move>0</move>")
            boards[seed] = state["board"]
        return boards

    first, again = o_answers(range(20), 1), o_answers(reversed(range(20)), 2)
    differ = [seed for seed in range(20) if first[seed] != again[seed]]
    assert not differ, ("the same game (same seed, same move) got a different answer from O when replayed "
                        f"(games {differ[:5]}): O must draw from state['rng'], the game's own generator seeded in "
                        "setup_state, not from the random module or a generator shared by all games")


def expected_outcome(board: str) -> str | None:
    w = tictactoe.winner(board)
    if w is not None:
        return "win" if w == "X" else "loss"
    return "draw" if "." not in board else None


def x_cells_from_replies(row) -> list[int]:
    """The cells the player asked for in its valid replies, replayed on the board."""
    board, cells = EMPTY_BOARD, []
    for message in row["completion"]:
        role = message["role"] if isinstance(message, dict) else message.role
        if role == "assistant":
            cell = reference_read_move(message_text(message), board)
            if cell is None:
                break
            cells.append(cell)
        else:
            found = parse_board(message_text(message))
            if found is not None:
                board = found
    return cells


def test_ex5_3_whole_games_through_verifiers(nb):
    require_exercises_5_1_and_5_2(nb)
    env = build_env(nb, 40)
    respond(env, fresh_state(env, seed=0), "<move>4</move>")  # fails fast (and quietly) on an unsolved stub

    rows = play_games(env, "scripted/ttt-minimax", 40)
    for row in rows:
        assert row.get("error") is None, f"a game ended with an error: {row['error']}"
        assert row["outcome"] in ("win", "draw"), (f"a perfect X cannot lose to a random O, but a game ended as "
                                                   f"{row['outcome']!r} on{shown(row['board'])}(is the board shown to the player after each turn?)")
        assert row["outcome"] == expected_outcome(row["board"]), \
            f"outcome {row['outcome']!r} does not match the final board{shown(row['board'])}"
        board = row["board"]
        assert sorted(i for i in range(9) if board[i] == "X") == sorted(x_cells_from_replies(row)), \
            f"the X cells on the final board{shown(board)}are not the cells the player chose"
        assert board.count("X") - board.count("O") == 1, f"X starts, so X has one mark more than O at the end; got{shown(board)}"
        assert abs(row["reward"] - ({"win": 1.0, "draw": 0.5}[row["outcome"]] + 0.2)) < 1e-9, \
            f"a {row['outcome']} with perfect format should score {1.0 if row['outcome'] == 'win' else 0.5} + 0.2, got {row['reward']}"

    rows = play_games(env, "scripted/ttt-random", 40, seed=3)
    outcomes = [row["outcome"] for row in rows]
    for row in rows:
        assert row["outcome"] == expected_outcome(row["board"]), \
            f"outcome {row['outcome']!r} does not match the final board{shown(row['board'])}"
    assert "win" in outcomes and "loss" in outcomes, f"random against random should give wins and losses, got {outcomes}"

    rows = play_games(env, replies("<move>4</move>"), 20)
    for row in rows:
        assert row["outcome"] == "loss" and row["invalid_moves"] == 1, \
            "repeating cell 4 on the second turn is an invalid move and must lose the game"
        assert row["metrics"]["num_turns"] == 2, f"the game should stop right after the invalid move, it lasted {row['metrics']['num_turns']} turns"
        assert abs(row["reward"] - 0.2) < 1e-9, f"a lost game with perfect format scores 0.2, got {row['reward']}"

    rows = play_games(env, "scripted/fuzz", 40, seed=1)
    for row in rows:
        error = row.get("error")
        assert error is None or error.get("error") == "EmptyModelResponseError", f"garbage replies caused an error: {error}"
        board = row["board"]
        assert set(board) <= set("XO.") and len(board) == 9, f"the board got corrupted: {board!r}"
        if error is None:
            assert row["outcome"] in ("win", "draw", "loss"), f"every garbage game must end with an outcome, got {row['outcome']!r}"
