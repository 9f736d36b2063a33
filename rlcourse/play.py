"""Play Tic-Tac-Toe against a model: in a notebook (:func:`board_widget`) or a terminal
(``python -m rlcourse.play``).

The model plays X and you play O, exactly as in the ``tictactoe`` environment: :class:`ModelPlayer`
keeps the conversation the environment would build for the same moves (its system prompt, then
:func:`tictactoe.opening_message`, and every later message from the environment's own rules,
:func:`tictactoe.model_turn` and :func:`tictactoe.opponent_turn`), so the model meets the text it was
trained and evaluated on. You are the
opponent the environment would otherwise script. An invalid reply from the model is handled like
the environment handles it: the model is told what was wrong and asked again, and the game ends
once the model has used ``max_turns`` replies (8, the environment's default).

Who plays X (see :func:`load_model`):

* ``tiny/ttt-rl``, ``tiny/ttt-sft``, ... or a folder: a tiny model of the course, run in process
  (greedy by default, or sampled with a temperature) through :func:`rlcourse.generation.generate_batch`;
* ``scripted/ttt-heuristic`` and the other ``scripted/ttt-*`` ids: scripted stand-ins (plain Python,
  not language models);
* any other id: a model behind an OpenAI-compatible endpoint, chosen with ``COURSE_BACKEND``
  (see :func:`rlcourse.evaluation.backend_from_env`) or passed as a :class:`~rlcourse.evaluation.Backend`;
* ``auto`` (the default): ``tiny/ttt-rl`` if ``make demo`` trained it, else ``tiny/ttt-sft``, else the
  scripted teacher; :attr:`ModelPlayer.description` says which one is playing.

Terminal::

    python -m rlcourse.play                       # auto: the best trained model there is
    python -m rlcourse.play --model tiny/ttt-sft --human-first
    python -m rlcourse.play --model scripted/ttt-minimax
    COURSE_BACKEND=openai python -m rlcourse.play --model gpt-5-mini
"""

from __future__ import annotations

import argparse
import html
import os
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import tictactoe as ttt
from rlcourse.policies import resolve_model_path

Messages = list[dict]
AskFn = Callable[[Messages], str]

AUTO_ORDER = ("tiny/ttt-rl", "tiny/ttt-sft")
TEACHER = "scripted/ttt-heuristic"
_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)
_ASCII_CELL = re.compile(r"[0-8]", re.ASCII)


class InvalidMove(ValueError):
    """A human move that cannot be played; nothing changed."""


class ModelError(RuntimeError):
    """The model could not be asked (endpoint down, prompt too long, ...); nothing changed."""


# ---------------------------------------------------------------------------------------------
# Who plays X
# ---------------------------------------------------------------------------------------------


class TinyModel:
    """Ask a tiny course model in process: one :class:`~rlcourse.generation.Job` per move.

    ``temperature=0`` is greedy (the same reply to the same conversation, as in the audit); a
    positive temperature samples from a random stream seeded by ``seed``.
    """

    def __init__(self, path: str | Path, temperature: float = 0.0, max_tokens: int = 48, top_p: float = 1.0,
                 seed: int = 0):
        from rlcourse import tinylm  # torch loads only when a tiny model plays

        self.path = Path(path)
        self.model, self.tokenizer = tinylm.load(self.path)
        self.temperature, self.max_tokens, self.top_p = float(temperature), int(max_tokens), float(top_p)
        self.rng = random.Random(seed)
        mode = "greedy" if self.temperature <= 0 else f"sampled at temperature {self.temperature:g}"
        self.kind = f"tiny language model, {tinylm.count_parameters(self.model) / 1e6:.2f} M parameters, {mode}"

    def __call__(self, messages: Messages) -> str:
        from rlcourse import chat_template, generation  # loaded with the model in __init__

        flat = [{"role": m["role"], "content": ttt.message_text(m)} for m in messages]
        prompt = chat_template.encode_chat(self.tokenizer, flat, add_generation_prompt=True)
        room = self.model.config.max_position_embeddings - len(prompt)
        if room < 1:
            raise ModelError(f"the conversation is {len(prompt)} tokens long; this model reads at most "
                             f"{self.model.config.max_position_embeddings}")
        job = generation.Job(prompt_ids=prompt, max_new_tokens=min(self.max_tokens, room), temperature=self.temperature,
                             top_p=self.top_p, rng=random.Random(self.rng.getrandbits(64)))
        generation.generate_batch(self.model, [job], self.tokenizer.eos_token_id, self.tokenizer.pad_token_id)
        return generation.reply_text(self.tokenizer, job)


