"""Graders for lesson 08 (synthetic data and SFT): the game filter, the sequence length that covers a
share of the data, the assistant-only loss mask.

``nb`` holds the notebook's setup and exercise definitions (see tests/conftest.py).
"""

from __future__ import annotations

import copy
import functools
import random

import tictactoe
from helpers import build, replies
from rlcourse import chat_template, data
from rlcourse.clients import InProcessClient
from rlcourse.evaluation import evaluate
from rlcourse.policies import Reply, ScriptedPolicy
from rlcourse.scripted import ttt_heuristic

COLUMNS = ["board", "outcome", "invalid_moves"]

# ---------------------------------------------------------------------------------------------
# Exercise 8.1: keep_game
# ---------------------------------------------------------------------------------------------


def clumsy_teacher(messages, tools, rng):
    """An invalid first reply (a word instead of a digit), then the teacher's moves."""
    if not any(m["role"] == "assistant" for m in messages):
        return Reply(content="<think>The centre.</think>\n<move>four</move>")
    return ttt_heuristic(messages, tools, rng)


def terse_teacher(messages, tools, rng):
    """The teacher's moves, written without the <think> part."""
    reply = ttt_heuristic(messages, tools, rng)
    return Reply(content=reply.content.split("</think>")[-1].strip())


def chatty_second_reply(messages, tools, rng):
    """The teacher, except that its second reply carries extra text after the move."""
    reply = ttt_heuristic(messages, tools, rng)
    if sum(m["role"] == "assistant" for m in messages) == 1:
        return Reply(content=reply.content + " Good luck!")
    return reply


def played(policy, games: int = 30, low: float = 0.0, high: float = 1.0, max_turns: int = 8) -> list[dict]:
    env = build(tictactoe.load_environment, num_eval_examples=games, min_random_move_prob=low,
                max_random_move_prob=high, seed=5, max_turns=max_turns)
    client = InProcessClient(policy if isinstance(policy, str) else ScriptedPolicy(policy, "grader stand-in"), seed=1)
    return evaluate(env, "grader", client, num_examples=games, state_columns=COLUMNS)


def describe(row: dict) -> str:
    replies_ = [m["content"] for m in row["completion"] if m["role"] == "assistant"]
    return (f"outcome {row.get('outcome')!r}, invalid_moves {row.get('invalid_moves')}, error {row.get('error')!r}, "
            f"replies {replies_[:3]}{' ...' if len(replies_) > 3 else ''}")


def test_ex8_1_keep_game(nb):
    teacher = played("scripted/ttt-heuristic")
    assert {r["outcome"] for r in teacher} >= {"win", "draw"}, "grader set-up: the teacher should win and draw"
    cases = [
        ("a teacher game", teacher),
        ("a teacher game against the optimal opponent", played("scripted/ttt-heuristic", 20, 0.0, 0.0)),
        ("a game with an invalid first move", played(clumsy_teacher, 10)),
        ("a game whose replies have no <think> part", played(terse_teacher, 10)),
        ("a game whose second reply has extra text after the move", played(chatty_second_reply, 10)),
        ("an unfinished game (no valid move at all)", played(replies("I pass."), 3)),
    ]
    cut = played("scripted/ttt-heuristic", 6, max_turns=2)
    assert all(r["outcome"] is None and not r.get("invalid_moves") and not r.get("error") for r in cut), \
        "grader set-up: games cut after 2 turns end unfinished, without an invalid move"
    cases.append(("a game cut at the turn cap (outcome None: neither won nor drawn, although every reply is "
                  "well formed and no move was invalid)", cut))
    for what, rows in cases:
        for row in rows:
            expected, got = data.is_good_game(row), nb.keep_game(row)
            assert got in (True, False), f"keep_game should return True or False, got {got!r}"
            assert bool(got) == expected, (f"{what} should be {'kept' if expected else 'dropped'}: {describe(row)}")
    good = next(r for r in teacher if data.is_good_game(r))
    failed = copy.deepcopy(good)
    failed["error"] = "ModelError: the server refused the request"
    assert not nb.keep_game(failed), "a game with an error (the model call failed) must be dropped, even if it looks won"
    spoiled = copy.deepcopy(good)
    spoiled["invalid_moves"] = 1
    assert not nb.keep_game(spoiled), "a game with an invalid move (invalid_moves > 0) must be dropped"
    empty = copy.deepcopy(good)
    empty["completion"] = [m for m in empty["completion"] if m["role"] != "assistant"]
    assert not nb.keep_game(empty), "a game without a single assistant reply must be dropped"


# ---------------------------------------------------------------------------------------------
# Exercise 8.2: seq_len_for
# ---------------------------------------------------------------------------------------------


def reference_seq_len(lengths: list[int], share: float) -> int:
    return next(n for n in sorted(set(lengths)) if data.share_within(lengths, n) >= share)


