"""Graders for lesson 12 (play and reuse): reading a human's move, threats and forks, renaming an
environment's pyproject.toml.

``nb`` holds the notebook's setup and exercise definitions (see tests/conftest.py).
"""

from __future__ import annotations

import random
import re
import tomllib
from pathlib import Path

import pytest

from tictactoe import EMPTY_BOARD, legal_moves, other, play, render_board, winner

ROOT = Path(__file__).resolve().parents[2]


def live_positions() -> list[str]:
    """Every board reachable in legal play (either side starting) where the game is not over."""
    seen: set[str] = set()
    stack = [(EMPTY_BOARD, "X"), (EMPTY_BOARD, "O")]
    done: set[tuple[str, str]] = set()
    while stack:
        board, player = stack.pop()
        if (board, player) in done:
            continue
        done.add((board, player))
        if winner(board) is None and "." in board:
            seen.add(board)
            stack.extend((play(board, m, player), other(player)) for m in legal_moves(board))
    return sorted(seen)


LIVE = live_positions()


def shown(board: str) -> str:
    return "\n" + render_board(board) + "\n"


# ---------------------------------------------------------------------------------------------
# Exercise 12.1: read_cell
# ---------------------------------------------------------------------------------------------

NOT_A_CELL = ["", " ", "\n", "\t  ", "x", "four", "q", "44", "9", "10", "-1", "+4", "4.0", "04", "4 5", "4,5",
              "٤", "４", "²", "<move>4</move>", "cell 4", "None", "4\x00", "0x4", "½",
              "12", "78", "345", "012345678"]  # substrings of "012345678": a lenient `typed in "012345678"` lets them in


def test_ex12_1_reads_every_free_cell(nb):
    rng = random.Random(12)
    boards = [EMPTY_BOARD] + rng.sample(LIVE, 200)
    for board in boards:
        for cell in legal_moves(board):
            for text in (str(cell), f" {cell}", f"{cell}\n", f"\t {cell}  \r\n"):
                got = nb.read_cell(text, board)
                assert got == cell and type(got) is int, \
                    f"read_cell({text!r}, board) should return the int {cell}, got {got!r} for{shown(board)}"


@pytest.mark.parametrize("board", [EMPTY_BOARD, "X...O...."])
def test_ex12_1_refuses_what_is_not_one_digit_0_to_8(nb, board):
    for text in NOT_A_CELL:
        try:
            got = nb.read_cell(text, board)
        except ValueError as error:
            assert str(error).strip(), f"read_cell({text!r}, ...) raised ValueError without a message"
            continue
        except NotImplementedError:
            raise
        except Exception as error:  # IndexError, TypeError...: not the clear error asked for
            raise AssertionError(f"read_cell({text!r}, ...) should raise ValueError with a message, "
                                 f"it raised {type(error).__name__}: {error}") from None
        raise AssertionError(f"read_cell({text!r}, ...) should refuse it (it is not one ASCII digit 0-8), "
                             f"it returned {got!r}")


def test_ex12_1_refuses_taken_cells_and_names_them(nb):
    rng = random.Random(7)
    for board in [b for b in rng.sample(LIVE, 150) if b != EMPTY_BOARD] + ["XOXOXOOXO"]:
        for cell in [i for i, c in enumerate(board) if c != "."]:
            try:
                got = nb.read_cell(f" {cell} ", board)
            except ValueError as error:
                assert str(cell) in str(error), \
                    f"the error for the taken cell {cell} should name the cell, got {str(error)!r}"
                continue
            raise AssertionError(f"cell {cell} is taken by {board[cell]}; read_cell should raise ValueError, "
                                 f"it returned {got!r} for{shown(board)}")


# ---------------------------------------------------------------------------------------------
# Exercise 12.2: threat_cells and is_fork
# ---------------------------------------------------------------------------------------------


def reference_threats(board: str, mark: str) -> list[int]:
    return [c for c in legal_moves(board) if winner(play(board, c, mark)) == mark]


