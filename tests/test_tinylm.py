"""Tiny models: tokenizer and chat template, batched generation, token ids / log-probs, weight reload."""

import asyncio
import json
import random
import urllib.request

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rlcourse import chat_template, data, generation, tiny_policy, tinylm
from rlcourse.clients import InProcessClient, run_coroutine
from rlcourse.server import ChatRequest, LocalServer

from helpers import teacher_conversation

SMALL = tinylm.ModelSize(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, max_positions=512)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    conversations = [teacher_conversation(i) for i in range(60)]
    bootstrap = chat_template.build_tokenizer(["seed text"], vocab_size=300)
    tokenizer = chat_template.build_tokenizer([chat_template.render(bootstrap, c) for c in conversations], vocab_size=400)
    root = tmp_path_factory.mktemp("models")
    tinylm.save(tinylm.new_model(tokenizer, SMALL, seed=1), tokenizer, root / "a")
    tinylm.save(tinylm.new_model(tokenizer, SMALL, seed=2), tokenizer, root / "b")
    return root


def test_template_round_trip_and_assistant_mask(tiny_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir / "a")
    conversation = teacher_conversation(7)
    text = chat_template.render(tokenizer, conversation)
    ids = chat_template.encode_chat(tokenizer, conversation, add_generation_prompt=False)
    assert tokenizer.decode(ids) == text
    # every board cell is one token: the digits and marks never merge with separators
    pieces = tokenizer.convert_ids_to_tokens(chat_template.encode_chat(tokenizer, conversation[:2]))
    assert sum(p in list("012345678XO") for p in pieces) >= 9  # the board's nine cells
    # text never seen in training still round-trips exactly (byte-level BPE)
    odd = "Ünïcödé ✓ <move>٣</move> \x00\t tabs"
    assert tokenizer.decode(tokenizer(odd, add_special_tokens=False)["input_ids"]) == odd
    # the template shows the current position: everything from the last user message on, no system prompt
    last_user = max(i for i, m in enumerate(conversation) if m["role"] == "user")
    assert conversation[0]["role"] == "system" and last_user > 1
    assert text == chat_template.render(tokenizer, conversation[last_user:])
    assert conversation[1]["content"] not in text and conversation[last_user]["content"] in text
    assert "<|system|>" not in text and "Tic-Tac-Toe" not in text
    assert chat_template.render(tokenizer, conversation[:1]) == ""  # a system prompt alone renders as nothing
    # the template marks exactly the shown assistant turn (+ its end token) for assistant-only loss
    encoded = tokenizer.apply_chat_template(conversation, tokenize=True, return_dict=True,
                                            return_assistant_tokens_mask=True)
    assert encoded["input_ids"] == ids
    masked = tokenizer.decode([i for i, m in zip(ids, encoded["assistant_masks"]) if m])
    assert masked == conversation[-1]["content"] + chat_template.END
    # cut into turns (what SFT trains on), every reply is learned once, in the context it is played in
    turns = data.turn_examples(conversation)
    assert [t[-1] for t in turns] == [m for m in conversation if m["role"] == "assistant"]
    for turn in turns:
        assert chat_template.render(tokenizer, turn[:-1], add_generation_prompt=True) in chat_template.render(tokenizer, turn)
    # generation prompt ends with the assistant role token
    assert chat_template.render(tokenizer, conversation[:2], add_generation_prompt=True).endswith("<|assistant|>")


def test_unique_turn_examples_keep_each_position_and_reply_once():
    game = teacher_conversation(4)
    other = teacher_conversation(5)
    examples = data.unique_turn_examples([game, other, game])  # the third game repeats the first
    keys = [(e[-2]["content"], e[-1]["content"]) for e in examples]
    assert len(keys) == len(set(keys))
    every = [t for c in (game, other) for t in data.turn_examples(c)]
    assert set(keys) == {(t[-2]["content"], t[-1]["content"]) for t in every}
    assert examples[: len(data.turn_examples(game))] == data.turn_examples(game)  # first occurrences, in order


def test_saved_model_loads_with_auto_classes(tiny_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_dir / "a")
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir / "a")
    assert model.config.model_type == "llama"
    assert tokenizer.chat_template == chat_template.CHAT_TEMPLATE
    assert tokenizer.eos_token == chat_template.END and tokenizer.pad_token == chat_template.PAD


