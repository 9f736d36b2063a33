"""Synthetic SFT data: teacher games played through the tictactoe environment, filtered and saved.

The teacher is any model the evaluation can reach: the scripted heuristic by default (offline), or an
API model such as gpt-5-mini when the learner has a key. Games are saved twice: as a ``datasets``
dataset and as JSONL rows ``{"messages": [...]}``, the format TRL and prime-rl's SFT both read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from datasets import Dataset

from tictactoe import follows_format, message_text

# Data games come from their own seed, so they never coincide with the evaluation games (seed 0).
DATA_SEED = 1000


def is_good_game(row: dict[str, Any], variant: str = "full") -> bool:
    """True for a finished game the model did not lose, with no invalid move and every reply in format."""
    if row.get("error") or row.get("outcome") not in ("win", "draw"):
        return False
    if row.get("invalid_moves", row.get("metrics", {}).get("invalid_moves", 0)):
        return False
    replies = [m for m in row["completion"] if m.get("role") == "assistant"]
    return bool(replies) and all(follows_format(message_text(m), variant) for m in replies)


def conversation(row: dict[str, Any]) -> list[dict[str, str]]:
    """System prompt, user turns and assistant turns of one game, ending with the last assistant turn.

    The environment's closing message ("You won!") is dropped: nothing is learned from it.
    """
    messages = [{"role": m["role"], "content": message_text(m)} for m in row["prompt"] + row["completion"]]
    while messages and messages[-1]["role"] != "assistant":
        messages.pop()
    return messages


def turn_examples(conversation: list[dict[str, str]]) -> list[list[dict[str, str]]]:
    """One training example per assistant turn: the conversation up to and including that turn.

    The tiny models' chat template shows only the current position (the last user message on, no system prompt),
    so a whole game rendered at once would show its last turn only; cut into turns, every reply is
    learned in exactly the context the model sees when it plays.
    """
    return [conversation[: i + 1] for i, m in enumerate(conversation) if m["role"] == "assistant"]


def unique_turn_examples(conversations: list[list[dict[str, str]]]) -> list[list[dict[str, str]]]:
    """:func:`turn_examples` of every game, keeping the first example of each (last user message, reply).

    Teacher games repeat themselves: the common openings come back in almost every game, so the 7,674
    games kept by `make demo` cut into 29,714 examples hold only 626 different ones (measured). Training
    on each once per epoch gives a rare position as much weight as the opening, which is what an audit
    of every line asks for.
    """
    seen: set[tuple[str, str]] = set()
    unique = []
    for conversation in conversations:
        for example in turn_examples(conversation):
            key = (example[-2]["content"], example[-1]["content"])
            if key not in seen:
                seen.add(key)
                unique.append(example)
    return unique


def save_sft_data(conversations: list[list[dict[str, str]]], folder: str | Path) -> Path:
    """Write ``folder/train.jsonl`` (one game per line) and ``folder/hf`` (a datasets dataset)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "train.jsonl.tmp"
    with tmp.open("w") as handle:
        for messages in conversations:
            handle.write(json.dumps({"messages": messages}) + "\n")
    tmp.replace(folder / "train.jsonl")
    Dataset.from_list([{"messages": m} for m in conversations]).save_to_disk(str(folder / "hf"))
    return folder


def load_sft_data(folder: str | Path) -> list[list[dict[str, str]]]:
    """The conversations saved by :func:`save_sft_data` (read back from the JSONL file)."""
    with (Path(folder) / "train.jsonl").open() as handle:
        return [json.loads(line)["messages"] for line in handle if line.strip()]


def token_lengths(tokenizer, conversations: list[list[dict[str, str]]]) -> list[int]:
    """Length in tokens of each conversation rendered with the tokenizer's chat template (for the tiny
    models' template, pass :func:`turn_examples` to measure what SFT trains on)."""
    texts = [tokenizer.apply_chat_template(c, tokenize=False) for c in conversations]
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]


def share_within(lengths: list[int], seq_len: int) -> float:
    """Fraction of conversations that fit in ``seq_len`` tokens."""
    return sum(n <= seq_len for n in lengths) / len(lengths) if lengths else 0.0
