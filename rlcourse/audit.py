"""Exhaustive audit: the model's greedy policy against every possible opponent reply.

Sampled games estimate how often a model loses; the audit proves it. The model plays X greedily
(temperature 0, so its reply to a position is fixed). From both starts (X first, or after each of O's
nine opening moves) the audit follows every legal O reply at every turn, which covers every game the
model can ever meet. A line counts as failed when the model loses or makes an invalid move.
0 failed lines means the policy is provably unbeatable in this setting.

The conversations are the environment's own: same system prompt, same messages, same rules
(:func:`tictactoe.opening_message`, :func:`tictactoe.model_turn`, :func:`tictactoe.opponent_turn`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import tictactoe as ttt
from rlcourse import chat_template, generation, tinylm


@dataclass
class Line:
    """One branch of the game tree: the conversation so far and the board."""

    messages: list[dict]
    board: str
    moves: list[str] = field(default_factory=list)  # e.g. ["O4", "X0", "O8", ...]


@dataclass
class AuditResult:
    lines: int = 0
    wins: int = 0
    draws: int = 0
    losses: int = 0
    invalid: int = 0
    failed_examples: list[list[str]] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return self.losses + self.invalid

    def summary(self) -> str:
        verdict = "unbeatable" if self.failed == 0 else f"{self.failed} failing lines"
        return (f"{self.lines} lines: {self.wins} wins, {self.draws} draws, {self.losses} losses, "
                f"{self.invalid} invalid moves -> {verdict}")


def opening_lines(system_prompt: str = ttt.FULL_SYSTEM_PROMPT) -> list[Line]:
    """X to move first, plus the nine positions after each of O's possible first moves."""
    lines = [Line([{"role": "system", "content": system_prompt},
                   {"role": "user", "content": ttt.opening_message(ttt.EMPTY_BOARD, None)}], ttt.EMPTY_BOARD)]
    for cell in range(9):
        board = ttt.play(ttt.EMPTY_BOARD, cell, "O")
        lines.append(Line([{"role": "system", "content": system_prompt},
                           {"role": "user", "content": ttt.opening_message(board, cell)}], board, [f"O{cell}"]))
    return lines


def audit(move_fn, variant: str = "full", max_examples: int = 5) -> AuditResult:
    """Walk the whole game tree. ``move_fn(list of conversations) -> list of reply texts`` is the policy.

    Each level of the tree (all positions where X is to move after the same number of turns) is one
    call to ``move_fn``, so a model can answer a whole level in one batch.
    """
    system_prompt = ttt.FULL_SYSTEM_PROMPT if variant == "full" else ttt.BASIC_SYSTEM_PROMPT
    result = AuditResult()
    frontier = opening_lines(system_prompt)

    def fail(line: Line, kind: str) -> None:
        setattr(result, kind, getattr(result, kind) + 1)
        result.lines += 1
        if len(result.failed_examples) < max_examples:
            result.failed_examples.append(line.moves + [kind])

    while frontier:
        replies = move_fn([line.messages for line in frontier])
        next_frontier: list[Line] = []
        for line, text in zip(frontier, replies):
            step = ttt.model_turn(line.board, text, variant)
            if step.problem is not None:
                fail(Line(line.messages, line.board, line.moves + [f"X?{text[:30]!r}"]), "invalid")
                continue
            moves = line.moves + [f"X{step.cell}"]
            if step.over:  # X won or filled the board
                result.wins += step.outcome == "win"
                result.draws += step.outcome == "draw"
                result.lines += 1
                continue
            history = line.messages + [{"role": "assistant", "content": text}]
            for reply in ttt.legal_moves(step.board):
                answer = ttt.opponent_turn(step.board, step.cell, reply)
                branch = moves + [f"O{reply}"]
                if answer.outcome == "loss":
                    fail(Line(history, answer.board, branch), "losses")
                elif answer.over:
                    result.draws += 1
                    result.lines += 1
                else:
                    next_frontier.append(Line(history + [{"role": "user", "content": answer.message}],
                                              answer.board, branch))
        frontier = next_frontier
    return result


def greedy_move_fn(model, tokenizer, max_tokens: int = 48, batch_size: int = 512):
    """A ``move_fn`` for :func:`audit` from a tiny model: greedy decoding, batched."""

    def move_fn(conversations: list[list[dict]]) -> list[str]:
        texts: list[str] = []
        for start in range(0, len(conversations), batch_size):
            jobs = [generation.Job(prompt_ids=chat_template.encode_chat(tokenizer, c), max_new_tokens=max_tokens, temperature=0.0)
                    for c in conversations[start : start + batch_size]]
            generation.generate_batch(model, jobs, tokenizer.eos_token_id, tokenizer.pad_token_id)
            texts += [generation.reply_text(tokenizer, job) for job in jobs]
        return texts

    return move_fn


def audit_model(path, variant: str = "full") -> AuditResult:
    """Audit the tiny model saved in ``path``."""
    model, tokenizer = tinylm.load(path)
    return audit(greedy_move_fn(model, tokenizer), variant)


def scripted_move_fn(name: str = "scripted/ttt-heuristic"):
    """A scripted Tic-Tac-Toe player as a ``move_fn`` (the teacher by default). Its random choices are
    seeded by the board, so it is one fixed policy (always the same cell in the same position)."""
    import random

    from rlcourse.scripted import SCRIPTED

    play = SCRIPTED[name][0]

    def move_fn(conversations: list[list[dict]]) -> list[str]:
        return [play(messages, None, random.Random(ttt.parse_board(messages[-1]["content"]))).content or ""
                for messages in conversations]

    return move_fn


def teacher_move_fn():
    """The scripted teacher (``scripted/ttt-heuristic``) as a ``move_fn``."""
    return scripted_move_fn("scripted/ttt-heuristic")
