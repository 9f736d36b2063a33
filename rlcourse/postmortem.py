"""Lesson 11's experiments: group-relative policy gradient on a *table* policy, in seconds.

The policy here is not a language model. It is a lookup table, one row of 9 logits per board where X
has to move, turned into probabilities by a softmax over the free cells only (taken cells are masked,
so an illegal move is never chosen). A row that training never touched holds 9 zeros: X plays
uniformly at random there. The games are the real ones of the ``tictactoe`` environment package: the
same rules, the same scripted opponent (``opponent_move`` with ``random_move_prob`` and ``tie_break``)
and the same per-position random source (``turn_rng``), with the talk's reward (win 1, draw 0.5,
loss 0). Everything is seeded: the same settings give the same games, the same table and the same
numbers.

A training step plays ``batch_size`` games in groups of ``group_size``: the games of a group share
their start (who moves first, O's opening), their opponent's random-move probability and their
opponent seed, so they differ only by X's own sampled moves. Each game's advantage is its reward minus
the mean reward of its group (GRPO), and every X move of the game pushes that row's logits by
``learning_rate * advantage * (onehot(move) - probs) / batch_size``: the exact gradient of
``advantage * log p(move)`` with respect to the logits, averaged over the batch.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Callable

import tictactoe as ttt
from rlcourse.advantages import group_advantages
from rlcourse.evaluation import wilson_interval

REWARD = {"win": 1.0, "draw": 0.5, "loss": 0.0}  # the talk's win reward
OUTCOMES = ("win", "draw", "loss")


# ---------------------------------------------------------------------------------------------
# The table policy
# ---------------------------------------------------------------------------------------------


class TablePolicy:
    """X's policy as a table (not a language model): board string -> 9 logits, softmax over free cells."""

    def __init__(self, logits: dict[str, list[float]] | None = None):
        self.logits: dict[str, list[float]] = {b: list(row) for b, row in (logits or {}).items()}

    def row(self, board: str) -> list[float]:
        """The board's 9 logits (zeros for a board the table has never been trained on)."""
        return self.logits.get(board, [0.0] * 9)

    def probs(self, board: str) -> list[float]:
        """Softmax of the board's logits over its free cells; taken cells get probability 0."""
        legal = ttt.legal_moves(board)
        if not legal:
            raise ValueError(f"no free cell on {board!r}")
        row = self.row(board)
        top = max(row[c] for c in legal)
        weights = [0.0] * 9
        for c in legal:
            weights[c] = math.exp(row[c] - top)
        total = sum(weights)
        return [w / total for w in weights]

    def sample(self, board: str, rng: random.Random) -> int:
        """A free cell drawn from :meth:`probs` with ``rng``."""
        probs = self.probs(board)
        x, acc = rng.random(), 0.0
        last = None
        for cell, p in enumerate(probs):
            if p > 0.0:
                acc += p
                last = cell
                if x < acc:
                    return cell
        return last  # rounding: acc ended a hair below 1

    def greedy(self, board: str) -> int:
        """The free cell with the highest logit (the lowest cell number on a tie)."""
        row = self.row(board)
        return max(ttt.legal_moves(board), key=lambda c: (row[c], -c))

    def copy(self) -> "TablePolicy":
        return TablePolicy(self.logits)


# ---------------------------------------------------------------------------------------------
# Games
# ---------------------------------------------------------------------------------------------


@dataclass
class Game:
    """One finished game: X's decisions (board before the move, cell), O's moves, the outcome."""

    seed: int
    random_move_prob: float
    x_starts: bool
    x_moves: list[tuple[str, int]] = field(default_factory=list)
    o_moves: list[tuple[str, int]] = field(default_factory=list)
    outcome: str = ""

    @property
    def reward(self) -> float:
        return REWARD[self.outcome]


def game_seed(seed: int, *where) -> int:
    """A 32-bit seed fixed by ``seed`` and a path such as ("train", step, group) or ("eval", index)."""
    return random.Random(":".join(map(str, ("postmortem", seed) + where))).getrandbits(32)


