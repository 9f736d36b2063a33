"""Graders of lesson 02 (single-turn environment: reverse text)."""

import random

import pytest
import verifiers as vf

import reverse_text
from helpers import build, call, replies, rollouts
from rlcourse.policies import Reply


def full_table_lcs(a: str, b: str) -> int:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a)):
        for j in range(len(b)):
            table[i + 1][j + 1] = table[i][j] + 1 if a[i] == b[j] else max(table[i][j + 1], table[i + 1][j])
    return table[-1][-1]


def reply(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


# ----------------------------------------------------------------------------- Exercise 2.1


def test_ex2_1_lcs_ratio(nb):
    r = nb.lcs_ratio("hello", "hello")
    assert r == pytest.approx(1.0), f"identical strings should score 1.0, got {r}"
    r = nb.lcs_ratio("abxc", "abc")
    assert r == pytest.approx(6 / 7), (
        f"lcs_ratio('abxc', 'abc') should be 2*3/(4+3) = {6 / 7:.4f} (the LCS is 'abc'), got {r}")
    r = nb.lcs_ratio("abc", "xyz")
    assert r == 0.0, f"strings with no character in common should score 0.0, got {r}"
    r = nb.lcs_ratio("", "abc")
    assert r == 0.0, f"an empty answer should score 0.0 against a non-empty target, got {r}"
    r = nb.lcs_ratio("", "")
    assert r == 1.0, f"two empty strings count as identical (1.0), got {r}"
    r = nb.lcs_ratio("acbd", "abcd")
    assert r == pytest.approx(6 / 8), (
        f"lcs_ratio('acbd', 'abcd') should be 0.75: the LCS ('abd' or 'acd') keeps order but may skip "
        f"characters, got {r}")
    rng = random.Random(0)
    for _ in range(200):
        a = "".join(rng.choice("ab c") for _ in range(rng.randrange(0, 14)))
        b = "".join(rng.choice("ab c") for _ in range(rng.randrange(1, 14)))
        expected = 2 * full_table_lcs(a, b) / (len(a) + len(b))
        got = nb.lcs_ratio(a, b)
        assert got == pytest.approx(expected), f"lcs_ratio({a!r}, {b!r}) should be {expected:.4f}, got {got}"
    text = reverse_text.load_texts()[0]
    got = nb.lcs_ratio(text[::-1], text[::-1][:-1])
    expected = 2 * (len(text) - 1) / (2 * len(text) - 1)
    assert got == pytest.approx(expected), (
        f"on a {len(text)}-character passage missing its last character the ratio should be "
        f"{expected:.4f}, got {got}; use dynamic programming (a table), not recursion over all subsequences")


# ----------------------------------------------------------------------------- Exercise 2.2


def test_ex2_2_reversal_reward(nb):
    target = ".cilrag eht ddA"
    r = call(nb.reversal_reward, reply(f"<reversed_text>\n{target}\n</reversed_text>"), target)
    assert r == pytest.approx(1.0), f"a perfect reversal inside <reversed_text> tags should score 1.0, got {r}"
    r = call(nb.reversal_reward, reply(target), target)
    assert r == 0.0, f"a reply without <reversed_text> tags should score 0.0, even if its text is right; got {r}"
    r = call(nb.reversal_reward, reply(f"<reversed_text>{target[3:]}</reversed_text>"), target)
    expected = reverse_text.lcs_ratio(target[3:], target)
    assert r == pytest.approx(expected), (
        f"an answer missing its first 3 characters should get partial credit {expected:.4f} (the LCS ratio), got {r}")
    r = call(nb.reversal_reward, reply(f"Sure! Here it is:\n<reversed_text>  {target}  </reversed_text>\nDone."), target)
    assert r == pytest.approx(1.0), (
        f"text around the tags and spaces inside them should not matter (the parser strips them); got {r}")
    messages = [vf.AssistantMessage(content=f"<reversed_text>\n{target}\n</reversed_text>")]
    r = call(nb.reversal_reward, messages, target)
    assert r == pytest.approx(1.0), (
        f"completions in a rollout hold verifiers message objects; read them with parser.parse_answer; got {r}")
    r = call(nb.reversal_reward, [], target)
    assert r == 0.0, f"an empty completion (no reply at all) should score 0.0, got {r}"


# ----------------------------------------------------------------------------- Exercise 2.3

TEXTS = [f"Passage number {i} is short." for i in range(10)]


def perfect(messages, tools, rng):
    text = [m for m in messages if m["role"] == "user"][-1]["content"]
    return Reply(content=f"<reversed_text>\n{text[::-1]}\n</reversed_text>")


def test_ex2_3_make_env(nb):
    env = build(nb.make_env, TEXTS, num_eval=4)
    assert isinstance(env, vf.SingleTurnEnv), f"make_env should return a vf.SingleTurnEnv, got {type(env).__name__}"
    eval_rows = env.get_eval_dataset().to_list()
    train_rows = env.get_dataset().to_list()
    assert [row["question"] for row in eval_rows] == TEXTS[:4], (
        "the eval split should hold the first num_eval texts, in order, as the `question` column")
    assert len(train_rows) == 6, f"the train split should hold the other {len(TEXTS) - 4} texts, got {len(train_rows)}"
    assert all(row["answer"] == row["question"][::-1] for row in eval_rows + train_rows), (
        "each row's `answer` should be its `question` reversed")
    prompt = eval_rows[0]["prompt"]
    assert prompt[0]["role"] == "system" and "reversed_text" in prompt[0]["content"], (
        "the prompt should start with a system message that asks for <reversed_text> tags (use SYSTEM_PROMPT)")

    rows = rollouts(env, perfect, num_examples=4)
    rewards = [row["reward"] for row in rows]
    assert rewards == pytest.approx([1.2] * 4), (
        f"a perfect reply should score 1.0 (LCS) + 0.2 x 1.0 (format) = 1.2; got rewards {rewards}. "
        "Check the rubric's functions and weights [1.0, 0.2]")
    rows = rollouts(env, replies("I would rather not."), num_examples=4)
    rewards = [row["reward"] for row in rows]
    assert rewards == pytest.approx([0.2 * 0.2] * 4), (
        f"a reply without tags should score 0.0 (LCS) + 0.2 x 0.2 (the parser's format score) = 0.04; "
        f"got rewards {rewards}")
