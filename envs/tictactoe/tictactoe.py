"""Tic-Tac-Toe as a multi-turn verifiers environment.

The model plays X against a scripted O. Two variants:

* ``variant="full"`` (default): the model starts or not (decided by the example seed), the opponent is
  a minimax player that makes a random move with probability p (drawn per example in
  ``[min_random_move_prob, max_random_move_prob]``), replies are ``<think>...</think><move>N</move>``,
  an invalid move costs a flat -0.1 and the game goes on, the number of model turns is capped.
* ``variant="basic"``: X always starts, the opponent plays at random, replies are ``<move>N</move>``,
  and an invalid move loses the game at once.

Rewards: win 1, draw 0.5, loss 0 (weight 1); format (weight 0.2); invalid-move penalty (weight -0.1,
full variant). Every dataset is built from ``seed``: the same arguments give the same games.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache

import verifiers as vf
from datasets import Dataset

# ---------------------------------------------------------------------------------------------
# Game logic. A board is a 9-character string of "X", "O" and "." (cells 0-8, row by row).
# ---------------------------------------------------------------------------------------------

EMPTY_BOARD = "." * 9
LINES = ((0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6))


def other(mark: str) -> str:
    """The opponent's mark."""
    return "O" if mark == "X" else "X"


def winner(board: str) -> str | None:
    """'X' or 'O' if that mark owns a full line, else None."""
    for a, b, c in LINES:
        if board[a] != "." and board[a] == board[b] == board[c]:
            return board[a]
    return None


def legal_moves(board: str) -> list[int]:
    """Empty cells, in increasing order."""
    return [i for i, cell in enumerate(board) if cell == "."]


def is_over(board: str) -> bool:
    """True when someone has won or the board is full."""
    return winner(board) is not None or "." not in board


def play(board: str, cell: int, mark: str) -> str:
    """The board after ``mark`` takes ``cell`` (which must be empty)."""
    if board[cell] != ".":
        raise ValueError(f"cell {cell} is not empty")
    return board[:cell] + mark + board[cell + 1 :]


@lru_cache(maxsize=None)
def minimax_value(board: str, player: str) -> int:
    """Game value for ``player``, who is to move: +1 win, 0 draw, -1 loss under perfect play."""
    win = winner(board)
    if win is not None:
        return 1 if win == player else -1
    if "." not in board:
        return 0
    return max(-minimax_value(play(board, m, player), other(player)) for m in legal_moves(board))


def best_moves(board: str, player: str) -> list[int]:
    """All moves that reach the best minimax value for ``player`` (ties kept, in cell order)."""
    values = {m: -minimax_value(play(board, m, player), other(player)) for m in legal_moves(board)}
    best = max(values.values())
    return [m for m, v in values.items() if v == best]


def opponent_move(board: str, mark: str, rng: random.Random, random_move_prob: float,
                  tie_break: str = "uniform") -> int:
    """The scripted opponent's move: random with probability p, else a best minimax move.

    ``tie_break="uniform"`` picks uniformly among equally good moves; ``"first"`` always takes the
    lowest-numbered one (the biased opponent of the post-mortem lesson).
    """
    if rng.random() < random_move_prob:
        return rng.choice(legal_moves(board))
    moves = best_moves(board, mark)
    return moves[0] if tie_break == "first" else rng.choice(moves)


def turn_rng(example_seed: int, board: str) -> random.Random:
    """Random source for one opponent turn, fixed by the example seed and the position.

    Two rollouts of the same example that reach the same board meet the same reply, which keeps
    the rollouts of a GRPO group comparable.
    """
    return random.Random(f"{example_seed}:{board}")


def render_board(board: str) -> str:
    """Three text rows; empty cells show their number so the model can name them."""
    cells = [c if c != "." else str(i) for i, c in enumerate(board)]
    rows = [" " + " | ".join(cells[r * 3 : r * 3 + 3]) for r in range(3)]
    return "\n---+---+---\n".join(rows)


