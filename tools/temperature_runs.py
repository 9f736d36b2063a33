"""RL at two sampling temperatures from the same warm-up, for lesson 11's experiment on the real tiny model.

Starts from the SFT model of ``make demo STORY=talk`` (made by the pipeline if it is missing), runs
lesson 09's stage-1 settings at each temperature with the same seed, evaluates each final model greedily
on 100 seeded games against the optimal opponent, and writes ``docs/runs/temperature-<T>.json``: the
settings, the per-step log and the evaluation. Lesson 11 reads those files (a run takes minutes, too
slow to repeat in the lesson).

    python tools/temperature_runs.py --temperatures 1.0,1.5 --steps 30

About 4-8 minutes per temperature on a 2-core machine (hotter runs write longer, broken replies).
"""

import argparse
import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import tictactoe
from rlcourse import rl, tiny_policy
from rlcourse.clients import InProcessClient
from rlcourse.evaluation import evaluate, tictactoe_summary
from rlcourse.pipeline import Pipeline, PipelineSettings, default_out_dir

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--temperatures", default="1.0,1.5")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--out", default=str(ROOT / "docs" / "runs"))
    args = parser.parse_args()
    pipeline = Pipeline(ROOT / default_out_dir("talk"), PipelineSettings.talk())
    conversations = pipeline.make_data()
    pipeline.run_sft(pipeline.make_base(conversations), conversations)
    start = pipeline.models / "ttt-sft"
    for temperature in [float(t) for t in args.temperatures.split(",")]:
        settings = rl.RLSettings(steps=args.steps, batch_size=64, rollouts_per_example=8, learning_rate=1e-4,
                                 temperature=temperature, max_tokens=48, max_turns=6, min_random_move_prob=0.0,
                                 max_random_move_prob=1.0, checkpoint_every=10, micro_batch_size=64, seed=1)
        run_dir = ROOT / "outputs" / "temperature-runs" / f"t{temperature:g}"
        shutil.rmtree(run_dir, ignore_errors=True)
        started = time.time()
        log = rl.Trainer(start, run_dir, settings).run(run_dir / "final",
                                                       progress=lambda row: print(rl.format_step(row), flush=True))
        policy = tiny_policy.TinyModelPolicy.from_pretrained(run_dir / "final", name="model", batch_window_s=0.0)
        env = tictactoe.load_environment(num_eval_examples=100, min_random_move_prob=0.0, max_random_move_prob=0.0)
        rows = evaluate(env, "model", InProcessClient(policy, seed=2026), num_examples=100, max_concurrent=256,
                        sampling_args={"temperature": 0.0, "max_tokens": 48}, state_columns=["outcome"])
        summary = tictactoe_summary(rows)
        result = {"start": str(start.relative_to(ROOT)), "settings": asdict(settings), "seconds": round(time.time() - started),
                  "greedy_vs_optimal": {"games": len(rows), "draw": summary["draw"].value, "loss": summary["loss"].value,
                                        "invalid": summary["invalid"].value, "format": summary["format"].value},
                  "log": log}
        path = Path(args.out) / f"temperature-{temperature:g}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=1) + "\n")
        print(f"T={temperature}: {result['greedy_vs_optimal']}; {result['seconds']} s -> {path}", flush=True)


if __name__ == "__main__":
    main()
