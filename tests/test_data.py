"""SFT data: the filter keeps only finished, non-lost games with perfect format; files round-trip."""

import json

import pytest
from datasets import load_from_disk

from rlcourse import chat_template, data
from helpers import teacher_conversation

GOOD = "<think>Free: 4 5. I block.</think>\n<move>4</move>"


def row(outcome="win", replies=(GOOD, GOOD), invalid=0, error=None):
    completion = []
    for text in replies:
        completion += [{"role": "assistant", "content": text}, {"role": "user", "content": "board"}]
    return {"prompt": [{"role": "system", "content": "sys"}, {"role": "user", "content": "start"}],
            "completion": completion, "outcome": outcome, "metrics": {"invalid_moves": invalid}, "error": error}


@pytest.mark.parametrize("game, keep", [
    (row(), True),
    (row(outcome="draw"), True),
    (row(outcome="loss"), False),
    (row(outcome=None), False),                                   # turn cap: unfinished
    (row(replies=(GOOD, "<move>4</move>")), False),               # one reply without <think>
    (row(replies=(GOOD, GOOD + " and more")), False),             # text after the move
    (row(invalid=1), False),
    (row(error="EmptyModelResponseError"), False),
    (row(replies=()), False),
])
def test_filter(game, keep):
    assert data.is_good_game(game) is keep


def test_conversation_ends_with_the_last_reply_and_files_round_trip(tmp_path):
    messages = data.conversation(row())
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant"]
    conversations = [messages, teacher_conversation(1)]
    data.save_sft_data(conversations, tmp_path)
    assert data.load_sft_data(tmp_path) == conversations
    lines = (tmp_path / "train.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [{"messages": c} for c in conversations]
    assert load_from_disk(str(tmp_path / "hf"))[1]["messages"] == conversations[1]


def test_token_lengths_and_share_within():
    conversations = [teacher_conversation(i) for i in range(20)]
    tokenizer = chat_template.build_tokenizer([chat_template.render(chat_template.build_tokenizer(["x"], 300), c) for c in conversations], 400)
    lengths = data.token_lengths(tokenizer, conversations)
    assert lengths == [len(chat_template.encode_chat(tokenizer, c, add_generation_prompt=False)) for c in conversations]
    cut = sorted(lengths)[9]
    assert data.share_within(lengths, cut) == sum(n <= cut for n in lengths) / 20
    assert data.share_within(lengths, max(lengths)) == 1.0 and data.share_within([], 10) == 0.0


def test_teacher_games_do_not_depend_on_how_many_run_at_once():
    """The scripted teacher breaks ties with a random source seeded by each request, so the SFT data is the
    same whatever the concurrency (a shared source made it depend on the order requests arrived in)."""
    import verifiers as vf

    from rlcourse.clients import InProcessClient
    from rlcourse.evaluation import evaluate

    teacher = "scripted/ttt-heuristic"
    games = {}
    for concurrent in (1, 32):
        env = vf.load_environment("tictactoe", num_eval_examples=32, seed=data.DATA_SEED)
        rows = evaluate(env, teacher, InProcessClient(teacher), num_examples=32, sampling_args={"seed": 0},
                        max_concurrent=concurrent)
        games[concurrent] = sorted(json.dumps(r["completion"]) for r in rows)
    assert games[1] == games[32]
    assert len(set(games[1])) > 16  # and the games still differ from each other