_ROW = r" ([XO0-8]) \| ([XO0-8]) \| ([XO0-8])"
_BOARD_RE = re.compile(_ROW + r"\n---\+---\+---\n" + _ROW + r"\n---\+---\+---\n" + _ROW)


def parse_board(text: str) -> str | None:
    """The last board drawn by :func:`render_board` in ``text``, or None."""
    found = _BOARD_RE.findall(text or "")
    if not found:
        return None
    cells = found[-1]
    return "".join(c if c in "XO" else "." for c in cells)


# ---------------------------------------------------------------------------------------------
# Reading the model's reply.
# ---------------------------------------------------------------------------------------------

_MOVE_TAG = re.compile(r"<move>(.*?)</move>", re.DOTALL)
_FULL_FORMAT = re.compile(r"\s*<think>(?:(?!<think>|</think>|<move>|</move>).)+</think>\s*<move>\s*[0-8]\s*</move>\s*", re.DOTALL)
_BASIC_FORMAT = re.compile(r"\s*<move>\s*[0-8]\s*</move>\s*")


def parse_move(text: str | None) -> tuple[int | None, str | None]:
    """(cell, None) for a reply holding exactly one ``<move>N</move>`` with N an ASCII digit 0-8,
    else (None, reason). Occupied cells are the caller's business."""
    tags = _MOVE_TAG.findall(text or "")
    if not tags:
        return None, "no <move>...</move> tag found"
    if len(tags) > 1:
        return None, f"{len(tags)} <move> tags found; give exactly one"
    value = tags[0].strip()
    if not re.fullmatch(r"[0-8]", value, flags=re.ASCII):
        shown = value if len(value) <= 20 else value[:20] + "..."
        return None, f"{shown!r} is not a cell number from 0 to 8"
    return int(value), None


def follows_format(text: str | None, variant: str = "full") -> bool:
    """True when the whole reply is ``<think>...</think><move>N</move>`` (full) or ``<move>N</move>``
    (basic), with nothing else around it but whitespace."""
    pattern = _FULL_FORMAT if variant == "full" else _BASIC_FORMAT
    return bool(pattern.fullmatch(text or ""))


def message_text(message) -> str:
    """Plain text of a chat message, or of a message's content: None, a string or a list of parts
    (dicts or objects with a ``text``). The one helper the course uses to read a message."""
    if message is None or isinstance(message, (str, list, tuple)):
        content = message
    else:
        content = message.get("content") if hasattr(message, "get") else getattr(message, "content", None)
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for part in content:
        text = part.get("text") if hasattr(part, "get") else getattr(part, "text", None)
        if isinstance(text, str):
            parts.append(text)
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# Prompts.
# ---------------------------------------------------------------------------------------------

CELL_GUIDE = render_board(EMPTY_BOARD)

FULL_SYSTEM_PROMPT = f"""You are playing Tic-Tac-Toe as X against an opponent who plays O.
The cells are numbered like this:
{CELL_GUIDE}

On every turn, think briefly inside <think>...</think>, then give your move as one free cell number
inside <move>...</move>. Example:
<think>The centre is free and it is the strongest cell.</think>
<move>4</move>"""

BASIC_SYSTEM_PROMPT = f"""You are playing Tic-Tac-Toe as X against an opponent who plays O.
The cells are numbered like this:
{CELL_GUIDE}

On every turn, answer with one free cell number inside <move>...</move>, for example <move>4</move>."""


def board_message(board: str, lead: str) -> str:
    return f"{lead}\n\nBoard:\n{render_board(board)}\n\nYour move."


def opening_message(board: str, first_cell: int | None) -> str:
    """The first user message: X starts (``first_cell`` None) or O has already taken ``first_cell``."""
    if first_cell is None:
        return board_message(board, "You play X and you move first.")
    return board_message(board, f"You play X. O moved first and took cell {first_cell}.")


def turn_message(board: str, cell: int, reply: int) -> str:
    """The user message after X took ``cell`` and O answered ``reply`` (game not over)."""
    return board_message(board, f"You took cell {cell}. O took cell {reply}.")


