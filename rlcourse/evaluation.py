"""Run an environment against a model and summarise the results.

The backend is an OpenAI-compatible base URL plus the *name* of the environment variable that holds
the key (that is how verifiers takes credentials). :func:`backend_from_env` reads the course's one
setting, ``COURSE_BACKEND`` (``local`` by default; ``openai`` or any other base URL for remote
models), so notebooks switch backends without code changes.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
from dataclasses import dataclass
from typing import Any

import datasets
import verifiers as vf
from verifiers.types import ClientConfig
from verifiers.utils.save_utils import make_serializable

from rlcourse.clients import run_coroutine

datasets.disable_progress_bars()


@dataclass(frozen=True)
class Backend:
    """Where requests go: an OpenAI-compatible base URL and the name of the key variable."""

    base_url: str
    api_key_var: str

    def client_config(self, max_retries: int = 1, timeout: float = 600.0) -> ClientConfig:
        return ClientConfig(api_base_url=self.base_url, api_key_var=self.api_key_var,
                            max_retries=max_retries, timeout=timeout)


REMOTE_PRESETS = {
    "openai": ("https://api.openai.com/v1", "OPENAI_API_KEY"),
    "openrouter": ("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    "vllm": ("http://127.0.0.1:8000/v1", "VLLM_API_KEY"),
}


def backend_from_env(local_server=None) -> Backend:
    """The backend chosen by ``COURSE_BACKEND``.

    ``local`` (default) needs a running :class:`~rlcourse.server.LocalServer`, passed as
    ``local_server``. ``openai``, ``openrouter`` and ``vllm`` use their usual URL and key variable;
    ``COURSE_BASE_URL`` and ``COURSE_API_KEY_VAR`` override either.
    """
    name = os.environ.get("COURSE_BACKEND", "local").strip().lower()
    if name == "local":
        if local_server is None:
            raise ValueError("COURSE_BACKEND=local needs a running LocalServer (pass local_server=...)")
        return Backend(local_server.base_url, local_server.api_key_var)
    if name not in REMOTE_PRESETS and "COURSE_BASE_URL" not in os.environ:
        raise ValueError(f"unknown COURSE_BACKEND {name!r}: use local, {', '.join(REMOTE_PRESETS)}, "
                         "or set COURSE_BASE_URL and COURSE_API_KEY_VAR")
    url, key_var = REMOTE_PRESETS.get(name, ("", "COURSE_API_KEY"))
    backend = Backend(os.environ.get("COURSE_BASE_URL", url), os.environ.get("COURSE_API_KEY_VAR", key_var))
    if backend.api_key_var not in os.environ:
        raise ValueError(f"the backend {name!r} reads its key from ${backend.api_key_var}, which is not set")
    return backend


def evaluate(env: vf.Environment | str, model: str, backend: "Backend | vf.Client", num_examples: int = 20,
             rollouts_per_example: int = 1, env_args: dict | None = None,
             sampling_args: dict | None = None, max_concurrent: int = 32,
             state_columns: list[str] | None = None, progress: bool = False,
             game_seed: int | None = None) -> list[dict[str, Any]]:
    """Evaluate ``model`` on ``env`` (an Environment or an env id) and return one plain dict per rollout.

    ``backend`` is a :class:`Backend` (an OpenAI-compatible URL) or a verifiers client such as
    :class:`rlcourse.clients.InProcessClient`. The rollouts are the first ``num_examples`` examples of
    the environment's eval split, each played
    ``rollouts_per_example`` times; with a seeded environment two models meet the same games.

    Randomness of the model's replies. A ``seed`` in ``sampling_args`` is sent with every request: the
    course's server then answers each conversation in one fixed way, so the player is a deterministic
    function of the position (games that reach the same position get the same reply). That is right
    for repeatable greedy tables and a consistent teacher, wrong for measuring *sampled* play: all games
    that open on the same board would share one sampled first move. ``game_seed`` gives every game its
    own random stream instead: game k of example i sends the seed ``game_request_seed(game_seed, i, k)``
    with each of its requests. Games are then independent samples (so intervals over games are valid),
    repeatable, and paired: another model evaluated with the same ``game_seed`` (and the same model
    id on the course's server) draws the same random numbers on the same games.
    """
    if isinstance(env, str):
        env = vf.load_environment(env, **(env_args or {}))
    client = backend.client_config() if isinstance(backend, Backend) else backend
    if game_seed is not None:
        outputs = run_coroutine(_play_own_streams(env, client, model, sampling_args or {}, num_examples,
                                                  rollouts_per_example, max_concurrent, state_columns or [],
                                                  game_seed))
    else:
        silence = {} if progress else {"on_start": _ignore, "on_progress": _ignore, "on_log": _ignore}
        outputs = run_coroutine(env.evaluate(
            client=client, model=model, sampling_args=sampling_args or {},
            num_examples=num_examples, rollouts_per_example=rollouts_per_example,
            max_concurrent=max_concurrent, state_columns=state_columns or [], **silence))["outputs"]
    return [json.loads(json.dumps(dict(row), default=make_serializable)) for row in outputs]


def game_request_seed(game_seed: int, example_id: int, rollout: int) -> int:
    """The request seed of one game: fixed by the evaluation's seed, the example and the rollout index."""
    return random.Random(f"game:{game_seed}:{example_id}:{rollout}").getrandbits(63)


async def _play_own_streams(env, client, model: str, sampling_args: dict, num_examples: int,
                            rollouts_per_example: int, max_concurrent: int, state_columns: list[str],
                            game_seed: int) -> list:
    """Play and score every game with its own request seed (what :func:`evaluate` does for ``game_seed``)."""
    from verifiers.clients import resolve_client

    dataset = env.get_eval_dataset()
    rows = dataset.select(range(min(num_examples, len(dataset)) if num_examples > 0 else len(dataset))).to_list()
    client = resolve_client(client)
    limit = asyncio.Semaphore(max_concurrent if max_concurrent > 0 else len(rows) * rollouts_per_example or 1)

    async def play(row: dict, k: int):
        seeded = {**sampling_args, "seed": game_request_seed(game_seed, row["example_id"], k)}
        async with limit:
            return await env.run_rollout(row, client, model, seeded, state_columns=state_columns)

    return await asyncio.gather(*(play(row, k) for row in rows for k in range(rollouts_per_example)))


def _ignore(*args, **kwargs) -> None:
    return None


# ---------------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------------


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for a proportion (stays inside [0, 1], sensible at 0% and 100%)."""
    if n <= 0:
        raise ValueError("n must be positive")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n={n}, got {successes}")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_interval(values: list[float], z: float = 1.96) -> tuple[float, float]:
    """Normal-approximation 95% interval for the mean of values in [0, 1], clipped to [0, 1]."""
    if not values:
        raise ValueError("no values")
    mean, half = _mean_and_half_width(values, z)
    return max(0.0, mean - half), min(1.0, mean + half)


def mean_difference(before: list[float], after: list[float], z: float = 1.96) -> tuple[float, float, float]:
    """Mean of the paired differences ``after - before`` and its normal-approximation 95% interval."""
    if len(before) != len(after) or len(before) < 2:
        raise ValueError("need two lists of the same length, at least 2 pairs")
    mean, half = _mean_and_half_width([b - a for a, b in zip(before, after)], z)
    return mean, mean - half, mean + half


def _mean_and_half_width(values: list[float], z: float) -> tuple[float, float]:
    """The mean and z standard errors of it (sample variance; 0 for a single value)."""
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return mean, z * math.sqrt(var / n)


@dataclass(frozen=True)
class Rate:
    """A percentage with its 95% interval."""

    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.value:5.1f} [{self.low:4.1f}-{self.high:5.1f}]"


def rate(successes: int, n: int) -> Rate:
    low, high = wilson_interval(successes, n)
    return Rate(100 * successes / n, 100 * low, 100 * high)


TICTACTOE_COLUMNS = ("win", "draw", "loss", "format", "invalid")


def tictactoe_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Wins, draws, losses, format and games with invalid moves, as percentages with 95% intervals.

    ``format`` is the mean per-game share of well-formed turns (normal-approximation interval);
    the others are proportions of games (Wilson intervals). Unfinished games count as losses.
    """
    n = len(rows)
    if n == 0:
        raise ValueError("no rollouts to summarise")

    def metric(row, name):
        return float(row.get(name, row.get("metrics", {}).get(name, 0.0)) or 0.0)

    fmt_name = "think_move_format" if any("think_move_format" in r or "think_move_format" in r.get("metrics", {})
                                          for r in rows) else "move_format"
    formats = [metric(r, fmt_name) for r in rows]
    low, high = mean_interval(formats)
    invalid = sum(1 for r in rows if metric(r, "invalid_moves") > 0 or r.get("error"))
    return {
        "games": n,
        "win": rate(sum(metric(r, "win") > 0 for r in rows), n),
        "draw": rate(sum(metric(r, "draw") > 0 for r in rows), n),
        "loss": rate(sum(metric(r, "loss") > 0 for r in rows), n),
        "format": Rate(100 * sum(formats) / n, 100 * low, 100 * high),
        "invalid": rate(invalid, n),
        "reward": sum(float(r.get("reward") or 0.0) for r in rows) / n,
    }


def format_table(summaries: dict[str, dict[str, Any]]) -> str:
    """A plain-text table, one line per (label -> summary); values are % [95% CI]."""
    head = f"{'model / opponent':<34} {'games':>5}  " + "  ".join(
        f"{name:<19}" for name in ("win %", "draw %", "loss %", "follows format %", "invalid-move games %"))
    lines = [head, "-" * len(head)]
    for label, s in summaries.items():
        cells = "  ".join(f"{str(s[c]):<19}" for c in TICTACTOE_COLUMNS)
        lines.append(f"{label:<34} {s['games']:>5}  {cells}")
    return "\n".join(lines)


def plot_summaries(summaries: dict[str, dict[str, Any]], path=None, title: str = "Tic-Tac-Toe results"):
    """Grouped bars with 95% error bars, one group per outcome; saved to ``path`` if given."""
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    labels = list(summaries)
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / max(1, len(labels))
    for i, label in enumerate(labels):
        s = summaries[label]
        xs = [j + i * width for j in range(len(TICTACTOE_COLUMNS))]
        values = [s[c].value for c in TICTACTOE_COLUMNS]
        errs = [[max(0.0, s[c].value - s[c].low) for c in TICTACTOE_COLUMNS],
                [max(0.0, s[c].high - s[c].value) for c in TICTACTOE_COLUMNS]]
        ax.bar(xs, values, width, yerr=errs, capsize=3, label=label)
    ax.set_xticks([j + width * (len(labels) - 1) / 2 for j in range(len(TICTACTOE_COLUMNS))])
    ax.set_xticklabels(["win", "draw", "loss", "format", "invalid-move games"])
    ax.set_ylabel("% of games (95% CI)")
    ax.set_ylim(0, 105)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