class Scripted:
    """A scripted stand-in from :mod:`rlcourse.scripted` (plain Python, not a language model)."""

    def __init__(self, name: str = TEACHER, seed: int = 0):
        from rlcourse.scripted import SCRIPTED

        if name not in SCRIPTED:
            raise ValueError(f"unknown scripted player {name!r}; choose from "
                             f"{', '.join(n for n in SCRIPTED if n.startswith('scripted/ttt-'))}")
        self.fn = SCRIPTED[name][0]
        self.rng = random.Random(seed)
        self.kind = "scripted stand-in, not a language model"

    def __call__(self, messages: Messages) -> str:
        return self.fn(messages, None, self.rng).content or ""


class ChatBackend:
    """Ask a model behind an OpenAI-compatible endpoint (OpenAI, OpenRouter, vLLM, the course server)."""

    def __init__(self, backend, model: str, temperature: float | None = None, max_tokens: int = 2048,
                 seed: int | None = None, timeout: float = 120.0):
        from openai import OpenAI

        key = os.environ.get(backend.api_key_var)
        if not key:
            raise ValueError(f"${backend.api_key_var} is not set; the endpoint {backend.base_url} reads its key there")
        self.client = OpenAI(base_url=backend.base_url, api_key=key, timeout=timeout, max_retries=1)
        self.model, self.temperature, self.max_tokens, self.seed = model, temperature, max_tokens, seed
        self.kind = f"served at {backend.base_url}"

    def __call__(self, messages: Messages) -> str:
        # max_completion_tokens, not the older max_tokens, which OpenAI's reasoning models refuse; the
        # temperature is sent only when chosen (some of those models accept none but their default)
        extra = {} if self.seed is None else {"seed": self.seed}
        if self.temperature is not None:
            extra["temperature"] = self.temperature
        try:
            done = self.client.chat.completions.create(model=self.model, messages=messages,
                                                       max_completion_tokens=self.max_tokens, **extra)
        except Exception as exc:  # network, auth, unknown model: say so, keep the game
            raise ModelError(f"{type(exc).__name__}: {exc}") from exc
        return done.choices[0].message.content or ""


def load_model(spec: str = "auto", backend=None, temperature: float | None = None, max_tokens: int | None = None,
               seed: int = 0) -> tuple[AskFn, str, str]:
    """``(ask, model id, description)`` for ``spec``; ``ask(messages) -> reply text``.

    ``temperature`` None means greedy (0) for tiny models and the endpoint's default for API models;
    ``max_tokens`` None means 48 for tiny models (the course's replies take about 20 tokens) and 2048
    for API models (reasoning models spend tokens before they answer).

    ``auto`` takes ``tiny/ttt-rl``, else ``tiny/ttt-sft`` (from ``make demo``), else the scripted teacher.
    """
    if spec in ("auto", "", None):
        for candidate in AUTO_ORDER:
            if resolve_model_path(candidate) is not None:
                spec = candidate
                break
        else:
            spec = TEACHER
    if spec.startswith("scripted/"):
        ask = Scripted(spec, seed=seed)
    elif resolve_model_path(spec) is not None:
        ask = TinyModel(resolve_model_path(spec), temperature=temperature or 0.0, max_tokens=max_tokens or 48,
                        seed=seed)
    elif spec.startswith("tiny/"):
        raise ValueError(f"no saved model for {spec!r}: run `make demo` to train the tiny models, "
                         "or pass a folder that holds one")
    else:
        if backend is None:
            from rlcourse.evaluation import backend_from_env

            if os.environ.get("COURSE_BACKEND", "local").strip().lower() == "local":
                raise ValueError(f"{spec!r} is not a tiny model folder nor a scripted player; to play a model "
                                 "behind an API set COURSE_BACKEND (openai, openrouter, vllm, ...)")
            backend = backend_from_env()
        ask = ChatBackend(backend, spec, temperature=temperature, max_tokens=max_tokens or 2048, seed=seed)
    return ask, spec, f"{spec} ({ask.kind})"


