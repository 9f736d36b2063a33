"""Graders for lesson 06 (Tic-Tac-Toe, full environment): minimax value, uniform opponent, turn seed,
stratified difficulty.

``nb`` holds the notebook's setup and exercise definitions (see tests/conftest.py).
"""

from __future__ import annotations

import ast
import base64
import importlib
import importlib.util
import inspect
import marshal
import math
import os
import random
import statistics
import subprocess
import sys
import textwrap
import types
from collections import Counter

import tictactoe
from tictactoe import EMPTY_BOARD, legal_moves, other, play, render_board

from helpers import reachable_positions


POSITIONS = sorted(reachable_positions())
LIVE = [(b, p) for b, p in POSITIONS if tictactoe.winner(b) is None and "." in b]
O_TO_MOVE = [b for b, p in LIVE if p == "O"]
BOARDS = sorted({b for b, _ in POSITIONS})
MEANING = {1: "+1, a win for the player to move", 0: "0, a draw", -1: "-1, a loss for the player to move"}


def shown(board: str) -> str:
    return "\n" + render_board(board) + "\n"


# ---------------------------------------------------------------------------------------------
# Exercise 6.1: game_value (and best_replies built on it)
# ---------------------------------------------------------------------------------------------


def value_of(nb, board: str, player: str):
    try:
        return nb.game_value(board, player)
    except (NotImplementedError, AssertionError, RecursionError):
        raise
    except Exception as exc:
        raise AssertionError(f"game_value(board, {player!r}) raised {type(exc).__name__}: {exc}, on the board{shown(board)}"
                             + (" (somewhere below this position max() met a full board: a full board with no line "
                                "is a draw, value 0)" if isinstance(exc, ValueError) and "empty" in str(exc) else "")) from exc


def test_ex6_1_game_value_on_every_reachable_position(nb):
    named = [
        (EMPTY_BOARD, "X", 0, "the empty board"),
        ("XXXOO....", "O", -1, "X has already won and O is to move"),
        ("XOXXOOOXX", "O", 0, "a full board with no line"),
        ("XX.OO....", "X", 1, "X can complete the top row now"),
        ("XX.OO....", "O", 1, "O to move can complete the middle row now"),
        ("XO.......", "X", 1, "O answered a corner with the adjacent edge: X wins by force"),
        ("X...O...X", "O", 0, "O still draws by taking an edge"),
    ]
    for board, player, expected, what in named:
        got = value_of(nb, board, player)
        assert got == expected, (f"{what}: game_value(board, {player!r}) on{shown(board)}should be "
                                 f"{MEANING[expected]}, got {got!r}")
    for board, player in POSITIONS:
        got, expected = value_of(nb, board, player), tictactoe.minimax_value(board, player)
        assert got == expected, (f"game_value(board, {player!r}) on{shown(board)}should be "
                                 f"{MEANING[expected]}, got {got!r}")
    for board, player in LIVE:
        got, expected = nb.best_replies(board, player), tictactoe.best_moves(board, player)
        assert got == expected, f"best_replies(board, {player!r}) on{shown(board)}should be {expected}, got {got}"


# ---------------------------------------------------------------------------------------------
# Exercise 6.2: opponent_move, uniform among the best moves
# ---------------------------------------------------------------------------------------------


def require_exercise_6_1(nb) -> None:
    """opponent_move builds on best_replies, which uses the learner's game_value: say so if that is broken."""
    problem = None
    try:
        for board in ("X........", "XX..O....", "X...O...X", EMPTY_BOARD):
            if nb.best_replies(board, "O") != tictactoe.best_moves(board, "O"):
                problem = f"best_replies(board, 'O') is wrong on{shown(board)}"
                break
    except NotImplementedError:
        raise
    except Exception as exc:
        problem = f"best_replies raised {type(exc).__name__}: {exc}"
    assert problem is None, (f"opponent_move relies on best_replies, which uses your game_value from exercise 6.1, and "
                             f"{problem}: run check('6.1') and fix game_value first")


