"""What a system prompt would cost RL's training step: one micro-batch with and without it, side by side.

The tiny models' chat template shows only the current position (the last user message and the reply),
and no system prompt; each turn is one training sequence. This script measures why: it renders real
teacher turns (from the environment's own messages and the scripted teacher's replies) twice, once with
the environment's system prompt at the start of the turn (as a template that shows it would render
every turn) and once as the template does, fits one tokenizer to both, and times the forward and
backward pass of RL's loss on micro-batches of 64 sequences of each kind, interleaved. Prints tokens
per sequence and the ratio.

    python benchmarks/bench_rl_sequences.py [--batch 64] [--repeats 9]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import tictactoe as ttt
import torch

from rlcourse import chat_template, tinylm
from rlcourse.rl import Sample, cispo_loss, token_logprobs
from rlcourse.scripted import teacher_move


def turns(n: int, seed: int = 0, system_prompt: bool = False) -> list[list[dict]]:
    """``n`` (user, assistant) turns from random positions with the teacher's replies; with
    ``system_prompt``, the user message starts with the environment's system prompt."""
    rng, out = random.Random(seed), []
    while len(out) < n:
        board = ttt.EMPTY_BOARD
        for _ in range(rng.randint(0, 3)):
            board = ttt.play(board, rng.choice(ttt.legal_moves(board)), "X")
            board = ttt.play(board, rng.choice(ttt.legal_moves(board)), "O")
        if ttt.is_over(board):
            continue
        cell, thought = teacher_move(board, rng)
        prompt = ttt.board_message(board, "Your move.")
        out.append([{"role": "user", "content": f"{ttt.FULL_SYSTEM_PROMPT}\n\n{prompt}" if system_prompt else prompt},
                    {"role": "assistant", "content": f"<think>{thought}</think>\n<move>{cell}</move>"}])
    return out


def samples(tokenizer, conversations: list[list[dict]]) -> list[Sample]:
    out = []
    for messages in conversations:
        prompt = chat_template.encode_chat(tokenizer, messages[:-1])
        full = chat_template.encode_chat(tokenizer, messages, add_generation_prompt=False)
        reply = len(full) - len(prompt)
        out.append(Sample(full, [0] * len(prompt) + [1] * reply, [0.0] * len(full), 0.1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    with_system, without = turns(args.batch, system_prompt=True), turns(args.batch)
    bootstrap = chat_template.build_tokenizer(["bootstrap"], vocab_size=300)
    texts = [chat_template.render(bootstrap, m) for m in with_system + without]
    tokenizer = chat_template.build_tokenizer(texts, vocab_size=1024)
    model = tinylm.new_model(tokenizer, tinylm.ModelSize(), seed=0)
    batches = {"with the system prompt": samples(tokenizer, with_system),
               "without it": samples(tokenizer, without)}
    seconds: dict[str, list[float]] = {name: [] for name in batches}
    for _ in range(args.repeats):
        for name, batch in batches.items():
            start = time.perf_counter()
            logprobs, old, mask, _ = token_logprobs(model, batch, 1.0, tokenizer.pad_token_id)
            cispo_loss(logprobs, old, torch.full((len(batch),), 0.1), mask).backward()
            model.zero_grad(set_to_none=True)
            seconds[name].append(time.perf_counter() - start)
    for name, batch in batches.items():
        prompt = statistics.mean(len(s.ids) - sum(s.mask) for s in batch)
        reply = statistics.mean(sum(s.mask) for s in batch)
        print(f"{name:<24} prompt {prompt:5.1f} + reply {reply:4.1f} tokens   "
              f"{statistics.median(seconds[name]):.3f} s per micro-batch of {len(batch)} (median of {args.repeats})")
    a, b = (statistics.median(v) for v in seconds.values())
    print(f"ratio: {a / b:.2f}x faster without the system prompt ({torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