def reference_fork(board: str, cell: int, mark: str) -> bool:
    after = play(board, cell, mark)
    return winner(after) != mark and len(reference_threats(after, mark)) >= 2


SAMPLE = [EMPTY_BOARD, "X...O...X", "X.O.X....", "O...X...."] + random.Random(2026).sample(LIVE, 1200)


def test_ex12_2_threat_cells(nb):
    for board in SAMPLE:
        for mark in "XO":
            expected = reference_threats(board, mark)
            got = nb.threat_cells(board, mark)
            assert list(got) == expected, \
                f"threat_cells(board, {mark!r}) should be {expected}, got {got!r} for{shown(board)}"


def test_ex12_2_is_fork(nb):
    forks = 0
    for board in SAMPLE:
        for mark in "XO":
            for cell in legal_moves(board):
                expected = reference_fork(board, cell, mark)
                got = nb.is_fork(board, cell, mark)
                assert got == expected, (
                    f"is_fork(board, {cell}, {mark!r}) should be {expected} "
                    f"({'two or more threats after the move' if expected else 'the move wins at once or makes fewer than two threats'})"
                    f", got {got!r} for{shown(board)}")
                forks += expected
    assert forks > 100  # the sample really contains forks
    # a move that wins at once is a win, not a fork (even if it also leaves threats)
    assert nb.is_fork("XX.XO.O..", 2, "X") is False, "a move that completes a line is a win, not a fork"


def test_ex12_2_a_fork_needs_two_distinct_cells(nb):
    # X on 3 makes two threat LINES, 0-3-6 and 0-4-8, but both are completed by the same cell 0: O blocks
    # both with one move, so this is no fork. A fork counts distinct threatened cells, not lines.
    board = "..O.XOXOX"
    assert reference_threats(play(board, 3, "X"), "X") == [0] and reference_fork(board, 3, "X") is False
    got = nb.threat_cells(play(board, 3, "X"), "X")
    assert list(got) == [0], (f"after X on 3 the only cell where X wins next is 0 (it completes both 0-3-6 and 0-4-8): "
                              f"threat_cells should list it once, [0], got {got!r} for{shown(play(board, 3, 'X'))}")
    got = nb.is_fork(board, 3, "X")
    assert got is False, (
        f"is_fork(board, 3, 'X') should be False: after X on 3 the lines 0-3-6 and 0-4-8 both need cell 0, a single "
        f"winning cell that O blocks with one move; a fork needs two DIFFERENT winning cells. Got {got!r} for{shown(board)}")
    # the same shape for O: O on 0 threatens 1 along 0-1-2 and along 1-4-7
    assert nb.is_fork("..O.OXXOX", 0, "O") is False, (
        "is_fork('..O.OXXOX', 0, 'O') should be False: the lines 0-1-2 and 1-4-7 share their empty cell 1")
    assert nb.is_fork("X...O...X", 2, "X") is True, "X in three corners (0, 2, 8) threatens 1 and 5: a fork"


# ---------------------------------------------------------------------------------------------
# Exercise 12.3: rename_environment
# ---------------------------------------------------------------------------------------------

TRICKY = '''# A copy of the course's tictactoe environment
[project]
name="tictactoe"   # the id: vf.load_environment("tictactoe")
version = "0.2.0"
description = "tictactoe against a seeded minimax opponent (forked from the tictactoe course env)"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["verifiers>=0.2.0,<0.3"]

[project.urls]
homepage = "https://example.org/tictactoe"

[tool.other]
name = "tictactoe"

[tool.setuptools]
py-modules = ["tictactoe", "tictactoe_helpers"]

[tool.verifiers.eval]
num_examples = 20
'''

# TOML tables may come in any order: here another table's name = "tictactoe" comes before [project]
REORDERED = '''[tool.other]
name = "tictactoe"

[tool.setuptools]
py-modules = ["tictactoe"]

[project]
name = "tictactoe"
version = "0.1.0"
'''

NO_SETUPTOOLS = '''[project]
name = "tictactoe"
version = "0.1.0"
dependencies = ["verifiers>=0.2.0,<0.3"]
'''