def game_start(seed: int, min_random_move_prob: float, max_random_move_prob: float,
               x_starts_prob: float = 0.5) -> tuple[float, bool]:
    """(opponent's random-move probability, whether X moves first), both drawn from ``seed``."""
    rng = random.Random(seed)
    p = min_random_move_prob + (max_random_move_prob - min_random_move_prob) * rng.random()
    return p, rng.random() < x_starts_prob


def play_game(choose: Callable[[str], int], seed: int, random_move_prob: float, x_starts: bool,
              tie_break: str = "uniform") -> Game:
    """Play X = ``choose(board)`` against the environment's scripted O; O's replies use ``turn_rng(seed, board)``."""
    game = Game(seed, random_move_prob, x_starts)
    board = ttt.EMPTY_BOARD
    mover = "X" if x_starts else "O"
    while True:
        if mover == "X":
            cell = choose(board)
            if board[cell] != ".":
                raise ValueError(f"X chose the taken cell {cell} on {board!r}")
            game.x_moves.append((board, cell))
        else:
            cell = ttt.opponent_move(board, "O", ttt.turn_rng(seed, board), random_move_prob, tie_break)
            game.o_moves.append((board, cell))
        board = ttt.play(board, cell, mover)
        won = ttt.winner(board)
        if won is not None or "." not in board:
            game.outcome = "draw" if won is None else ("win" if won == "X" else "loss")
            return game
        mover = ttt.other(mover)


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


@dataclass
class TrainSettings:
    """One run. ``batch_size`` games per step = groups per step x ``group_size``."""

    games: int = 20_480               # games in the whole run
    batch_size: int = 256
    group_size: int = 8
    learning_rate: float = 256.0      # a row met once in a batch moves by at most lr / batch_size x |advantage|
    min_random_move_prob: float = 0.0
    max_random_move_prob: float = 1.0
    tie_break: str = "uniform"
    x_starts_prob: float = 0.5
    seed: int = 0

    @property
    def steps(self) -> int:
        return self.games // self.batch_size

    def check(self) -> None:
        if self.group_size < 2:
            raise ValueError("a group needs at least 2 games, or every advantage is 0")
        if self.batch_size % self.group_size:
            raise ValueError(f"batch_size ({self.batch_size}) must be a multiple of group_size ({self.group_size})")
        if self.games < self.batch_size:
            raise ValueError(f"games ({self.games}) must be at least one batch ({self.batch_size})")
        if not 0.0 <= self.min_random_move_prob <= self.max_random_move_prob <= 1.0:
            raise ValueError("need 0 <= min_random_move_prob <= max_random_move_prob <= 1")
        if self.tie_break not in ("uniform", "first"):
            raise ValueError(f"tie_break must be 'uniform' or 'first', got {self.tie_break!r}")


def play_group(policy: TablePolicy, seed: int, settings: TrainSettings, rng: random.Random) -> list[Game]:
    """``group_size`` games from the same start, against the same opponent (same seed, same p)."""
    p, x_starts = game_start(seed, settings.min_random_move_prob, settings.max_random_move_prob,
                             settings.x_starts_prob)
    return [play_game(lambda b: policy.sample(b, rng), seed, p, x_starts, settings.tie_break)
            for _ in range(settings.group_size)]


def policy_gradient_step(policy: TablePolicy, games: list[Game], advantages: list[float],
                         learning_rate: float) -> None:
    """logits[board] += lr * mean over games of advantage * (onehot(move) - probs(board)), for X's moves."""
    grads: dict[str, list[float]] = {}
    for game, advantage in zip(games, advantages):
        if advantage == 0.0:
            continue
        for board, cell in game.x_moves:
            probs = policy.probs(board)  # the policy that played the batch (updated only below)
            grad = grads.setdefault(board, [0.0] * 9)
            for c, p in enumerate(probs):
                grad[c] -= advantage * p
            grad[cell] += advantage
    scale = learning_rate / len(games)
    for board, grad in grads.items():
        row = policy.logits.setdefault(board, [0.0] * 9)
        for c in range(9):
            row[c] += scale * grad[c]