# ---------------------------------------------------------------------------------------------
# The game
# ---------------------------------------------------------------------------------------------


def parse_human_move(text: str, board: str) -> int:
    """The cell a human typed: one digit 0-8 naming a free cell (spaces around it allowed).

    Raises :class:`InvalidMove` with a message that says what is wrong.
    """
    if not isinstance(text, str):
        raise InvalidMove(f"type a cell number from 0 to 8, got {type(text).__name__}")
    typed = text.strip()
    if not typed:
        raise InvalidMove("nothing typed: type a cell number from 0 to 8")
    if not _ASCII_CELL.fullmatch(typed):
        shown = typed if len(typed) <= 20 else typed[:20] + "..."
        raise InvalidMove(f"{shown!r} is not a cell: type one digit from 0 to 8")
    cell = int(typed)
    if board[cell] != ".":
        raise InvalidMove(f"cell {cell} is already taken (by {board[cell]}); free cells: "
                          f"{', '.join(map(str, ttt.legal_moves(board)))}")
    return cell


def think_text(reply: str) -> str:
    """What the model wrote inside <think>...</think>, or a note that it wrote none."""
    found = _THINK.search(reply or "")
    if found:
        return found.group(1).strip()
    shown = (reply or "").strip()
    return f"(no <think> in the reply: {shown[:80]!r})" if shown else "(empty reply)"


@dataclass
class Event:
    """One thing that happened, for a UI to show: who, what, and a sentence."""

    who: str  # "model" | "human" | "game"
    kind: str  # "move" | "invalid" | "end"
    text: str
    cell: int | None = None