def changed_lines(before: str, after: str) -> list[int]:
    a, b = before.splitlines(), after.splitlines()
    assert len(a) == len(b), f"the text should keep its {len(a)} lines, it has {len(b)}"
    return [i for i, (x, y) in enumerate(zip(a, b)) if x != y]


def editable_lines(lines: list[str]) -> set[int]:
    """Indexes of the [project] name line and the [tool.setuptools] py-modules line."""
    table, allowed = None, set()
    for i, line in enumerate(lines):
        header = re.match(r"\s*\[([^\[\]]+)\]", line)
        if header:
            table = header.group(1).strip()
        elif (table == "project" and re.match(r"\s*name\s*=", line)) or \
                (table == "tool.setuptools" and re.match(r"\s*py-modules\s*=", line)):
            allowed.add(i)
    return allowed


def test_ex12_3_renames_name_and_module_only(nb):
    real = (ROOT / "envs" / "tictactoe" / "pyproject.toml").read_text()
    for text, modules in [(real, ["my_tictactoe"]), (TRICKY, ["my_tictactoe", "tictactoe_helpers"]),
                          (NO_SETUPTOOLS, None), (REORDERED, ["my_tictactoe"])]:
        out = nb.rename_environment(text, "tictactoe", "my_tictactoe")
        assert isinstance(out, str), f"rename_environment should return the new text, got {type(out).__name__}"
        data, before = tomllib.loads(out), tomllib.loads(text)
        assert data["project"]["name"] == "my_tictactoe", \
            f"[project] name should become 'my_tictactoe', got {data['project']['name']!r}"
        got_modules = data.get("tool", {}).get("setuptools", {}).get("py-modules")
        assert got_modules == modules, f"py-modules should be {modules}, got {got_modules}"
        lines = text.splitlines()
        allowed = editable_lines(lines)
        for i in changed_lines(text, out):
            assert i in allowed, (f"only the [project] name and the py-modules entry may change; line {i + 1} "
                                  f"changed from {lines[i]!r} to {out.splitlines()[i]!r}")
        data["project"]["name"] = before["project"]["name"]
        if modules:
            data["tool"]["setuptools"]["py-modules"] = before["tool"]["setuptools"]["py-modules"]
        assert data == before, "apart from the name and the module, the TOML should mean the same as before"
    tricky = tomllib.loads(nb.rename_environment(TRICKY, "tictactoe", "my_tictactoe"))
    assert tricky["tool"]["other"]["name"] == "tictactoe", "the name in [tool.other] is not the package name"
    assert "tictactoe against" in tricky["project"]["description"], "the description must stay as it was"
    assert nb.rename_environment(TRICKY, "tictactoe", "tictactoe") == TRICKY
    reordered = tomllib.loads(nb.rename_environment(REORDERED, "tictactoe", "my_tictactoe"))
    assert reordered["tool"]["other"]["name"] == "tictactoe", (
        "find the name line inside the [project] table, wherever that table is: the first name = \"tictactoe\" of the "
        "file may belong to another table")


@pytest.mark.parametrize("new_id", ["My Env", "1abc", "", "my-env", "tic tac", "Tictactoe", "a.b", "é"])
def test_ex12_3_refuses_bad_ids(nb, new_id):
    text = (ROOT / "envs" / "tictactoe" / "pyproject.toml").read_text()
    with pytest.raises(ValueError):
        nb.rename_environment(text, "tictactoe", new_id)
        raise AssertionError(f"{new_id!r} is not a lowercase Python module name; rename_environment should "
                             "raise ValueError")


def test_ex12_3_refuses_the_wrong_old_id(nb):
    text = (ROOT / "envs" / "tictactoe" / "pyproject.toml").read_text()
    for old in ["reverse_text", "tic"]:
        try:
            nb.rename_environment(text, old, "my_env")
        except ValueError:
            continue
        raise AssertionError(f"the [project] name is 'tictactoe', not {old!r}: rename_environment should raise ValueError")
