"""Reverse text: a single-turn verifiers environment.

The model receives a short passage and must write it backwards, character by character, inside
``<reversed_text>...</reversed_text>``. The reward is the longest-common-subsequence ratio between
its answer and the true reversal: 1.0 for a perfect answer, partial credit for near misses.
The passages ship with the package (written for this course); nothing is downloaded.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import verifiers as vf
from datasets import Dataset

DATA_FILE = Path(__file__).with_name("reverse_text_data") / "texts.jsonl"
SYSTEM_PROMPT = ("Reverse the text you are given, character by character. "
                 "Write only the reversed text inside <reversed_text>...</reversed_text>.")


def lcs_length(a: str, b: str) -> int:
    """Length of the longest common subsequence of ``a`` and ``b`` (dynamic programming, one row)."""
    if len(a) < len(b):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for ch in a:
        current = [0]
        for j, other in enumerate(b):
            current.append(previous[j] + 1 if ch == other else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def lcs_ratio(answer: str, target: str) -> float:
    """2 * LCS / (len(answer) + len(target)), in [0, 1].

    An answer longer than four times the target is compared on its first 4x characters (it cannot
    share more than len(target) characters anyway); the ratio still divides by its full length.
    """
    if not answer and not target:
        return 1.0
    common = lcs_length(answer[: 4 * len(target) + 1], target)
    return 2.0 * common / (len(answer) + len(target))


def load_texts() -> list[str]:
    with DATA_FILE.open(encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line in handle if line.strip()]


def make_rows(texts: list[str]) -> list[dict]:
    return [{"question": text, "answer": text[::-1]} for text in texts]


def load_environment(num_eval_examples: int = 40, seed: int = 0, **kwargs) -> vf.Environment:
    """Build the environment: the shipped texts are shuffled with ``seed`` and split into train/eval."""
    texts = load_texts()
    random.Random(seed).shuffle(texts)
    if not 0 < num_eval_examples < len(texts):
        raise ValueError(f"num_eval_examples must be between 1 and {len(texts) - 1}, got {num_eval_examples}")
    parser = vf.XMLParser(["reversed_text"], answer_field="reversed_text")

    async def lcs_reward(completion: vf.Messages, answer: str) -> float:
        """LCS ratio between the parsed <reversed_text> and the true reversal (0 if the tag is missing)."""
        parsed = parser.parse_answer(completion)
        return lcs_ratio(parsed.strip(), answer) if isinstance(parsed, str) else 0.0

    rubric = vf.Rubric(funcs=[lcs_reward], weights=[1.0], parser=parser)
    rubric.add_metric(parser.get_format_reward_func())
    return vf.SingleTurnEnv(
        dataset=Dataset.from_list(make_rows(texts[num_eval_examples:])),
        eval_dataset=Dataset.from_list(make_rows(texts[:num_eval_examples])),
        system_prompt=SYSTEM_PROMPT,
        parser=parser,
        rubric=rubric,
        **kwargs,
    )
