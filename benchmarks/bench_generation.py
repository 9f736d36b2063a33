"""Batched vs one-at-a-time generation of the tiny-model server policy, measured side by side.

64 concurrent requests (Tic-Tac-Toe conversations of different lengths, the same seeds in both runs,
so both produce exactly the same tokens) are answered once with batching (``max_batch=64``) and once
one request at a time (``max_batch=1``). Prints requests/s, generated tokens/s and the ratio.

    python benchmarks/bench_generation.py [--model PATH] [--concurrent 64] [--max-tokens 32]

Without ``--model`` it uses a freshly initialised model of the default size (speed does not depend on
the weights); with ``--model outputs/pipeline/models/ttt-sft`` it measures a trained one.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from rlcourse import chat_template, tiny_policy, tinylm  # noqa: E402
from rlcourse.server import ChatRequest  # noqa: E402
from helpers import teacher_conversation  # noqa: E402


def conversations(n: int) -> list[list[dict]]:
    out = []
    for i in range(n):
        full = teacher_conversation(i)
        cut = 2 + 2 * (i % max(1, (len(full) - 1) // 2))  # system + user (+ earlier turns)
        out.append(full[:cut])
    return out


async def answer_all(policy, convs, max_tokens: int) -> tuple[float, int]:
    request = ChatRequest.model_validate({"model": "m", "messages": [{"role": "user", "content": "x"}],
                                          "temperature": 1.0, "max_tokens": max_tokens})
    start = time.perf_counter()
    replies = await asyncio.gather(*[policy.generate(c, None, random.Random(i), request) for i, c in enumerate(convs)])
    return time.perf_counter() - start, sum(len(r.token_ids) for r in replies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--concurrent", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=32)
    args = parser.parse_args()
    if args.model:
        model, tokenizer = tinylm.load(args.model)
        label = args.model
    else:
        convs = [teacher_conversation(i) for i in range(200)]
        bootstrap = chat_template.build_tokenizer(["x"], vocab_size=300)
        tokenizer = chat_template.build_tokenizer([chat_template.render(bootstrap, c) for c in convs])
        model = tinylm.new_model(tokenizer)
        with tempfile.TemporaryDirectory() as tmp:  # round trip through save/load like a served model
            tinylm.save(model, tokenizer, Path(tmp) / "m")
            model, tokenizer = tinylm.load(Path(tmp) / "m")
        label = "untrained default-size model"
    convs = conversations(args.concurrent)
    print(f"{label}: {tinylm.count_parameters(model) / 1e6:.2f} M parameters; {args.concurrent} concurrent "
          f"requests, up to {args.max_tokens} new tokens each")
    results = {}
    for name, max_batch in (("batched", args.concurrent), ("one at a time", 1)):
        policy = tiny_policy.TinyModelPolicy(model, tokenizer, max_batch=max_batch, batch_window_s=0.0)
        asyncio.run(answer_all(policy, convs[:4], args.max_tokens))  # warm-up
        seconds, tokens = asyncio.run(answer_all(policy, convs, args.max_tokens))
        results[name] = (seconds, tokens)
        print(f"  {name:<14} {seconds:6.2f} s  {args.concurrent / seconds:7.1f} requests/s  "
              f"{tokens / seconds:8.1f} tokens/s  ({tokens} tokens)")
    ratio = results["one at a time"][0] / results["batched"][0]
    print(f"batched / one-at-a-time throughput: {ratio:.1f}x")


if __name__ == "__main__":
    main()