# ---------------------------------------------------------------------------------------------
# Playing a turn: the rules and the messages that announce them, as pure functions. The
# environment's env_response, rlcourse.play (a human as O) and rlcourse.audit (every O reply) all
# play through these two functions, so the three meet the same rules and the same words.
# ---------------------------------------------------------------------------------------------

RETRY_HINTS = {"full": "<think>...</think> then <move>N</move>", "basic": "<move>N</move>"}


@dataclass(frozen=True)
class Step:
    """What one move did to the game.

    ``board`` is the board after the move (unchanged after an invalid reply). ``over`` says the game
    ended; ``outcome`` is then "win", "draw" or "loss" for X, or None when the turn cap ended it.
    ``message`` is the next user message: the end-of-game text, the retry request after an invalid
    reply, or the next position; None after a valid X move that did not end the game (O answers
    first). ``cell`` is the cell taken (None for an invalid reply) and ``problem`` why a reply was
    invalid.
    """

    board: str
    over: bool = False
    outcome: str | None = None
    message: str | None = None
    cell: int | None = None
    problem: str | None = None


def read_reply(board: str, text: str | None) -> tuple[int | None, str | None]:
    """(cell, None) when the reply names exactly one free cell, else (None, why not)."""
    cell, problem = parse_move(text)
    if problem is None and board[cell] != ".":
        return None, f"cell {cell} is already taken"
    return cell, problem


def model_turn(board: str, text: str | None, variant: str = "full", last_turn: bool = False) -> Step:
    """Apply the model's reply (X) to ``board``.

    An invalid reply leaves the board unchanged and loses at once in the basic variant; in the full
    variant the model is asked again, unless this was its ``last_turn`` (the turn cap ends the game).
    A valid move that wins or fills the board ends the game; otherwise O is to move.
    """
    cell, problem = read_reply(board, text)
    if problem is not None:
        if variant == "basic":
            return Step(board, True, "loss", f"Invalid move ({problem}). You lose.", problem=problem)
        if last_turn:
            return Step(board, True, None, f"Invalid move ({problem}). Turn limit reached: game over.",
                        problem=problem)
        hint = RETRY_HINTS[variant]
        return Step(board, message=board_message(
            board, f"Invalid move: {problem}. The board is unchanged. Reply with {hint}, N a free cell."),
            problem=problem)
    board = play(board, cell, "X")
    if winner(board) == "X":
        return Step(board, True, "win", f"You took cell {cell} and won!\n\n{render_board(board)}", cell)
    if "." not in board:
        return Step(board, True, "draw", f"You took cell {cell}. The board is full: draw.\n\n{render_board(board)}", cell)
    return Step(board, cell=cell)


def opponent_turn(board: str, x_cell: int, o_cell: int, last_turn: bool = False) -> Step:
    """O takes ``o_cell`` (free) after X took ``x_cell``: O wins, the board fills, the turn cap ends
    the game (``last_turn``: the model has used all its replies), or the model gets the next position."""
    board = play(board, o_cell, "O")
    if winner(board) == "O":
        return Step(board, True, "loss", f"O took cell {o_cell} and won.\n\n{render_board(board)}", o_cell)
    if "." not in board:
        return Step(board, True, "draw", f"O took cell {o_cell}. The board is full: draw.\n\n{render_board(board)}", o_cell)
    if last_turn:
        return Step(board, True, None, f"O took cell {o_cell}. Turn limit reached: game over.\n\n{render_board(board)}",
                    o_cell)
    return Step(board, message=turn_message(board, x_cell, o_cell), cell=o_cell)


# ---------------------------------------------------------------------------------------------
# Datasets.
# ---------------------------------------------------------------------------------------------


def example_seed(seed: int, split: str, index: int) -> int:
    """A 32-bit seed for one example, fixed by the dataset seed, the split and the index."""
    return random.Random(f"tictactoe:{seed}:{split}:{index}").getrandbits(32)


