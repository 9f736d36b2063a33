"""RL runs of the real tiny language model for lesson 11's experiments, saved to ``docs/runs/``.

Every run starts from the SFT model of ``make demo STORY=talk`` (made by the pipeline if it is missing)
with lesson 09's stage-1 settings (64 games per step, learning rate 1e-4, seed 1) and changes one thing:

    python tools/real_model_runs.py temperature --temperatures 1.0,1.5 --steps 30
        one run per sampling temperature -> docs/runs/temperature-<T>.json
    python tools/real_model_runs.py same-batch --updates 16
        one batch of games, then that many optimizer steps on it with each loss (CISPO, PPO's clip),
        logged step by step -> docs/runs/same-batch.json
    python tools/real_model_runs.py updates --updates 4 --losses cispo,ppo --steps 30
        whole runs with several optimizer steps per batch -> docs/runs/updates-<N>-<loss>.json

``--seed 2`` runs the same with another seed (other games; files ending in ``-seed2``); ``--sft-steps 300``
starts from an SFT model trained for 300 steps instead of the talk's 600 (files ending in ``-sft300``).
``python tools/real_model_runs.py start`` evaluates the SFT model itself -> docs/runs/start-model.json.
Rebuilding the SFT model gives a slightly different one (CPU training is not bit-reproducible), so every
run file written by this version names the build it started from (a hash of its weights); compare runs
that started from the same one.

A whole run's file holds the settings, the per-step log and a greedy evaluation of the final model on 100
seeded games against the optimal opponent. A 30-step run at temperature 1.0 took 3-5 minutes on a 2-core
machine with one update per batch (about 8 at 1.5), and about 4 s more per step for each extra update.
Lesson 11 reads the files: the runs are too slow to repeat in a lesson.
"""

import argparse
import hashlib
import json
import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

import tictactoe
from rlcourse import rl, tiny_policy
from rlcourse.clients import InProcessClient, run_coroutine
from rlcourse.evaluation import evaluate, tictactoe_summary
from rlcourse.pipeline import Pipeline, PipelineSettings, default_out_dir

ROOT = Path(__file__).resolve().parents[1]
WORK_DIR = ROOT / "outputs" / "real-model-runs"
STAGE_1 = rl.RLSettings(steps=30, batch_size=64, rollouts_per_example=8, learning_rate=1e-4, temperature=1.0,
                        max_tokens=48, max_turns=6, min_random_move_prob=0.0, max_random_move_prob=1.0,
                        checkpoint_every=10, micro_batch_size=64, seed=1)


def talk_sft_model(sft_steps: int | None = None) -> Path:
    """The SFT model of ``make demo STORY=talk``, or one trained for ``sft_steps`` steps instead (its own folder)."""
    settings = PipelineSettings.talk()
    out = ROOT / default_out_dir("talk")
    if sft_steps is not None:
        settings.sft = replace(settings.sft, max_steps=sft_steps)
        out = out.with_name(f"{out.name}-sft{sft_steps}")
    pipeline = Pipeline(out, settings)
    conversations = pipeline.make_data()
    pipeline.run_sft(pipeline.make_base(conversations), conversations)
    return pipeline.models / "ttt-sft"


def greedy_vs_optimal(path: Path, games: int = 100) -> dict:
    policy = tiny_policy.TinyModelPolicy.from_pretrained(path, name="model", batch_window_s=0.0)
    env = tictactoe.load_environment(num_eval_examples=games, min_random_move_prob=0.0, max_random_move_prob=0.0)
    rows = evaluate(env, "model", InProcessClient(policy, seed=2026), num_examples=games, max_concurrent=256,
                    sampling_args={"temperature": 0.0, "max_tokens": 48}, state_columns=["outcome"])
    summary = tictactoe_summary(rows)
    return {"games": len(rows), **{key: summary[key].value for key in ("draw", "loss", "invalid", "format")}}


def weights_sha256(path: Path) -> str:
    """Which build of a model a run started from: SFT on the CPU is not bit-reproducible between builds."""
    return hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()[:16]


def start_model(start: Path, path: Path) -> None:
    write(path, {"start": str(start.relative_to(ROOT)), "weights_sha256": weights_sha256(start),
                 "greedy_vs_optimal": greedy_vs_optimal(start)})