class ModelPlayer:
    """One game at a time between a human (O) and a model (X), with the environment's conversation.

    ``ask(messages) -> str`` is the model (see :func:`load_model` or :meth:`from_spec`). After
    :meth:`new_game` and after each :meth:`human_move`, the model has already answered if it was its
    turn; :attr:`messages` is then exactly the environment's prompt + completion for the same moves.
    """

    def __init__(self, ask: AskFn, name: str = "model", description: str | None = None, human_first: bool = False,
                 variant: str = "full", max_turns: int = 8, start: bool = True):
        if variant not in ("full", "basic"):
            raise ValueError(f"variant must be 'full' or 'basic', got {variant!r}")
        if max_turns < 1:
            raise ValueError(f"max_turns must be at least 1, got {max_turns}")
        self.ask = ask
        self.name = name
        self.description = description or name
        self.human_first = human_first
        self.variant = variant
        self.max_turns = max_turns
        self.system_prompt = ttt.FULL_SYSTEM_PROMPT if variant == "full" else ttt.BASIC_SYSTEM_PROMPT
        self.games: list[str | None] = []  # outcome of each finished game, from X's side
        if start:
            self.new_game()

    @classmethod
    def from_spec(cls, spec: str = "auto", backend=None, temperature: float | None = None, max_tokens: int | None = None,
                  seed: int = 0, **kwargs) -> "ModelPlayer":
        ask, name, description = load_model(spec, backend, temperature, max_tokens, seed)
        return cls(ask, name=name, description=description, **kwargs)

    # -- state ----------------------------------------------------------------------------------

    def new_game(self, human_first: bool | None = None) -> list[Event]:
        """Start over; the model moves at once unless the human starts. Returns what happened."""
        if human_first is not None:
            self.human_first = human_first
        self.board = ttt.EMPTY_BOARD
        self.messages: Messages = [{"role": "system", "content": self.system_prompt}]
        self.outcome: str | None = None  # "win" | "draw" | "loss" for X (the model); None: unfinished
        self.over = False
        self.model_turns = 0
        self.invalid_moves = 0
        self.last_reply = ""
        self.last_x: int | None = None
        self.events: list[Event] = []
        if self.human_first:
            return []
        self._say("user", ttt.opening_message(self.board, None))
        return self.model_move()

    @property
    def turn(self) -> str | None:
        """"human", "model" or None (game over)."""
        if self.over:
            return None
        return "model" if self.messages[-1]["role"] == "user" else "human"

    @property
    def thinking(self) -> str:
        """The <think> text of the model's last reply ("" before its first reply)."""
        return think_text(self.last_reply) if self.last_reply else ""

    def result(self) -> str:
        """A sentence for the human: whose turn it is, or how the game ended."""
        if not self.over:
            return "Your turn: you are O." if self.turn == "human" else "The model (X) is to move."
        if self.outcome == "win":
            return "The model (X) won."
        if self.outcome == "loss":
            return ("You won: the model's move was invalid, which loses in the basic game." if self.variant == "basic"
                    and ttt.winner(self.board) != "O" else "You (O) won!")
        if self.outcome == "draw":
            return "Draw."
        return (f"Game over: the model used all {self.max_turns} of its turns ({self.invalid_moves} invalid "
                "replies); the environment scores that as a loss for the model.")

    # -- moves ----------------------------------------------------------------------------------

    def human_move(self, cell) -> list[Event]:
        """Play O on ``cell`` (an int 0-8 or text like "4"), then let the model answer.

        Raises :class:`InvalidMove` (nothing changes) when it is not the human's turn or the cell
        cannot be played; :class:`ModelError` if the model cannot be asked (the O move stays; call
        :meth:`model_move` to ask again).
        """
        if self.over:
            raise InvalidMove(f"the game is over ({self.result()}); start a new game")
        if self.turn != "human":
            raise InvalidMove("it is the model's turn, not yours")
        if isinstance(cell, str):
            cell = parse_human_move(cell, self.board)
        elif isinstance(cell, bool) or not isinstance(cell, int) or not 0 <= cell <= 8:
            raise InvalidMove(f"a cell is a number from 0 to 8, got {cell!r}")
        elif self.board[cell] != ".":
            raise InvalidMove(f"cell {cell} is already taken (by {self.board[cell]})")
        self.events = []
        self._log("human", "move", f"You took cell {cell}.", cell)
        if len(self.messages) == 1:  # the human opens the game
            self.board = ttt.play(self.board, cell, "O")
            self._say("user", ttt.opening_message(self.board, cell))
        else:
            step = ttt.opponent_turn(self.board, self.last_x, cell, last_turn=self.model_turns >= self.max_turns)
            self.board = step.board
            if step.over:
                return self._finish(step.outcome, step.message)
            self._say("user", step.message)
        return self.model_move()

    def model_move(self) -> list[Event]:
        """Ask the model until it makes a valid move or the game ends; returns what happened."""
        if self.turn != "model":
            raise InvalidMove("it is not the model's turn")
        while True:
            try:
                reply = self.ask([dict(m) for m in self.messages])
            except ModelError:
                raise
            except Exception as exc:  # anything else from the model's side: same contract
                raise ModelError(f"{type(exc).__name__}: {exc}") from exc
            reply = reply if isinstance(reply, str) else ""
            self.last_reply = reply
            self.model_turns += 1
            self._say("assistant", reply)
            step = ttt.model_turn(self.board, reply, self.variant, last_turn=self.model_turns >= self.max_turns)
            if step.problem is None:
                break
            self.invalid_moves += 1
            self._log("model", "invalid", f"The model's reply was not a valid move ({step.problem}).")
            if step.over:
                return self._finish(step.outcome, step.message)
            self._say("user", step.message)
        self.board = step.board
        self.last_x = step.cell
        self._log("model", "move", f"The model took cell {step.cell}.", step.cell)
        if step.over:
            return self._finish(step.outcome, step.message)
        return self.events

    # -- helpers --------------------------------------------------------------------------------

    def _say(self, role: str, content: str) -> None:
        self.messages.append({"role": role, "content": content})

    def _log(self, who: str, kind: str, text: str, cell: int | None = None) -> None:
        self.events.append(Event(who, kind, text, cell))

    def _finish(self, outcome: str | None, text: str) -> list[Event]:
        self.outcome, self.over = outcome, True
        self._say("user", text)
        self.games.append(outcome)
        self._log("game", "end", self.result())
        return self.events