def make_examples(num_examples: int, seed: int, split: str, variant: str,
                  min_random_move_prob: float, max_random_move_prob: float,
                  num_groups: int, model_starts_prob: float, tie_break: str) -> list[dict]:
    """Rows with ``question`` and ``info``; deterministic in every argument.

    Examples come in blocks of ``num_groups``: inside a block, example k draws its random-move
    probability from the k-th of ``num_groups`` equal slices of the [min, max] range (slices in a
    seeded shuffled order), so any ``num_groups`` consecutive examples span the whole difficulty range.
    """
    if not 0.0 <= min_random_move_prob <= max_random_move_prob <= 1.0:
        raise ValueError("need 0 <= min_random_move_prob <= max_random_move_prob <= 1, got "
                         f"{min_random_move_prob} and {max_random_move_prob}")
    if num_groups < 1:
        raise ValueError(f"num_groups must be at least 1, got {num_groups}")
    rows = []
    span = max_random_move_prob - min_random_move_prob
    strata: list[int] = []
    for i in range(num_examples):
        if i % num_groups == 0:
            strata = list(range(num_groups))
            random.Random(f"tictactoe:{seed}:{split}:block:{i // num_groups}").shuffle(strata)
        ex_seed = example_seed(seed, split, i)
        rng = random.Random(ex_seed)
        stratum = strata[i % num_groups]
        p = min_random_move_prob + span * (stratum + rng.random()) / num_groups
        if variant == "basic":
            model_starts = True
        else:
            model_starts = rng.random() < model_starts_prob
        board, first_cell = EMPTY_BOARD, None
        if not model_starts:
            first_cell = opponent_move(board, "O", turn_rng(ex_seed, board), p, tie_break)
            board = play(board, first_cell, "O")
        rows.append({
            "question": opening_message(board, first_cell),
            "answer": "",
            "info": {"seed": ex_seed, "random_move_prob": round(p, 6), "model_starts": model_starts,
                     "board": board, "difficulty_group": stratum},
        })
    return rows


# ---------------------------------------------------------------------------------------------
# The environment.
# ---------------------------------------------------------------------------------------------


class TicTacToeEnv(vf.MultiTurnEnv):
    """Plays one game per rollout; the board and the outcome live in the rollout state."""

    def __init__(self, variant: str = "full", tie_break: str = "uniform", **kwargs):
        super().__init__(**kwargs)
        self.variant = variant
        self.tie_break = tie_break

    async def setup_state(self, state: vf.State) -> vf.State:
        info = state["info"]
        state["board"] = info["board"]
        state["invalid_moves"] = 0
        state["outcome"] = None  # "win" | "draw" | "loss"; stays None if the turn cap ends the game
        return state

    @vf.stop
    async def max_turns_reached(self, state: vf.State) -> bool:
        """Disabled: the turn cap is applied in env_response, after the last reply has been judged."""
        return False

    def _finish(self, state: vf.State, outcome: str | None, text: str) -> vf.Messages:
        state["outcome"] = outcome
        reply = [vf.UserMessage(content=text)]
        state["final_env_response"] = reply
        return reply

    async def env_response(self, messages: vf.Messages, state: vf.State, **kwargs) -> vf.Messages:
        last_turn = self._out_of_turns(state)
        step = model_turn(state["board"], message_text(messages[-1]), self.variant, last_turn)
        if step.problem is not None:
            state["invalid_moves"] += 1
        state["board"] = step.board
        if step.over:
            return self._finish(state, step.outcome, step.message)
        if step.message is not None:  # an invalid reply: asked again
            return [vf.UserMessage(content=step.message)]

        info = state["info"]
        reply = opponent_move(step.board, "O", turn_rng(info["seed"], step.board), info["random_move_prob"],
                              self.tie_break)
        step = opponent_turn(step.board, step.cell, reply, last_turn)
        state["board"] = step.board
        if step.over:
            return self._finish(state, step.outcome, step.message)
        return [vf.UserMessage(content=step.message)]

    def _out_of_turns(self, state: vf.State) -> bool:
        return len(state["trajectory"]) >= self.max_turns