def test_reply_text_drops_only_the_closing_end_token(tiny_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir / "a")
    ids = tokenizer("<think>a</think><move>4</move>", add_special_tokens=False)["input_ids"]
    stopped = generation.Job(prompt_ids=[1], max_new_tokens=9, token_ids=ids + [tokenizer.eos_token_id], finish_reason="stop")
    cut = generation.Job(prompt_ids=[1], max_new_tokens=len(ids), token_ids=list(ids), finish_reason="length")
    assert generation.reply_text(tokenizer, stopped) == generation.reply_text(tokenizer, cut) == "<think>a</think><move>4</move>"
    odd = generation.Job(prompt_ids=[1], max_new_tokens=2, token_ids=[tokenizer.eos_token_id], finish_reason="length")
    assert generation.reply_text(tokenizer, odd) == chat_template.END  # special tokens are kept unless they close the reply


def request(**fields):
    return ChatRequest.model_validate({"model": "m", "messages": [{"role": "user", "content": "x"}], **fields})


def test_batched_generation_matches_forward_pass_and_is_batch_independent(tiny_dir):
    policy = tiny_policy.TinyModelPolicy.from_pretrained(tiny_dir / "a", batch_window_s=0.0)
    conversations = [teacher_conversation(i)[: 2 + 2 * (i % 3)] for i in range(24)]  # different lengths

    async def many():
        return await asyncio.gather(*[policy.generate(c, None, random.Random(i), request(temperature=0.8, max_tokens=12))
                                      for i, c in enumerate(conversations)])

    replies = run_coroutine(many())
    assert max(policy.batch_sizes) > 1, "concurrent requests should share a batch"
    for reply in replies:
        assert reply.prompt_token_ids == chat_template.encode_chat(policy.tokenizer, conversations[replies.index(reply)])
        expected = tinylm.logprobs_of(policy.model, reply.prompt_token_ids, reply.token_ids, temperature=0.8)
        got = [entry["logprob"] for entry in reply.logprobs]
        assert got == pytest.approx(expected, abs=1e-4)
        assert reply.completion_tokens == len(reply.token_ids) <= 12
    # the same request alone (batch of one) gives the same tokens: each request has its own random stream
    alone = run_coroutine(policy.generate(conversations[5], None, random.Random(5), request(temperature=0.8, max_tokens=12)))
    assert alone.token_ids == replies[5].token_ids


def test_length_groups_and_finishing_rows_do_not_change_any_reply(tiny_dir):
    model, tokenizer = tinylm.load(tiny_dir / "a")
    conversations = [teacher_conversation(i)[: 2 + 2 * (i % 4)] for i in range(40)]  # prompts of several lengths
    prompts = [chat_template.encode_chat(tokenizer, c, add_generation_prompt=True) for c in conversations]

    def jobs():  # rows finish at different steps, with every kind of sampling setting
        return [generation.Job(prompt_ids=p, max_new_tokens=[0, 1, 6, 16][i % 4], temperature=[0.0, 0.8, 1.3][i % 3],
                               top_p=[1.0, 0.9][i % 2], top_k=[0, 0, 5][i % 3], rng=random.Random(i))
                for i, p in enumerate(prompts)]

    groups = generation.length_groups(jobs(), 1.2)  # prompts of 32 tokens, and of 40 and 48
    assert len(groups) == 2 and sorted(len(j.prompt_ids) for g in groups for j in g) == sorted(map(len, prompts))
    assert all(len(g[-1].prompt_ids) <= 1.2 * len(g[0].prompt_ids) for g in groups)
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    grouped = generation.generate_batch(model, jobs(), eos, pad, group_ratio=1.2)
    one_batch = generation.generate_batch(model, jobs(), eos, pad, group_ratio=None)
    alone = [generation.generate_batch(model, [job], eos, pad)[0] for job in jobs()]
    for a, b, c in zip(grouped, one_batch, alone):
        assert a.token_ids == b.token_ids == c.token_ids and a.finish_reason == b.finish_reason == c.finish_reason
        assert a.logprobs == pytest.approx(c.logprobs, abs=1e-5)
        assert len(a.token_ids) <= a.max_new_tokens
    assert [len(a.token_ids) for a in grouped[::4]] == [0] * 10