# ---------------------------------------------------------------------------------------------
# Notebook: a board of buttons
# ---------------------------------------------------------------------------------------------


def board_widget(player: ModelPlayer | None = None, cell_size: str = "64px"):
    """An ipywidgets board to play ``player`` (a :class:`ModelPlayer`; ``auto`` if None) by clicking.

    The returned box has ``.buttons`` (nine cells), ``.status``, ``.thinking`` (the model's last
    <think> text), ``.new_game_button``, ``.human_first_box`` and ``.player``.
    """
    import ipywidgets as widgets

    player = player or ModelPlayer.from_spec("auto")
    colors = {"X": "#fde2e1", "O": "#dde8fb", ".": "#f4f4f4"}
    text_colors = {"X": "#b42318", "O": "#1d4ed8", ".": "#000000"}

    class BoardWidget(widgets.VBox):
        pass

    title = widgets.HTML(f"<b>You are O. X is {html.escape(player.description)}.</b>")
    buttons = [widgets.Button(description="", tooltip=f"cell {i}",
                              layout=widgets.Layout(width=cell_size, height=cell_size),
                              style={"font_weight": "bold", "font_size": "24px"}) for i in range(9)]
    grid = widgets.GridBox(buttons, layout=widgets.Layout(grid_template_columns=f"repeat(3, {cell_size})",
                                                          grid_gap="4px"))
    status = widgets.HTML()
    thinking = widgets.HTML()
    new_game_button = widgets.Button(description="New game", icon="refresh")
    human_first_box = widgets.Checkbox(value=player.human_first, description="I start", indent=False)
    box = BoardWidget([title, grid, status, thinking, widgets.HBox([new_game_button, human_first_box])])
    box.buttons, box.status, box.thinking, box.player = buttons, status, thinking, player
    box.new_game_button, box.human_first_box = new_game_button, human_first_box

    def refresh(note: str = "") -> None:
        for i, button in enumerate(buttons):
            mark = player.board[i]
            button.description = "" if mark == "." else mark
            button.style.button_color = colors[mark]
            button.style.text_color = text_colors[mark]
            # taken cells stay clickable (a disabled button greys its mark out); a click there is refused
            button.disabled = player.turn != "human"
        invalid = [e.text for e in player.events if e.kind == "invalid"]
        lines = [f"<b>{html.escape(player.result())}</b>"]
        moved = [e.text for e in player.events if e.who == "model" and e.kind == "move"]
        if moved:
            lines.append(html.escape(moved[-1]))
        if invalid:
            lines.append(f"<span style='color:#b45309'>{html.escape(' '.join(invalid))} "
                         "It was asked again, as the environment does.</span>")
        if note:
            lines.append(f"<span style='color:#b91c1c'>{html.escape(note)}</span>")
        status.value = "<br>".join(lines)
        thought = player.thinking
        thinking.value = (f"<i>model thinks:</i> {html.escape(thought)}" if thought
                          else "<i>model thinks:</i> (no reply yet)")

    def clicked(cell: int) -> None:
        try:
            player.human_move(cell)
            refresh()
        except (InvalidMove, ModelError) as exc:
            refresh(str(exc))

    def restart(_button=None) -> None:
        try:
            player.new_game(human_first=human_first_box.value)
            refresh()
        except ModelError as exc:
            refresh(str(exc))

    for i, button in enumerate(buttons):
        button.on_click(lambda _b, cell=i: clicked(cell))
    new_game_button.on_click(restart)
    box.refresh = refresh
    refresh()
    return box


