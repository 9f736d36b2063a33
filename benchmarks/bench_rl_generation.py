"""One RL step's generation, replayed with and without length groups, on one and two threads.

Plays one RL step of the course's trainer (256 games from a saved model by default) and records every
batch of requests the served model answered. Then it generates those batches again, with the same
random streams, in four ways side by side: all requests of a batch padded to its longest prompt, or
split into groups of similar prompt lengths (``generate_batch``'s ``group_ratio``), each on one and on
two torch threads. Prints seconds per way, the ratio to the first, and whether every way produced the
same tokens.

    python benchmarks/bench_rl_generation.py [--model PATH] [--games 256] [--repeats 3]

The model should be trained (a fresh one rambles to the token limit on every turn, unlike an RL batch).
By default it is the SFT model of ``make demo STORY=talk``; without it the script says so and stops.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import torch

from rlcourse import rl, tinylm
from rlcourse.generation import Job, generate_batch

DEFAULT_MODEL = "outputs/pipeline-talk/models/ttt-sft"


def record_batches(model_path: str, games: int) -> list[list[tuple[list[int], int, float]]]:
    """(prompt ids, max new tokens, temperature) of every request in each batch of one RL step."""
    settings = rl.RLSettings(steps=1, batch_size=games, rollouts_per_example=8, learning_rate=1e-4,
                             checkpoint_every=2, seed=1)
    batches = []
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = rl.Trainer(model_path, run_dir, settings)
        run_batch = trainer.policy._run_batch

        def recording(jobs, *args):
            batches.append([(list(j.prompt_ids), j.max_new_tokens, j.temperature) for j in jobs])
            run_batch(jobs, *args)

        trainer.policy._run_batch = recording
        trainer.train_step()
    return batches


def replay(model, tokenizer, batches, group_ratio) -> tuple[float, list[list[int]]]:
    seconds, tokens = 0.0, []
    for b, batch in enumerate(batches):
        jobs = [Job(prompt_ids=p, max_new_tokens=m, temperature=t, rng=random.Random(b * 10_000 + i))
                for i, (p, m, t) in enumerate(batch)]
        start = time.perf_counter()
        generate_batch(model, jobs, tokenizer.eos_token_id, tokenizer.pad_token_id, group_ratio=group_ratio)
        seconds += time.perf_counter() - start
        tokens += [j.token_ids for j in jobs]
    return seconds, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help=f"a saved tiny model (default {DEFAULT_MODEL})")
    parser.add_argument("--games", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.model is None and not Path(DEFAULT_MODEL, "config.json").exists():
        print(f"skipped: no model in {DEFAULT_MODEL} yet (`make demo STORY=talk` trains it; or pass --model)")
        return
    args.model = args.model or DEFAULT_MODEL
    if not Path(args.model, "config.json").exists():
        sys.exit(f"no saved model in {args.model}")
    batches = record_batches(args.model, args.games)
    model, tokenizer = tinylm.load(args.model)
    sizes = [len(b) for b in batches]
    padded = sum(len(b) * max(len(p) for p, _, _ in b) for b in batches)
    real = sum(len(p) for b in batches for p, _, _ in b)
    print(f"one RL step of {args.games} games: {len(batches)} batches of {min(sizes)}-{max(sizes)} requests; "
          f"prompt tokens {real}, {padded} when each batch pads to its longest prompt")
    ways = [(f"{name}, {threads} thread{'s' if threads > 1 else ''}", ratio, threads)
            for threads in (1, 2) for name, ratio in (("one padded batch", None), ("length groups", 1.5))]
    seconds = {label: [] for label, _, _ in ways}
    outputs = {}
    previous = torch.get_num_threads()
    for _ in range(args.repeats):  # interleaved, so a slow moment of the machine hits every way
        for label, ratio, threads in ways:
            torch.set_num_threads(threads)
            took, outputs[label] = replay(model, tokenizer, batches, ratio)
            seconds[label].append(took)
    torch.set_num_threads(previous)
    first = min(seconds[ways[0][0]])
    for label, _, _ in ways:
        best = min(seconds[label])
        print(f"  {label:<30} {best:6.2f} s (best of {args.repeats})  {first / best:5.2f}x")
    same = all(outputs[label] == outputs[ways[0][0]] for label, _, _ in ways)
    print("every way generated the same tokens:", same)


if __name__ == "__main__":
    main()
