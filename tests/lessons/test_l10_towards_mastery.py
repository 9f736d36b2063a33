"""Graders for lesson 10 (towards mastery): entropy and temperature, the exhaustive audit, fork cells.

``nb`` holds the notebook's setup and exercise definitions (see tests/conftest.py).
"""

from __future__ import annotations

import math
import random

import pytest
import torch

import tictactoe as ttt
from rlcourse import audit
from helpers import as_number
from rlcourse.scripted import teacher_move

# ---------------------------------------------------------------------------------------------
# Exercise 10.1: entropy of softmax(logits / T)
# ---------------------------------------------------------------------------------------------


def reference_entropy(logits, temperature: float) -> float:
    logprobs = torch.log_softmax(torch.as_tensor(logits, dtype=torch.float64) / temperature, dim=-1)
    return float(-(logprobs.exp() * logprobs).sum())


def entropy_of(nb, logits, temperature) -> float:
    return as_number(nb.entropy_at_temperature(logits, temperature), "entropy_at_temperature")


def test_ex10_1_known_values(nb):
    for n in (2, 9, 100):
        for t in (0.5, 1.0, 3.0):
            got = entropy_of(nb, torch.zeros(n), t)
            assert got == pytest.approx(math.log(n), rel=1e-5), (
                f"{n} equal logits give a uniform distribution at any temperature, whose entropy is ln({n}) = "
                f"{math.log(n):.4f} nats; got {got:.4f} at T={t}")
    logits = torch.tensor([2.0, 1.0, 0.0])
    for t in (0.5, 1.0, 1.25, 1.4):
        got, expected = entropy_of(nb, logits, t), reference_entropy(logits, t)
        assert got == pytest.approx(expected, rel=1e-4), (
            f"entropy of softmax([2, 1, 0] / {t}) should be {expected:.4f} nats (natural log), got {got:.4f}")
    got = entropy_of(nb, torch.tensor([30.0, 0.0, 0.0, 0.0]), 1.0)
    assert got == pytest.approx(0.0, abs=1e-9), f"a near-certain distribution has entropy about 0, got {got}"


def test_ex10_1_large_logits_stay_finite(nb):
    logits = torch.tensor([1000.0, 999.0, -1000.0, 0.0])
    for t in (0.1, 1.0, 1.4):
        got = entropy_of(nb, logits, t)
        assert math.isfinite(got), (f"entropy_at_temperature({logits.tolist()}, {t}) gave {got}: use torch.log_softmax, "
                                    "which stays finite for large logits, rather than log(softmax(...)) or exp by hand")
        expected = reference_entropy(logits, t)
        assert got == pytest.approx(expected, rel=1e-4, abs=1e-9), (
            f"entropy_at_temperature({logits.tolist()}, {t}) should be {expected:.6f} nats (natural log), got {got:.6f}")


def test_ex10_1_grows_with_temperature(nb):
    gen = torch.Generator().manual_seed(10)
    temperatures = [0.25, 0.5, 0.75, 1.0, 1.25, 1.4, 2.0, 4.0]
    for trial in range(5):
        logits = torch.randn(50, generator=gen) * 3
        values = [entropy_of(nb, logits, t) for t in temperatures]
        assert all(a < b for a, b in zip(values, values[1:])), (
            f"for logits that are not all equal the entropy should grow with the temperature; at T = {temperatures} "
            f"you got {[round(v, 3) for v in values]}")
        assert values[-1] < math.log(50) + 1e-6, "entropy can never exceed ln(number of tokens)"
        for t, v in zip(temperatures, values):
            assert v == pytest.approx(reference_entropy(logits, t), rel=1e-4), \
                f"at T={t} the entropy should be {reference_entropy(logits, t):.4f}, got {v:.4f}"