def test_a_batch_generates_on_the_torch_threads_of_the_caller(tiny_dir, monkeypatch):
    policy = tiny_policy.TinyModelPolicy.from_pretrained(tiny_dir / "a", batch_window_s=0.0)
    seen = []
    real = tiny_policy.generate_batch
    monkeypatch.setattr(tiny_policy, "generate_batch",
                        lambda *args, **kwargs: (seen.append(torch.get_num_threads()), real(*args, **kwargs))[1])
    conversation = teacher_conversation(1)[:2]

    def ask():
        return run_coroutine(policy.generate(conversation, None, random.Random(0), request(max_tokens=3)))

    async def inside_a_running_loop():  # as in Jupyter: run_coroutine goes through a thread of its own
        return ask()

    for n in (1, 2):
        with tinylm.torch_threads(n):
            ask()
            asyncio.run(inside_a_running_loop())
    assert seen == [1, 1, 2, 2]


def test_sampling_settings(tiny_dir):
    policy = tiny_policy.TinyModelPolicy.from_pretrained(tiny_dir / "a")
    conversation = teacher_conversation(3)[:2]
    greedy = [run_coroutine(policy.generate(conversation, None, random.Random(i), request(temperature=0, max_tokens=8)))
              for i in range(3)]
    assert len({tuple(r.token_ids) for r in greedy}) == 1
    logits = policy.model(input_ids=torch.tensor([greedy[0].prompt_token_ids])).logits[0, -1]
    assert greedy[0].token_ids[0] == int(logits.argmax())
    # top_k=1 is greedy too, whatever the temperature
    top1 = run_coroutine(policy.generate(conversation, None, random.Random(9), request(temperature=2.0, top_k=1, max_tokens=8)))
    assert top1.token_ids == greedy[0].token_ids
    # max_tokens is respected and reported as finish_reason "length"
    short = run_coroutine(policy.generate(conversation, None, random.Random(1), request(temperature=1.0, max_tokens=3)))
    assert len(short.token_ids) <= 3
    if short.token_ids[-1] != policy.tokenizer.eos_token_id:
        assert short.finish_reason == "length"
    # the distribution helper keeps only the top-p nucleus
    logits = torch.tensor([[3.0, 2.0, 1.0, -5.0]])
    _, probs = generation.sampling_distribution(logits, torch.tensor([1.0]), torch.tensor([0.7]), torch.tensor([0]))
    assert probs[0, 0] > 0 and probs[0, 1] > 0 and probs[0, 2] == 0 and probs[0, 3] == 0


def test_too_long_conversation_is_a_clear_error(tiny_dir):
    policy = tiny_policy.TinyModelPolicy.from_pretrained(tiny_dir / "a")
    huge = [{"role": "user", "content": "0 1 2 3 4 5 6 7 8 " * 200}]
    with pytest.raises(ValueError, match="at most 512"):
        run_coroutine(policy.generate(huge, None, random.Random(0), request()))