# ---------------------------------------------------------------------------------------------
# Terminal
# ---------------------------------------------------------------------------------------------

QUIT = {"q", "quit", "exit"}


def terminal_game(player: ModelPlayer, read: Callable[[str], str] = input, write: Callable[[str], None] = print) -> int:
    """Play games in a terminal until the human quits; return an exit status (0)."""
    write(f"Tic-Tac-Toe. You are O; X is {player.description}.")
    write("Type a cell number 0-8 and press Enter; q quits.")
    while True:
        show_model_turn(player, write)
        drawn = False
        while not player.over:
            if not drawn:  # the board is drawn again only when it changed
                write("")
                write(ttt.render_board(player.board))
                drawn = True
            typed = read("Your move (0-8, q to quit): ")
            if typed.strip().lower() in QUIT:
                write("Bye.")
                return 0
            try:
                player.human_move(typed)
            except InvalidMove as exc:
                write(f"Not played: {exc}.")
                continue
            except ModelError as exc:
                write(f"The model could not answer: {exc}")
                return 1
            drawn = False
            show_model_turn(player, write)
        write("")
        write(ttt.render_board(player.board))
        write(player.result())
        again = read("Play again? (y/n): ").strip().lower()
        if again not in ("y", "yes"):
            write("Bye.")
            return 0
        player.new_game()


def show_model_turn(player: ModelPlayer, write: Callable[[str], None]) -> None:
    for event in player.events:
        if event.who == "model":
            write(event.text)
    if player.last_reply and any(e.who == "model" for e in player.events):
        write(f"model thinks: {player.thinking}")
    player.events = []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rlcourse.play",
                                     description="Play Tic-Tac-Toe as O against a model playing X.")
    parser.add_argument("--model", default="auto",
                        help="tiny/ttt-rl, tiny/ttt-sft, a model folder, scripted/ttt-heuristic (or -minimax, "
                             "-random), or a model id served by COURSE_BACKEND; auto (default): tiny/ttt-rl, "
                             "else tiny/ttt-sft, else the scripted teacher")
    parser.add_argument("--human-first", action="store_true", help="you (O) move first")
    parser.add_argument("--temperature", type=float, default=None,
                        help="sampling temperature; default: greedy (0) for tiny models, the endpoint's default for API models")
    parser.add_argument("--max-tokens", type=int, default=None,
                        help="reply length limit; default 48 for tiny models, 2048 for API models")
    parser.add_argument("--seed", type=int, default=0, help="seed for sampling and scripted players")
    parser.add_argument("--variant", choices=("full", "basic"), default="full")
    args = parser.parse_args(argv)
    try:
        player = ModelPlayer.from_spec(args.model, temperature=args.temperature, max_tokens=args.max_tokens,
                                       seed=args.seed, human_first=args.human_first, variant=args.variant,
                                       start=False)
        player.new_game()
    except (ValueError, ModelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return terminal_game(player)
    except EOFError:  # Ctrl-D or the end of piped input
        print("\nBye.")
        return 0
    except KeyboardInterrupt:  # Ctrl-C
        print("\nBye.")
        return 130


if __name__ == "__main__":
    sys.exit(main())
