"""`make tour`: every environment evaluated through verifiers against the local server, offline.

Tic-Tac-Toe: the three scripted players (random, the heuristic teacher, minimax) against a random and
an optimal opponent, on the same seeded games, as a table with 95% intervals and a plot. Then one
short evaluation of each other environment. ``COURSE_QUICK=1`` plays fewer games.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import verifiers as vf

from rlcourse import quick_mode
from rlcourse.evaluation import Backend, evaluate, format_table, plot_summaries, tictactoe_summary
from rlcourse.server import LocalServer

TTT_PLAYERS = ["scripted/ttt-random", "scripted/ttt-heuristic", "scripted/ttt-minimax"]
OPPONENTS = {"random opponent": 1.0, "optimal opponent": 0.0}
OTHER_ENVS = [  # env id, scripted model, examples, rollouts per example, env args
    ("reverse_text", "scripted/reverse-noisy", 5, 3, {}),
    ("double_check", "scripted/math-second-guess", 20, 3, {}),
    ("wiki_search", "scripted/tool-caller", 24, 1, {}),
    ("wiki_search", "scripted/tool-caller", 24, 1, {"variant": "budgeted"}),
]


def metric_means(rows: list[dict]) -> dict[str, float]:
    names = sorted({name for row in rows for name in row.get("metrics", {})})
    return {name: sum(row["metrics"].get(name, 0.0) for row in rows) / len(rows) for name in names}


def main(out_dir: str = "outputs/tour") -> dict:
    quick = quick_mode()
    games = 20 if quick else 100
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {"games_per_row": games, "tictactoe": {}, "other_envs": {}}
    started = time.time()
    with LocalServer() as server:
        backend = Backend(server.base_url, server.api_key_var)
        print(f"Local server on {server.base_url} (scripted stand-in policies, not language models)\n")
        summaries = {}
        for opponent, p in OPPONENTS.items():
            env = vf.load_environment("tictactoe", min_random_move_prob=p, max_random_move_prob=p,
                                      num_eval_examples=games)
            for model in TTT_PLAYERS:
                # every game draws its own seeded random stream: independent games, a repeatable table
                rows = evaluate(env, model, backend, num_examples=games, game_seed=2026)
                summaries[f"{model.split('/')[-1]} vs {opponent.split()[0]}"] = tictactoe_summary(rows)
        print(f"Tic-Tac-Toe: {games} seeded games per row, the same games for every player; % [95% CI]")
        print(format_table(summaries))
        plot_summaries(summaries, out / "tictactoe.png", title=f"Scripted players, {games} games each")
        report["tictactoe"] = {label: {k: (str(v) if k not in ("games", "reward") else v) for k, v in s.items()}
                               for label, s in summaries.items()}

        print("\nThe other environments:")
        for env_id, model, n, r, args in OTHER_ENVS:
            rows = evaluate(env_id, model, backend, num_examples=n, rollouts_per_example=r, env_args=args)
            mean_reward = sum(row["reward"] for row in rows) / len(rows)
            label = env_id + (f" {args}" if args else "")
            metrics = ", ".join(f"{k}={v:.2f}" for k, v in metric_means(rows).items())
            print(f"  {label:<36} {model:<28} {len(rows):>3} rollouts  reward {mean_reward:.3f}  ({metrics})")
            report["other_envs"][label] = {"model": model, "rollouts": len(rows), "reward": mean_reward,
                                           "metrics": metric_means(rows)}
    report["seconds"] = round(time.time() - started, 1)
    (out / "tour_results.json").write_text(json.dumps(report, indent=2))
    print(f"\nDone in {report['seconds']} s. Plot: {out / 'tictactoe.png'}; numbers: {out / 'tour_results.json'}")
    return report


if __name__ == "__main__":
    main()