# Reward functions and metrics. The rubric passes ``state`` / ``completion`` by name.

async def win_reward(state: vf.State) -> float:
    """1 for a win, 0.5 for a draw, 0 for a loss or an unfinished game."""
    return {"win": 1.0, "draw": 0.5}.get(state.get("outcome"), 0.0)


def assistant_texts(completion: vf.Messages) -> list[str]:
    return [message_text(m) for m in completion if getattr(m, "role", None) == "assistant"
            or (hasattr(m, "get") and m.get("role") == "assistant")]


async def think_move_format(completion: vf.Messages) -> float:
    """Share of the model's turns written as <think>...</think><move>N</move> and nothing else."""
    texts = assistant_texts(completion)
    return sum(follows_format(t, "full") for t in texts) / len(texts) if texts else 0.0


async def move_format(completion: vf.Messages) -> float:
    """Share of the model's turns written as <move>N</move> and nothing else."""
    texts = assistant_texts(completion)
    return sum(follows_format(t, "basic") for t in texts) / len(texts) if texts else 0.0


async def invalid_move_made(state: vf.State) -> float:
    """1 if the model made at least one invalid move (or its reply could not be used at all)."""
    return 1.0 if state.get("invalid_moves", 0) > 0 or state.get("error") is not None else 0.0


async def win(state: vf.State) -> float:
    return 1.0 if state.get("outcome") == "win" else 0.0


async def draw(state: vf.State) -> float:
    return 1.0 if state.get("outcome") == "draw" else 0.0


async def loss(state: vf.State) -> float:
    """Lost games, including games left unfinished (turn cap or a failed model call)."""
    return 1.0 if state.get("outcome") not in ("win", "draw") else 0.0


async def invalid_moves(state: vf.State) -> float:
    return float(state.get("invalid_moves", 0))


def load_environment(
    variant: str = "full",
    num_train_examples: int = 1000,
    num_eval_examples: int = 200,
    seed: int = 0,
    min_random_move_prob: float = 0.0,
    max_random_move_prob: float = 1.0,
    num_groups: int = 1,
    model_starts_prob: float = 0.5,
    max_turns: int = 8,
    invalid_move_penalty: float = 0.1,
    format_weight: float = 0.2,
    tie_break: str = "uniform",
    **kwargs,
) -> vf.Environment:
    """Build the Tic-Tac-Toe environment (see the module docstring and README for every argument)."""
    if variant not in ("full", "basic"):
        raise ValueError(f"variant must be 'full' or 'basic', got {variant!r}")
    if tie_break not in ("uniform", "first"):
        raise ValueError(f"tie_break must be 'uniform' or 'first', got {tie_break!r}")
    if max_turns < 1:
        raise ValueError(f"max_turns must be at least 1, got {max_turns}")
    if variant == "basic":
        min_random_move_prob = max_random_move_prob = 1.0

    def build(split: str, n: int) -> Dataset:
        return Dataset.from_list(make_examples(n, seed, split, variant, min_random_move_prob,
                                               max_random_move_prob, num_groups, model_starts_prob, tie_break))

    if variant == "full":
        rubric = vf.Rubric(funcs=[win_reward, think_move_format, invalid_move_made],
                           weights=[1.0, format_weight, -invalid_move_penalty])
        system_prompt = FULL_SYSTEM_PROMPT
    else:
        rubric = vf.Rubric(funcs=[win_reward, move_format], weights=[1.0, format_weight])
        system_prompt = BASIC_SYSTEM_PROMPT
    for metric in (win, draw, loss, invalid_moves):
        rubric.add_metric(metric)

    return TicTacToeEnv(
        variant=variant,
        tie_break=tie_break,
        dataset=build("train", num_train_examples),
        eval_dataset=build("eval", num_eval_examples),
        system_prompt=system_prompt,
        rubric=rubric,
        max_turns=max_turns,
        **kwargs,
    )