def post(url: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_server_returns_token_ids_logprobs_and_reloads_weights(tiny_dir, monkeypatch):
    monkeypatch.setenv("COURSE_MODELS_DIR", str(tiny_dir))
    model_a, tokenizer = tinylm.load(tiny_dir / "a")
    model_b, _ = tinylm.load(tiny_dir / "b")
    messages = teacher_conversation(4)[:2]
    body = {"model": "tiny/a", "messages": messages, "temperature": 1.0, "max_tokens": 10, "seed": 3,
            "logprobs": True, "return_token_ids": True}
    with LocalServer() as server:
        status, reply = post(f"{server.base_url}/chat/completions", body)
        assert status == 200, reply
        prompt_ids, choice = reply["prompt_token_ids"], reply["choices"][0]
        assert prompt_ids == chat_template.encode_chat(tokenizer, messages)
        logprobs = [entry["logprob"] for entry in choice["logprobs"]["content"]]
        assert logprobs == pytest.approx(tinylm.logprobs_of(model_a, prompt_ids, choice["token_ids"]), abs=1e-4)
        assert reply["usage"]["completion_tokens"] == len(choice["token_ids"])
        assert post(f"{server.base_url}/chat/completions", body)[1]["choices"][0]["token_ids"] == choice["token_ids"]

        status, answer = post(f"{server.base_url}/load_weights", {"model": "tiny/a", "path": str(tiny_dir / "b")})
        assert status == 200, answer
        status, reply = post(f"{server.base_url}/chat/completions", body)
        choice = reply["choices"][0]
        logprobs = [entry["logprob"] for entry in choice["logprobs"]["content"]]
        assert logprobs == pytest.approx(tinylm.logprobs_of(model_b, prompt_ids, choice["token_ids"]), abs=1e-4)

        for bad in ({"model": "tiny/a", "path": str(tiny_dir / "missing")}, {"model": "tiny/a"},
                    {"model": "scripted/ttt-random", "path": str(tiny_dir / "b")}):
            status, answer = post(f"{server.base_url}/load_weights", bad)
            assert status in (400, 404) and "error" in answer
        status, answer = post(f"{server.base_url}/chat/completions", {**body, "model": "tiny/none"})
        assert status == 404 and "tiny/<name>" in answer["error"]["message"]


def test_first_requests_arriving_together_all_get_answers(tiny_dir, monkeypatch):
    """Many first requests for a model not loaded yet: one load, and every request is answered alike."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv("COURSE_MODELS_DIR", str(tiny_dir / "nowhere"))  # the argument wins over the variable
    body = {"model": "tiny/b", "messages": teacher_conversation(5)[:2], "temperature": 0.0, "max_tokens": 6}
    with LocalServer(models_dir=tiny_dir) as server:
        with ThreadPoolExecutor(48) as pool:
            answers = list(pool.map(lambda _: post(f"{server.base_url}/chat/completions", body), range(48)))
    assert [status for status, _ in answers] == [200] * 48, [a for s, a in answers if s != 200][:1]
    assert len({json.dumps(a["choices"][0]["message"]) for _, a in answers}) == 1


def test_tiny_model_plays_through_verifiers_with_tokens(tiny_dir):
    """An untrained model mostly writes garbage: the environment must still finish every game."""
    import verifiers as vf

    policy = tiny_policy.TinyModelPolicy.from_pretrained(tiny_dir / "a")
    env = vf.load_environment("tictactoe", num_eval_examples=8)
    results = run_coroutine(env.evaluate(
        client=InProcessClient(policy), model="tiny/a", num_examples=8, rollouts_per_example=1,
        sampling_args={"temperature": 1.0, "max_tokens": 16, "logprobs": True, "extra_body": {"return_token_ids": True}},
        state_columns=["trajectory"], on_start=lambda *a, **k: None, on_progress=lambda *a, **k: None,
        on_log=lambda *a, **k: None))
    outputs = results["outputs"]
    assert len(outputs) == 8
    steps = [step for out in outputs for step in out["trajectory"]]
    assert steps and all(step["tokens"] and len(step["tokens"]["completion_logprobs"]) ==
                         len(step["tokens"]["completion_ids"]) for step in steps)


def test_sft_prints_nothing_per_step_into_a_log(tmp_path, capfd):
    """Written to a file (not a terminal), SFT prints no progress frames, no raw log dicts and no
    FutureWarning: `make demo > log` stays readable."""
    import sys
    import warnings

    from rlcourse import sft

    assert not sys.stderr.isatty() and "ipykernel" not in sys.modules
    conversations = [teacher_conversation(seed) for seed in range(4)]
    tokenizer = chat_template.build_tokenizer([chat_template.render(chat_template.build_tokenizer(["x"], 300), c) for c in conversations], 300)
    model = tinylm.new_model(tokenizer, SMALL, seed=0)  # this small vocabulary needs about 300 tokens a turn
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        info = sft.train_sft(model, tokenizer, conversations, tmp_path / "sft",
                             sft.SFTSettings(max_steps=4, batch_size=2, logging_steps=1, seq_len=500),
                             progress=True)
    out, err = capfd.readouterr()
    assert len(info["loss"]) == 4
    assert "\r" not in out + err and "{'loss'" not in out + err, (out + err)[-500:]
    assert not [w for w in caught if issubclass(w.category, FutureWarning)], [str(w.message) for w in caught]