def test_ex10_1_accepts_lists_and_rejects_zero_temperature(nb):
    got = entropy_of(nb, [0.0, 0.0, 0.0, 0.0], 1.0)
    assert got == pytest.approx(math.log(4), rel=1e-5), "a plain Python list of logits should work too (torch.as_tensor)"
    for temperature in (0.0, -0.0, -1.0, -1e-6):
        with pytest.raises(ValueError):
            got = nb.entropy_at_temperature(torch.tensor([2.0, 1.0, 0.0]), temperature)
            raise AssertionError(f"entropy_at_temperature(..., {temperature}) returned {got!r}: a temperature must be "
                                 "positive (0 is greedy decoding, below 0 is not a temperature); raise ValueError for "
                                 "T <= 0")


# ---------------------------------------------------------------------------------------------
# Exercise 10.2: the exhaustive audit, by recursion
# ---------------------------------------------------------------------------------------------


def as_move_fn(policy):
    """A board -> cell policy as the ``move_fn`` that rlcourse.audit.audit calls (conversations -> replies)."""
    return lambda conversations: [f"<think>.</think><move>{policy(ttt.parse_board(c[-1]['content']))}</move>"
                                  for c in conversations]


def teacher(board: str) -> int:
    return teacher_move(board, random.Random(board))[0]


def minimax(board: str) -> int:
    return ttt.best_moves(board, "X")[0]


def first_free(board: str) -> int:
    return ttt.legal_moves(board)[0]


def centre_then_last(board: str) -> int:
    return 4 if board[4] == "." else ttt.legal_moves(board)[-1]


def always_centre(board: str) -> int:
    return 4  # invalid whenever the centre is taken


POLICIES = {"the teacher": teacher, "a minimax player": minimax, "first free cell": first_free,
            "centre, else the last free cell": centre_then_last, "always the centre": always_centre}
KEYS = ("lines", "wins", "draws", "losses", "invalid")


def counts_of(nb, policy) -> dict:
    got = nb.audit_policy(policy)
    assert isinstance(got, dict), f"audit_policy should return a dict with the keys {KEYS}, got {got!r}"
    missing = [k for k in KEYS if k not in got]
    assert not missing, f"audit_policy's dict lacks the keys {missing} (it should have {KEYS})"
    return {k: got[k] for k in KEYS}


@pytest.mark.parametrize("name", list(POLICIES))
def test_ex10_2_matches_rlcourse_audit(nb, name):
    policy = POLICIES[name]
    reference = audit.audit(as_move_fn(policy))
    expected = {k: (reference.lines if k == "lines" else getattr(reference, k)) for k in KEYS}
    got = counts_of(nb, policy)
    assert got == expected, (
        f"for {name}: expected {expected}, got {got}. Remember both starts (X first on the empty board, and O first "
        "with each of its 9 openings), every legal O reply at every turn, and that one line ends at a win, a full "
        "board, an O win or an invalid X move")


def test_ex10_2_lines_add_up_and_unbeatable_means_zero(nb):
    got = counts_of(nb, minimax)
    assert got["losses"] == 0 and got["invalid"] == 0, f"a minimax player can never lose a line, got {got}"
    for name, policy in POLICIES.items():
        got = counts_of(nb, policy)
        total = got["wins"] + got["draws"] + got["losses"] + got["invalid"]
        assert total == got["lines"], f"for {name} wins + draws + losses + invalid should equal lines, got {got}"
    got = counts_of(nb, always_centre)
    assert got["lines"] == got["invalid"] == 65, (
        f"a player that always answers 4 fails 65 lines: 9 openings where O took the centre, plus 8 x 7 lines where X "
        f"took it first; got {got}")


# ---------------------------------------------------------------------------------------------
# Exercise 10.3: fork cells
# ---------------------------------------------------------------------------------------------


# A fork, the standard definition (lesson 12's is_fork too): a move that does not win at once and leaves
# the mover two or more DISTINCT empty cells where it would win next move. Counting threat LINES instead
# differs in two cases, which the graders test by name: two threat lines that share their empty cell
# (one winning cell, which one block stops), and a move that wins at once.


def threat_line_fork_cells(board: str, mark: str) -> list[int]:
    """Free cells after which ``mark`` has two or more threat lines (a plausible but wrong definition)."""
    out = []
    for cell in ttt.legal_moves(board):
        after = ttt.play(board, cell, mark)
        threats = [line for line in ttt.LINES
                   if sum(after[i] == mark for i in line) == 2 and sum(after[i] == "." for i in line) == 1]
        if len(threats) >= 2:
            out.append(cell)
    return out