def test_ex8_2_seq_len_for(nb):
    lengths = [100, 120, 130, 150, 700]
    for share, expected in [(0.2, 100), (0.5, 130), (0.6, 130), (0.8, 150), (0.81, 700), (1.0, 700)]:
        got = nb.seq_len_for(lengths, share)
        assert got == expected, (f"seq_len_for({lengths}, {share}) should be {expected}: the smallest L with at least "
                                 f"{share:.0%} of the conversations at most L tokens long; got {got}")
    got = nb.seq_len_for([300] * 10 + [200] * 10, 0.5)
    assert got == 200, f"with ten conversations of 200 tokens and ten of 300, half fit in 200; got {got}"
    assert nb.seq_len_for([300] * 10 + [200] * 10, 0.55) == 300, "ties: 55% needs the 300-token conversations too"
    thousand = list(range(1, 1001))
    got = nb.seq_len_for(thousand, 0.983)
    assert got == 983, (f"lengths 1..1000 with share 0.983 should give 983, got {got}"
                        + (" (0.983 * 1000 is 982.9999999999999 in floating point: use math.ceil, not int)"
                           if got == 982 else ""))
    rng = random.Random(8)
    for _ in range(30):
        lengths = [rng.randint(50, 800) for _ in range(rng.randint(1, 400))]
        for share in (0.5, 0.9, 0.95, 0.983, 0.99, 1.0, rng.random() or 0.5):
            expected, got = reference_seq_len(lengths, share), nb.seq_len_for(lengths, share)
            assert got == expected, (f"seq_len_for on {len(lengths)} random lengths with share {share}: expected "
                                     f"{expected}, got {got} (data.share_within(lengths, {got}) = "
                                     f"{data.share_within(lengths, got):.4f})")
    assert nb.seq_len_for([5, 3, 9], 1.0) == 9, "share 1.0 means every conversation fits: the longest length"


# ---------------------------------------------------------------------------------------------
# Exercise 8.3: assistant_mask
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def small_tokenizer():
    """A small course tokenizer (same template and special tokens as the lesson's), built once."""
    rng = random.Random(3)
    texts = [tictactoe.FULL_SYSTEM_PROMPT]
    for _ in range(40):
        board = "".join(rng.choice("XO.") for _ in range(9))
        texts += [tictactoe.board_message(board, "O took cell 3."),
                  f"<think>Free: 1 2 5. No threats. I take the corner {rng.randint(0, 8)}.</think>\n<move>2</move>"]
    return chat_template.build_tokenizer(texts, vocab_size=400)


def conversations() -> list[list[dict]]:
    system = {"role": "system", "content": tictactoe.FULL_SYSTEM_PROMPT}
    opening = {"role": "user", "content": tictactoe.opening_message(tictactoe.EMPTY_BOARD, None)}
    reply = {"role": "assistant", "content": "<think>Free: 0 1 2 3 4 5 6 7 8. The centre.</think>\n<move>4</move>"}
    turn = {"role": "user", "content": tictactoe.turn_message("O...X....", 4, 0)}
    reply2 = {"role": "assistant", "content": "<think>Free: 1 2 3 5 6 7 8. I take the corner 8.</think>\n<move>8</move>"}
    return [
        [system, opening, reply],
        [system, opening, reply, turn, reply2],
        [opening, reply, turn, reply2],                      # no system prompt
        [system, opening, reply, turn],                      # ends with a user message
        [system, opening, {"role": "assistant", "content": ""}, turn, reply2],  # an empty reply
        [system, opening, {"role": "assistant", "content": "Ünïcödé ✓ <move>٣</move> X|O 012"}],  # unseen text
        [system, reply, reply2],                             # no user message: the template shows everything
    ]


def test_ex8_3_assistant_mask(nb):
    tokenizer = small_tokenizer()

    for conversation in conversations():
        roles = [m["role"] for m in conversation]
        ids = chat_template.encode_chat(tokenizer, conversation, add_generation_prompt=False)
        expected = tokenizer.apply_chat_template(conversation, tokenize=True, return_dict=True,
                                                 return_assistant_tokens_mask=True)["assistant_masks"]
        got = list(nb.assistant_mask(tokenizer, conversation))
        assert len(got) == len(ids), (f"for a conversation with roles {roles}: the mask has {len(got)} entries but the "
                                      f"rendered conversation has {len(ids)} tokens (one 0/1 per token)")
        assert set(got) <= {0, 1, True, False}, f"the mask holds only 0 and 1, got values {sorted(set(got))}"
        if got != expected:
            first = next(i for i, (a, b) in enumerate(zip(got, expected)) if a != b)
            token = tokenizer.convert_ids_to_tokens([ids[first]])[0]
            raise AssertionError(
                f"for a conversation with roles {roles}: token {first} ({token!r}) should be "
                f"{'learned (1)' if expected[first] else 'masked (0)'}, your mask says {got[first]}"
                + (" (the <|assistant|> marker itself is not learned)" if token == "<|assistant|>" else "")
                + (" (the <|end|> closing a reply is learned: that is how the model learns to stop)"
                   if token == chat_template.END and expected[first] else ""))
        learned = tokenizer.decode([i for i, m in zip(ids, got) if m])
        last_user = max((i for i, m in enumerate(conversation) if m["role"] == "user"), default=0)
        assert learned == "".join(m["content"] + chat_template.END for i, m in enumerate(conversation)
                                  if m["role"] == "assistant" and i >= last_user)
