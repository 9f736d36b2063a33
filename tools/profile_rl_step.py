"""Where the time of one RL step goes, phase by phase.

Runs a few steps of the course's trainer from a saved SFT model and splits each step into: model
generation (the batched forward passes, ``generate_batch``), everything else while playing
(verifiers' rollout loop, the environment, request/reply objects, scoring), the optimizer step, and
the weight sync to the served model. Also counts tokens per turn and model calls per batch. Prints
shares measured side by side in one run.

    python tools/profile_rl_step.py outputs/pipeline-quick/models/ttt-sft --steps 3 --batch-size 128
"""

import argparse
import statistics
import tempfile
import time

from rlcourse import rl, tinylm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="folder of a saved tiny model (the RL start)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--temperature", type=float, default=1.0)
    args = parser.parse_args()
    settings = rl.RLSettings(steps=args.steps, batch_size=args.batch_size, rollouts_per_example=8,
                             temperature=args.temperature, learning_rate=1e-4, max_tokens=40, max_turns=6,
                             micro_batch_size=64, checkpoint_every=args.steps + 1, seed=1)
    with tempfile.TemporaryDirectory() as run_dir, tinylm.torch_threads(2):
        trainer = rl.Trainer(args.model, run_dir, settings)
        policy = trainer.policy
        generate_s = [0.0]
        prompt_tokens, reply_tokens = [], []
        run_batch = policy._run_batch

        def timed_batch(jobs, *args):
            start = time.perf_counter()
            run_batch(jobs, *args)
            generate_s[0] += time.perf_counter() - start
            prompt_tokens.extend(len(job.prompt_ids) for job in jobs)
            reply_tokens.extend(len(job.token_ids) for job in jobs)

        policy._run_batch = timed_batch
        sync = policy.load_weights
        sync_s = [0.0]

        def timed_sync(source):
            start = time.perf_counter()
            sync(source)
            sync_s[0] += time.perf_counter() - start

        policy.load_weights = timed_sync
        for _ in range(args.steps):
            generate_s[0], sync_s[0] = 0.0, 0.0
            batches_before = len(policy.batch_sizes)
            row = trainer.train_step()
            sizes = policy.batch_sizes[batches_before:]
            play = row["generation_s"]
            total = play + row["training_s"]
            print(f"step {row['step']}: {total:.1f} s = play {play:.1f} s (model generation {generate_s[0]:.1f} s, "
                  f"the rest {play - generate_s[0]:.1f} s) + training {row['training_s']:.1f} s "
                  f"(weight sync {sync_s[0]:.2f} s); {len(sizes)} generation batches of "
                  f"{min(sizes)}-{max(sizes)} requests; reward {row['reward']:.3f}; "
                  f"{row['trained_sequences']} sequences trained")
    print(f"{len(prompt_tokens)} model calls: prompt {statistics.median(prompt_tokens)} tokens (median), "
          f"reply {statistics.median(reply_tokens)} tokens (median, max {max(reply_tokens)})")


if __name__ == "__main__":
    main()
