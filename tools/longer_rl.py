"""How much further more RL steps carry the talk's RL model: its last stage, continued.

Starts from the final model of ``make demo STORY=talk`` (``outputs/pipeline-talk/models/ttt-rl``, or
``--pipeline`` for another run's folder) and trains more steps with that run's last-stage settings (another
seed, so other games). Every ``--every`` steps the current model plays the pipeline's table games: greedy,
200 seeded games against the optimal and the random opponent, in process (the same games as the table).
Writes docs/runs/longer-rl.json: the settings, the per-step log and the evaluations.

    python tools/longer_rl.py --steps 90 --every 30
    python tools/longer_rl.py --steps 60 --every 30 --temperature 1.25   # -> docs/runs/longer-rl-t1.25.json
"""

import argparse
import copy
import json
import shutil
from dataclasses import asdict, replace
from pathlib import Path

import verifiers as vf

from rlcourse import rl, tinylm
from rlcourse.clients import InProcessClient
from rlcourse.evaluation import evaluate, tictactoe_summary
from rlcourse.pipeline import OPPONENTS, TRAIN_THREADS, PipelineSettings
from rlcourse.tiny_policy import TinyModelPolicy

ROOT = Path(__file__).resolve().parents[1]


def table_rows(trainer: rl.Trainer, games: int) -> dict:
    """The model's rows of the pipeline's table (greedy, the same seeded games), in process."""
    policy = TinyModelPolicy(copy.deepcopy(trainer.model), trainer.tokenizer, name="tiny/ttt", batch_window_s=0.0)
    rows = {}
    for opponent, p in OPPONENTS.items():
        env = vf.load_environment("tictactoe", num_eval_examples=games, min_random_move_prob=p, max_random_move_prob=p)
        summary = tictactoe_summary(evaluate(env, "tiny/ttt", InProcessClient(policy), num_examples=games,
                                             sampling_args={"temperature": 0.0, "max_tokens": 48},
                                             max_concurrent=256, state_columns=["outcome"], game_seed=2026))
        rows[opponent] = {key: summary[key].value for key in ("win", "draw", "loss", "invalid")}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", default=str(ROOT / "outputs" / "pipeline-talk"))
    parser.add_argument("--steps", type=int, default=90)
    parser.add_argument("--every", type=int, default=30)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--temperature", type=float, default=None,
                        help="sampling temperature (default: the last stage's; files then end in -t<T>)")
    parser.add_argument("--out", default=None, help="default docs/runs/longer-rl[-t<T>].json")
    args = parser.parse_args()
    pipeline = Path(args.pipeline).resolve()
    start = pipeline / "models" / "ttt-rl"
    if not (start / "config.json").exists():
        raise SystemExit(f"no RL model in {start}: run `make demo STORY=talk` first")
    games = PipelineSettings.talk().eval_games
    settings = replace(PipelineSettings.talk().rl_stages[-1], steps=args.steps, seed=args.seed,
                       checkpoint_every=args.every)
    if args.temperature is not None:
        settings = replace(settings, temperature=args.temperature)
    out = Path(args.out or ROOT / "docs" / "runs" /
               ("longer-rl.json" if args.temperature is None else f"longer-rl-t{args.temperature:g}.json"))
    run_dir = ROOT / "outputs" / "longer-rl"
    shutil.rmtree(run_dir, ignore_errors=True)
    trainer = rl.Trainer(start, run_dir, settings)
    evaluations = [{"step": 0, "rl_seconds": 0, **table_rows(trainer, games)}]
    print(evaluations[-1], flush=True)
    while trainer.state.step < args.steps:
        with tinylm.torch_threads(TRAIN_THREADS):  # as the pipeline trains
            trainer.run(progress=lambda row: print(rl.format_step(row), flush=True), stop_after=args.every)
        rl_seconds = sum(row["generation_s"] + row["training_s"] for row in trainer.state.log)
        evaluations.append({"step": trainer.state.step, "rl_seconds": round(rl_seconds),
                            **table_rows(trainer, games)})
        print(evaluations[-1], flush=True)
    result = {"start": str(start.relative_to(ROOT)), "settings": asdict(settings), "games": games,
              "evaluations": evaluations, "log": trainer.state.log}
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