def whole_run(start: Path, settings: rl.RLSettings, name: str, out: Path) -> None:
    run_dir = WORK_DIR / name
    shutil.rmtree(run_dir, ignore_errors=True)
    started = time.time()
    log = rl.Trainer(start, run_dir, settings).run(run_dir / "final",
                                                   progress=lambda row: print(rl.format_step(row), flush=True))
    result = {"start": str(start.relative_to(ROOT)), "start_weights_sha256": weights_sha256(start),
              "settings": asdict(settings),
              "seconds": round(time.time() - started), "greedy_vs_optimal": greedy_vs_optimal(run_dir / "final"),
              "log": log}
    write(out / f"{name}.json", result)
    print(f"{name}: {result['greedy_vs_optimal']}; {result['seconds']} s", flush=True)


def logprob_change(model, samples: list[rl.Sample], settings: rl.RLSettings, pad_id: int) -> dict:
    """Mean change of the model's token log-probs since sampling, over the games with a positive and with a
    negative advantage."""
    sums = {"positive": [0.0, 0], "negative": [0.0, 0]}
    with torch.no_grad():
        for start in range(0, len(samples), settings.micro_batch_size):
            batch = samples[start : start + settings.micro_batch_size]
            logprobs, old, mask, _ = rl.token_logprobs(model, batch, settings.temperature, pad_id)
            for row, sample in enumerate(batch):
                key = "positive" if sample.advantage > 0 else "negative"
                sums[key][0] += float(((logprobs[row] - old[row]) * mask[row]).sum())
                sums[key][1] += int(mask[row].sum())
    return {key: total / max(1, count) for key, (total, count) in sums.items()}


def same_batch(start: Path, settings: rl.RLSettings, updates: int, path: Path) -> None:
    """One batch of games sampled from ``start``; then ``updates`` optimizer steps on it with each loss."""
    sampler = rl.Trainer(start, WORK_DIR / "same-batch-sampler", settings)
    states = run_coroutine(sampler._play(0))
    rewards = [float(state.get("reward") or 0.0) for state in states]
    samples = rl.training_samples(states, rewards, settings.rollouts_per_example)
    result = {"start": str(start.relative_to(ROOT)), "start_weights_sha256": weights_sha256(start),
              "settings": asdict(settings), "updates": updates,
              "games": len(states), "trained_games": len({x.game for x in samples}),
              "tokens": sum(sum(x.mask) for x in samples), "losses": {}}
    for loss in ("cispo", "ppo"):
        trainer = rl.Trainer(start, WORK_DIR / f"same-batch-{loss}", replace(settings, loss=loss,
                                                                              updates_per_batch=updates))
        stats = trainer._optimize(samples)
        change = logprob_change(trainer.model, samples, settings, trainer.tokenizer.pad_token_id)
        result["losses"][loss] = {"updates": stats["updates"], "logprob_change_after": change}
        last = stats["updates"][-1]
        print(f"{loss}: at step {updates} clipped {last['clipped_share']:.3f}, PPO no-gradient "
              f"{last['ppo_no_gradient_share']:.3f}, |log ratio| {last['mean_abs_log_ratio']:.3f}; "
              f"log-prob change {change}", flush=True)
    write(path, result)


def write(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {path.relative_to(ROOT)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", choices=("start", "temperature", "same-batch", "updates"))
    parser.add_argument("--temperatures", default="1.0,1.5")
    parser.add_argument("--updates", type=int, default=4, help="optimizer steps per batch")
    parser.add_argument("--losses", default="cispo,ppo")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1, help="the run's seed (files of seeds other than 1 end in -seed<N>)")
    parser.add_argument("--sft-steps", type=int, default=None,
                        help="start from an SFT model trained for this many steps (files end in -sft<N>)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "runs"))
    args = parser.parse_args()
    out = Path(args.out)
    stage_1 = replace(STAGE_1, steps=args.steps, seed=args.seed)
    suffix = ("" if args.seed == 1 else f"-seed{args.seed}") + ("" if args.sft_steps is None else f"-sft{args.sft_steps}")
    start = talk_sft_model(args.sft_steps)
    if args.experiment == "start":
        start_model(start, out / f"start-model{suffix}.json")
    elif args.experiment == "temperature":
        for temperature in [float(t) for t in args.temperatures.split(",")]:
            whole_run(start, replace(stage_1, temperature=temperature), f"temperature-{temperature:g}{suffix}", out)
    elif args.experiment == "same-batch":
        same_batch(start, replace(stage_1, steps=1), args.updates, out / f"same-batch{suffix}.json")
    else:
        for loss in args.losses.split(","):
            whole_run(start, replace(stage_1, updates_per_batch=args.updates, loss=loss),
                      f"updates-{args.updates}-{loss}{suffix}", out)


if __name__ == "__main__":
    main()