def moves_seen(nb, board: str, wanted: set[int], p: float = 0.0, limit: int = 400) -> Counter:
    """Draw moves with seeded generators until every move in ``wanted`` has shown up (or ``limit`` draws)."""
    seen: Counter = Counter()
    for k in range(limit):
        seen[nb.opponent_move(board, random.Random(f"grader:{board}:{k}"), p)] += 1
        if set(seen) >= wanted and k >= 2 * len(wanted):
            break
    return seen


def test_ex6_2_opponent_chooses_uniformly_among_best_moves(nb):
    require_exercise_6_1(nb)
    # The empty board (O opens): all nine moves are equally good.
    counts = Counter(nb.opponent_move(EMPTY_BOARD, random.Random(k), 0.0) for k in range(1800))
    assert set(counts) == set(range(9)), (
        f"with random_move_prob=0, O opening on the empty board only ever chose {sorted(counts)}, but all nine cells "
        "are equally good: choose uniformly among best_replies(board, 'O'). Always taking the first best move is the "
        "biased-minimax trap of this lesson")
    low, high = min(counts.values()), max(counts.values())
    assert low >= 130 and high <= 270, (f"over 1800 openings each cell should be chosen about 200 times, got {dict(sorted(counts.items()))}: "
                                        "the choice among the best moves should be uniform (rng.choice)")
    # Every position where O is to move: the moves chosen with p=0 are exactly the best moves.
    for board in O_TO_MOVE:
        best = set(tictactoe.best_moves(board, "O"))
        seen = moves_seen(nb, board, best, limit=40 * len(best))
        wrong = set(seen) - best
        assert not wrong, (f"with random_move_prob=0, O played {sorted(wrong)} on{shown(board)}but the best moves are "
                           f"{sorted(best)}: the opponent must play perfectly when it does not play at random")
        assert set(seen) == best, (f"with random_move_prob=0 on{shown(board)}O only ever chose {sorted(seen)} in "
                                   f"{sum(seen.values())} tries, but {sorted(best)} are all equally good: choose uniformly among them")


def test_ex6_2_random_move_probability_and_seeded_generator(nb):
    require_exercise_6_1(nb)
    board = "X........"  # O to move; eight free cells
    counts = Counter(nb.opponent_move(board, random.Random(k), 1.0) for k in range(1600))
    assert set(counts) == set(legal_moves(board)), \
        f"with random_move_prob=1, O should pick any free cell; it chose {sorted(counts)} on{shown(board)}"
    assert min(counts.values()) >= 130 and max(counts.values()) <= 270, \
        f"with random_move_prob=1 the free cells should be equally likely (about 200 each of 1600), got {dict(sorted(counts.items()))}"

    board = "XX..O...."  # O must block at 2; the six other free cells lose
    assert tictactoe.best_moves(board, "O") == [2]
    for p in (0.2, 0.5):
        picks = [nb.opponent_move(board, random.Random(k), p) for k in range(3000)]
        share = sum(m != 2 for m in picks) / len(picks)
        expected = p * 6 / 7  # a random move lands on a non-blocking cell 6 times in 7
        assert abs(share - expected) < 0.04, (
            f"with random_move_prob={p}, O should leave the block at 2 about {100 * expected:.0f}% of the time "
            f"(a random move, {100 * p:.0f}% of turns, misses it 6 times in 7); it did {100 * share:.0f}% on{shown(board)}")

    # The same seeded generator gives the same move, whatever the global random state (fixed here, so the verdict
    # never depends on chance). Positions with several best moves too: where only one move is best, a choice
    # among the best moves drawn from the random module would go unnoticed.
    for board, p in [("XX..O....", 0.5), (EMPTY_BOARD, 0.0), ("....X....", 0.0), (EMPTY_BOARD, 0.5), ("X........", 1.0)]:
        for k in range(50):
            random.seed(k)
            a = nb.opponent_move(board, random.Random(k), p)
            random.seed(k + 1000)
            b = nb.opponent_move(board, random.Random(k), p)
            assert a == b, (f"opponent_move(board, rng, {p}) gave different moves for two generators with the same seed "
                            f"on{shown(board)}draw every random number from rng (rng.random(), rng.choice), not from "
                            "the random module")