@dataclass
class Run:
    """What a training run returns: the table, a log per step, and every X position it met."""

    policy: TablePolicy
    settings: TrainSettings
    log: list[dict] = field(default_factory=list)
    positions: set[str] = field(default_factory=set)


def train(settings: TrainSettings, policy: TablePolicy | None = None,
          evaluate_every: int = 0, evaluation: Callable[[TablePolicy], dict] | None = None) -> Run:
    """Train a table policy; every ``evaluate_every`` steps (and at the end) log ``evaluation(policy)`` too."""
    settings.check()
    policy = policy.copy() if policy is not None else TablePolicy()
    rng = random.Random(f"postmortem:x:{settings.seed}")
    run = Run(policy, settings)
    groups = settings.batch_size // settings.group_size
    for step in range(1, settings.steps + 1):
        games, advantages, silent = [], [], 0
        for g in range(groups):
            group = play_group(policy, game_seed(settings.seed, "train", step, g), settings, rng)
            games += group
            advantages += group_advantages([game.reward for game in group])
            silent += len({game.outcome for game in group}) == 1  # all games agree: nothing to learn
        for game in games:
            run.positions.update(board for board, _ in game.x_moves)
        policy_gradient_step(policy, games, advantages, settings.learning_rate)
        record = {"step": step, "games": step * settings.batch_size,
                  "reward": sum(game.reward for game in games) / len(games),
                  "positions": len(run.positions), "zero_signal": silent / groups}
        if evaluation is not None and (step == settings.steps or (evaluate_every and step % evaluate_every == 0)):
            record.update(evaluation(policy))
        run.log.append(record)
    return run


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------


def play_games(policy: TablePolicy, games: int = 400, random_move_prob: float = 0.0, tie_break: str = "uniform",
               seed: int = 2026, greedy: bool = False, x_starts_prob: float = 0.5) -> list[Game]:
    """``games`` seeded games of the policy (sampling, or greedy) against one fixed opponent."""
    out = []
    for i in range(games):
        s = game_seed(seed, "eval", i)
        _, x_starts = game_start(s, 0.0, 0.0, x_starts_prob)
        rng = random.Random(f"postmortem:eval-x:{s}")
        choose = policy.greedy if greedy else (lambda b: policy.sample(b, rng))
        out.append(play_game(choose, s, random_move_prob, x_starts, tie_break))
    return out


def shares(games: list[Game]) -> dict:
    """Win/draw/loss shares of ``games`` with their 95% Wilson intervals (``win_ci`` etc.)."""
    n = len(games)
    out = {"games": n}
    for outcome in OUTCOMES:
        k = sum(game.outcome == outcome for game in games)
        out[outcome] = k / n
        out[f"{outcome}_ci"] = wilson_interval(k, n)
    return out


def evaluate(policy: TablePolicy, games: int = 400, random_move_prob: float = 0.0, tie_break: str = "uniform",
             seed: int = 2026, greedy: bool = False) -> dict:
    """Shares of wins, draws and losses over ``games`` seeded games against one opponent."""
    return shares(play_games(policy, games, random_move_prob, tie_break, seed, greedy))


def win_chances(games: list[Game]) -> tuple[int, int]:
    """(X decisions where a move would win at once, how many of them X took)."""
    chances = taken = 0
    for game in games:
        for board, cell in game.x_moves:
            wins = [m for m in ttt.legal_moves(board) if ttt.winner(ttt.play(board, m, "X")) == "X"]
            chances += bool(wins)
            taken += cell in wins
    return chances, taken


def fmt(result: dict, outcome: str) -> str:
    """'12.5% [9.6-16.1]': a share with its 95% interval, in percent."""
    low, high = result[f"{outcome}_ci"]
    return f"{100 * result[outcome]:.1f}% [{100 * low:.1f}-{100 * high:.1f}]"
