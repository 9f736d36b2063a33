"""Does quick mode's RL stage raise the sampled reward from any quick SFT model? (README, quick mode)

Quick SFT lands on rather different models on different machines; SFT seeds stand in for machines.
For each seed: the quick SFT model, then each RL variant from it, then the paired comparison of
sampled rewards (``Pipeline.compare_sampled``). Prints one JSON line per (seed, variant).

    python tools/quick_rl_across_sft_seeds.py --seeds 0,1,2 --variants '{"quick": {}, "8 groups": {"batch_size": 64}}'

About 2-3 minutes per SFT model and per variant on a 2-core machine.
"""

import argparse
import copy
import json
import shutil
from dataclasses import replace
from pathlib import Path

from rlcourse.pipeline import Pipeline, PipelineSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2", help="SFT seeds, comma-separated")
    parser.add_argument("--variants", default='{"quick": {}}', help="JSON: name -> RLSettings fields to change")
    parser.add_argument("--out", default="outputs/quick-rl-seeds")
    args = parser.parse_args()
    for seed in [int(x) for x in args.seeds.split(",")]:
        settings = PipelineSettings.quick()
        settings.sft = replace(settings.sft, seed=seed)
        sft_run = Pipeline(Path(args.out) / f"sft{seed}", settings, log=lambda *_: None)
        conversations = sft_run.make_data()
        sft_run.run_sft(sft_run.make_base(conversations), conversations)
        for name, changes in json.loads(args.variants).items():
            variant = copy.deepcopy(settings)
            variant.rl_stages = [replace(stage, **changes) for stage in settings.rl_stages]
            folder = Path(args.out) / f"sft{seed}-{name.replace(' ', '_')}"
            shutil.rmtree(folder, ignore_errors=True)
            shutil.copytree(sft_run.models / "ttt-sft", folder / "models" / "ttt-sft")
            run = Pipeline(folder, variant, log=lambda *_: None)
            log = run.run_rl(run.models / "ttt-sft")
            result = run.compare_sampled()
            print(json.dumps({"sft_seed": seed, "variant": name, "sft": round(result["tiny/ttt-sft"], 3),
                              "rl": round(result["tiny/ttt-rl"], 3), "gain": round(result["gain"], 3),
                              "ci95": [round(result["low"], 3), round(result["high"], 3)],
                              "training_reward": [round(row["reward"], 2) for row in log]}), flush=True)


if __name__ == "__main__":
    main()