# ---------------------------------------------------------------------------------------------
# Exercise 6.3: turn_rng
# ---------------------------------------------------------------------------------------------


def first_numbers(rng, n: int = 3) -> tuple[float, ...]:
    return tuple(rng.random() for _ in range(n))


def names_used(code) -> set[str]:
    """The global (and attribute) names a code object and the code objects nested in it refer to."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= names_used(const)
    return names


def importable(value) -> tuple[str, str] | None:
    """(module, qualified name) under which a fresh process can import ``value``, or None."""
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or "<" in qualname or module == "__main__":
        return None  # a kernel's own namespace is __main__ there, and another __main__ in a fresh process
    try:
        if importlib.util.find_spec(module) is None:  # a notebook's namespace is no importable module
            return None
        found = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, ValueError, AttributeError):
        return None
    return (module, qualname) if found is value else None


def shipped(fn) -> bytes | None:
    """``fn`` and what it uses from its namespace, marshalled for a fresh process (None if it cannot be shipped).

    Works without the function's source (a notebook cell, or code exec'd from a string): functions travel as
    code objects, modules and importable objects by name, plain constants by value.
    """
    namespace, todo = {}, [fn]
    while todo:
        f = todo.pop()
        if f.__closure__:
            return None
        for name in sorted(names_used(f.__code__)):
            if name in namespace or name not in f.__globals__:
                continue  # a builtin, or an attribute name
            value = f.__globals__[name]
            if isinstance(value, types.ModuleType):
                namespace[name] = ("module", value.__name__)
            elif isinstance(value, types.FunctionType) and importable(value) is None:
                namespace[name] = ("function", value.__code__, value.__defaults__)
                todo.append(value)
            elif importable(value) is not None:
                namespace[name] = ("object", *importable(value))
            else:
                try:
                    marshal.dumps(value)
                except ValueError:
                    continue  # not shippable; the function may not need it
                namespace[name] = ("value", value)
    try:
        return marshal.dumps(((fn.__code__, fn.__defaults__), namespace))
    except ValueError:
        return None


REBUILD = """
import base64, importlib, marshal, sys, types
(code, defaults), namespace = marshal.loads(base64.b64decode(sys.stdin.read()))
g = {"__builtins__": __builtins__}
for name, entry in namespace.items():
    if entry[0] == "module":
        g[name] = importlib.import_module(entry[1])
    elif entry[0] == "object":
        value = importlib.import_module(entry[1])
        for part in entry[2].split("."):
            value = getattr(value, part)
        g[name] = value
    elif entry[0] == "value":
        g[name] = entry[1]
for name, entry in namespace.items():
    if entry[0] == "function":
        g[name] = types.FunctionType(entry[1], g, name, entry[2])
r = types.FunctionType(code, g, code.co_name, defaults)(7, "X...O....")
print(repr(tuple(r.random() for _ in range(3))))
"""


def other_process_numbers(fn, hash_seed: str) -> tuple[float, ...] | None:
    """The learner's function run in a fresh Python process with PYTHONHASHSEED=hash_seed (None if it cannot run alone)."""
    payload = shipped(fn)
    if payload is not None:
        program, stdin = REBUILD, base64.b64encode(payload).decode()
    else:  # fall back on the source
        try:
            source = textwrap.dedent(inspect.getsource(fn))
        except (OSError, TypeError):
            return None
        program = ("import random, hashlib, zlib, struct, json\n" + source +
                   f"\nr = {fn.__name__}(7, 'X...O....')\nprint(repr(tuple(r.random() for _ in range(3))))\n")
        stdin = ""
    env = dict(os.environ, PYTHONHASHSEED=hash_seed)
    try:
        done = subprocess.run([sys.executable, "-c", program], input=stdin, capture_output=True, text=True, timeout=20,
                              env=env)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return None
    try:
        return tuple(ast.literal_eval(lines[-1]))  # the tuple of floats printed last
    except (ValueError, SyntaxError, TypeError):
        return None