def winning_cells(board: str, mark: str) -> set[int]:
    return {cell for cell in ttt.legal_moves(board) if ttt.winner(ttt.play(board, cell, mark)) == mark}


def standard_fork_cells(board: str, mark: str) -> list[int]:
    """Free cells that do not win at once and leave ``mark`` two or more distinct winning cells."""
    return [cell for cell in ttt.legal_moves(board)
            if ttt.winner(ttt.play(board, cell, mark)) != mark and len(winning_cells(ttt.play(board, cell, mark), mark)) >= 2]


def check_fork_cells(nb, board: str, mark: str, what: str = "") -> None:
    got = nb.fork_cells(board, mark)
    assert got is not None, "fork_cells should return a list of cells (it returned None)"
    got = list(got)
    shown = f"\n{ttt.render_board(board)}\n"
    assert len(set(got)) == len(got), f"fork_cells(board, {mark!r}) lists a cell twice: {got} on{shown}"
    taken = [c for c in got if c not in ttt.legal_moves(board)]
    assert not taken, f"fork_cells(board, {mark!r}) returned {taken}, which are not free cells, on{shown}"
    expected = standard_fork_cells(board, mark)
    if sorted(got) != expected:
        lines = threat_line_fork_cells(board, mark)
        raise AssertionError(
            f"{what + ': ' if what else ''}fork_cells(board, {mark!r}) should be {expected}, got {sorted(got)} on{shown}"
            + ("" if what else "A fork cell is a free cell where the mark, once played, has not won yet but has two or "
               "more different cells where it would win next move")
            + (". Counting threat lines gives " + str(lines) + ": two lines can share one winning cell, and a move "
               "that wins at once is a win, not a fork" if sorted(got) == lines else ""))


def live_boards() -> list[str]:
    seen, stack = set(), [(ttt.EMPTY_BOARD, "X"), (ttt.EMPTY_BOARD, "O")]
    while stack:
        board, player = stack.pop()
        if (board, player) in seen:
            continue
        seen.add((board, player))
        if not ttt.is_over(board):
            stack.extend((ttt.play(board, m, player), ttt.other(player)) for m in ttt.legal_moves(board))
    return sorted({b for b, _ in seen if not ttt.is_over(b)})


BOARDS = live_boards()


def test_ex10_3_named_positions(nb):
    cases = [
        ("O...X...X", "O", [], "X holds the diagonal corner 8 and the centre; O has one mark: no fork"),
        ("X...O...X", "X", [2, 6], "X holds two opposite corners: either free corner makes two threats"),
        ("O...X...X", "X", [2, 5, 6, 7], "X holds the centre and corner 8, O only corner 0: four cells give X two threats"),
        ("O...X.X.O", "O", [2], "O holds corners 0 and 8: O on 2 threatens 1 (0-1-2) and 5 (2-5-8)"),
        ("X.O.O...X", "X", [6], "X at 0 and 8: X on 6 threatens 3 (0-3-6) and 7 (6-7-8); O's own threat at 6 does not matter here"),
        ("XO..X.O..", "X", [3, 5], "X at 0 and 4 already threatens 8; X on 3 or 5 adds a second threat on the middle row"),
        ("X...O....", "X", [], "a single X mark cannot make two threats with one more move"),
        (ttt.EMPTY_BOARD, "X", [], "the empty board"),
        ("XXO...OX.", "X", [],
         "X on 8 makes two threat lines (0-4-8 and 1-4-7) that share one winning cell, 4: one block stops both, "
         "so 8 is no fork"),
        ("XXOOO....", "O", [7, 8], "O on 5 completes 3-4-5 at once: a win, not a fork"),
    ]
    for board, mark, expected, what in cases:
        assert standard_fork_cells(board, mark) == expected, (board, mark)
        check_fork_cells(nb, board, mark, what)


def test_ex10_3_every_position(nb):
    for board in BOARDS:
        for mark in "XO":
            check_fork_cells(nb, board, mark)
    assert len(BOARDS) > 4000