def test_ex6_3_turn_rng_is_fixed_by_seed_and_board(nb):
    rng = nb.turn_rng(7, "X...O....")
    assert isinstance(rng, random.Random), f"turn_rng should return a random.Random, got {type(rng).__name__}"
    random.seed(1)
    a = first_numbers(nb.turn_rng(7, "X...O...."))
    random.seed(2)
    b = first_numbers(nb.turn_rng(7, "X...O...."))
    assert a == b, ("turn_rng(7, board) gave different numbers on two calls: it must be seeded by the example seed and "
                    "the board only (not the clock, not the global random state)")

    by_board: dict[tuple, str] = {}
    for board in BOARDS:  # every reachable board, one example seed
        key = first_numbers(nb.turn_rng(7, board))
        assert key not in by_board, (f"turn_rng(7, ...) gives the same numbers for two different boards:{shown(by_board.get(key, ''))}and"
                                     f"{shown(board)}the board must change the generator")
        by_board[key] = board
    by_seed: dict[tuple, int] = {}
    for seed in range(2000):  # one board, many example seeds
        key = first_numbers(nb.turn_rng(seed, "X...O...."))
        assert key not in by_seed, (f"turn_rng({by_seed.get(key)}, board) and turn_rng({seed}, board) give the same numbers: "
                                    "the example seed must change the generator")
        by_seed[key] = seed
    pairs: dict[tuple, tuple] = {}
    for seed in range(40):  # pairs must not collide either (e.g. seed + a number computed from the board)
        for board in BOARDS[::20]:
            key = first_numbers(nb.turn_rng(seed, board), 2)
            assert key not in pairs, (f"turn_rng{pairs.get(key)} and turn_rng{(seed, board)} give the same numbers: "
                                      "combine seed and board so different pairs never coincide, e.g. a string f'{seed}:{board}'")
            pairs[key] = (seed, board)

    here = first_numbers(nb.turn_rng(7, "X...O...."))
    for hash_seed in ("1", "2"):
        there = other_process_numbers(nb.turn_rng, hash_seed)
        assert there is None or there == here, (
            "turn_rng(7, board) gives other numbers in a new Python process: Python randomises hash() of strings per "
            "process, so seed with a string (random.Random(f'{seed}:{board}')) instead of hash(...)")


def test_ex6_3_same_position_same_reply_across_a_group(nb):
    # Eight rollouts of one example with different X players: whenever two reach the same board, O answers alike.
    for example_seed in range(30):
        replies: dict[str, int] = {}
        for rollout in range(8):
            x_rng = random.Random(f"x:{example_seed}:{rollout}")
            board, player = EMPTY_BOARD, "X" if example_seed % 2 else "O"
            while tictactoe.winner(board) is None and "." in board:
                if player == "X":
                    cell = x_rng.choice(legal_moves(board))
                else:
                    cell = tictactoe.opponent_move(board, "O", nb.turn_rng(example_seed, board), 0.5)
                    assert replies.setdefault(board, cell) == cell, (
                        f"example {example_seed}: two rollouts reached the same board{shown(board)}and O answered "
                        f"{replies[board]} in one and {cell} in the other: seed O's turn by (example seed, board)")
                board, player = play(board, cell, player), other(player)
    openings = {tictactoe.opponent_move(EMPTY_BOARD, "O", nb.turn_rng(seed, EMPTY_BOARD), 0.0) for seed in range(60)}
    assert len(openings) >= 6, (f"over 60 examples where O opens, O only opened in {sorted(openings)}: different example "
                                "seeds must give different replies")


# ---------------------------------------------------------------------------------------------
# Exercise 6.4: difficulty_schedule
# ---------------------------------------------------------------------------------------------


def slice_of(value: float, low: float, width: float, groups: int) -> int:
    return min(groups - 1, max(0, math.floor((value - low) / width + 1e-9)))


def test_ex6_4_every_block_spans_every_slice(nb):
    for groups, low, high in [(1, 0.0, 1.0), (2, 0.0, 1.0), (4, 0.2, 0.7), (8, 0.0, 0.25), (32, 0.2, 0.7), (5, 0.1, 0.9)]:
        n = 6 * groups + groups // 2 + 1  # six full blocks and a shorter last one
        values = nb.difficulty_schedule(n, groups, low, high, seed=3)
        call = f"difficulty_schedule({n}, {groups}, {low}, {high}, seed=3)"
        assert isinstance(values, list) and len(values) == n, \
            f"{call} should return a list of {n} values, got {type(values).__name__} of length {len(values) if hasattr(values, '__len__') else '?'}"
        outside = [v for v in values if not low <= v <= high]
        assert not outside, f"{call} returned values outside [{low}, {high}]: {outside[:3]}"
        width = (high - low) / groups
        for start in range(0, n, groups):
            block = values[start:start + groups]
            slices = [slice_of(v, low, width, groups) for v in block]
            if len(block) == groups:
                assert sorted(slices) == list(range(groups)), (
                    f"{call}: examples {start}-{start + groups - 1} fall in slices {sorted(slices)}; each of the {groups} "
                    f"slices of width {width:.4g} must hold exactly one value in every block of {groups} examples")
            else:
                assert len(set(slices)) == len(slices), (
                    f"{call}: the last, shorter block (examples {start}-{n - 1}) repeats a slice: {sorted(slices)}")
        random.seed(1)  # another global random state for the second call (fixed: the verdict never depends on chance)
        again = nb.difficulty_schedule(n, groups, low, high, seed=3)
        random.seed(2)
        assert values == again == nb.difficulty_schedule(n, groups, low, high, seed=3), \
            f"{call} gave a different list on a second call: draw every random number from random.Random(seed)"


def test_ex6_4_shuffled_uniform_and_seeded(nb):
    groups, low, high = 8, 0.2, 0.7
    width = (high - low) / groups
    values = nb.difficulty_schedule(80 * groups, groups, low, high, seed=11)
    orders = {tuple(slice_of(v, low, width, groups) for v in values[s:s + groups]) for s in range(0, len(values), groups)}
    assert len(orders) > 10, (f"the slices come in the same order in (almost) every block: {sorted(orders)[:2]}...; "
                              "shuffle the order inside each block, or example k of a block always gets the same difficulty "
                              "(and a dataset shorter than one block only gets the lowest slices)")
    offsets = [(v - low) / width - slice_of(v, low, width, groups) for v in values]
    assert statistics.pstdev(offsets) > 0.2 and min(offsets) < 0.1 and max(offsets) > 0.9, (
        "the values sit at the same place inside their slices (e.g. always the start or the middle): draw each one "
        "uniformly inside its slice, low + width * (k + rng.random())")
    first = nb.difficulty_schedule(64, groups, low, high, seed=1)
    assert first != nb.difficulty_schedule(64, groups, low, high, seed=2), "different seeds should give different schedules"
    assert nb.difficulty_schedule(0, 4, 0.0, 1.0, seed=0) == [], "zero examples should give an empty list"
    same = nb.difficulty_schedule(12, 4, 0.3, 0.3, seed=0)
    assert len(same) == 12 and all(abs(v - 0.3) < 1e-12 for v in same), \
        f"with low == high == 0.3 every value should be 0.3, got {same[:4]}..."
