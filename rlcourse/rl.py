"""A small, readable GRPO trainer with the CISPO objective, for the tictactoe environment on a CPU.

One training step:

1. take the next ``num_groups`` examples of the environment's train split (consecutive examples come
   from different difficulty slices, so every batch spans the range: stratified sampling);
2. play each example ``rollouts_per_example`` times through verifiers against the served model, which
   returns the token ids and log-probs of every reply;
3. score with the environment's rubric (rewards unchanged) and compute group-relative advantages,
   ``reward - mean reward of the group``;
4. one optimizer step (or ``updates_per_batch`` steps on the same batch) on the CISPO loss over the
   model's own tokens, each game weighing the same (``RLSettings.normalize``);
5. hand the new weights to the server, log, and now and then write a checkpoint atomically.

A run killed at any point resumes from its last checkpoint and continues exactly as it would have:
the examples of step ``s`` and the random streams of its rollouts depend only on ``(seed, s)``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
import verifiers as vf

from rlcourse import tiny_policy, tinylm
from rlcourse.advantages import group_advantages, groups_of
from rlcourse.clients import InProcessClient, run_coroutine

REWARD_NAMES = ("win_reward", "think_move_format", "invalid_move_made")


@dataclass
class RLSettings:
    """One RL stage. ``batch_size`` rollouts per step = ``num_groups`` examples x ``rollouts_per_example``."""

    steps: int = 100
    batch_size: int = 256
    rollouts_per_example: int = 8
    learning_rate: float = 3e-4
    temperature: float = 1.0
    max_tokens: int = 48
    clip_low: float = 0.2    # CISPO clips the importance weight to [1 - clip_low, 1 + clip_high]
    clip_high: float = 0.28
    max_grad_norm: float = 1.0
    micro_batch_size: int = 64
    min_random_move_prob: float = 0.0
    max_random_move_prob: float = 1.0
    max_turns: int = 8
    checkpoint_every: int = 10
    seed: int = 0
    # "game": every game weighs the same in the loss, however many tokens its turns hold (its tokens are
    # averaged). "token": every token weighs the same, so long games count more. A lost game with
    # invalid moves runs to the turn cap and holds several times the tokens of a quick win; with "token"
    # its negative advantage outweighs the win's positive one and pushes down the tokens both share
    # (the format): with "token" the reward of a weak SFT model fell from 0.28 to 0.0 in 15 steps
    # (measured; with "game" it stayed between 0.08 and 0.35).
    normalize: str = "game"
    # Optimizer steps on each batch. With 1 the batch is on-policy: every importance ratio is 1 and the clip
    # never acts. From the second step on, the model being trained has moved away from the one that sampled.
    updates_per_batch: int = 1
    # "cispo" (clip and detach the importance weight, every token keeps a gradient) or "ppo" (PPO's clipped
    # surrogate: a token whose ratio left the clip range in its advantage's direction gets no gradient).
    loss: str = "cispo"

    @property
    def num_groups(self) -> int:
        return self.batch_size // self.rollouts_per_example

    def check(self) -> None:
        if self.batch_size % self.rollouts_per_example:
            raise ValueError(f"batch_size ({self.batch_size}) must be a multiple of rollouts_per_example "
                             f"({self.rollouts_per_example}): each example is played as one whole group")
        if self.rollouts_per_example < 2:
            raise ValueError("a group needs at least 2 rollouts, or every advantage is 0")
        if self.normalize not in ("game", "token"):
            raise ValueError(f"normalize must be 'game' or 'token', got {self.normalize!r}")
        if self.updates_per_batch < 1:
            raise ValueError(f"updates_per_batch must be at least 1, got {self.updates_per_batch}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {self.loss!r}")
        if not 0 <= self.min_random_move_prob <= self.max_random_move_prob <= 1:
            raise ValueError("need 0 <= min_random_move_prob <= max_random_move_prob <= 1")


# ---------------------------------------------------------------------------------------------
# The two formulas of the lesson: group_advantages (imported above from rlcourse.advantages, which
# lesson 11's table policy shares) and cispo_loss
# ---------------------------------------------------------------------------------------------


def cispo_loss(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor,
               mask: torch.Tensor, clip_low: float = 0.2, clip_high: float = 0.28,
               num_tokens: int | None = None) -> torch.Tensor:
    """CISPO: ``-sum(sg(clip(ratio)) * advantage * logprob) / tokens`` over the masked tokens.

    ``ratio = exp(logprobs - old_logprobs)`` is the importance weight between the policy being trained
    and the one that sampled. CISPO clips that weight and detaches it, so every token keeps a gradient
    (PPO-style clipping would zero the gradient of tokens whose ratio left the trust region).
    ``advantages`` holds one value per sequence (shape [batch]) or per token; ``num_tokens`` normalises
    by the whole batch when the loss is accumulated over micro-batches.
    """
    ratio = torch.exp(logprobs - old_logprobs)
    weight = ratio.clamp(1.0 - clip_low, 1.0 + clip_high).detach()
    if advantages.dim() == 1:
        advantages = advantages.unsqueeze(-1)
    per_token = -weight * advantages * logprobs * mask
    denominator = num_tokens if num_tokens is not None else mask.sum().clamp(min=1)
    return per_token.sum() / denominator


def ppo_clip_loss(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor,
                  mask: torch.Tensor, clip_low: float = 0.2, clip_high: float = 0.28,
                  num_tokens: int | None = None) -> torch.Tensor:
    """PPO's clipped surrogate, for comparison: ``-sum(min(ratio * A, clip(ratio) * A)) / tokens``.

    Same arguments as :func:`cispo_loss`, and the same gradient while the ratio stays inside the clip
    range. Outside it, on the side the advantage pushes towards (ratio above ``1 + clip_high`` with
    ``A > 0``, below ``1 - clip_low`` with ``A < 0``), the clipped term is a constant: the token gets no
    gradient at all.
    """
    ratio = torch.exp(logprobs - old_logprobs)
    if advantages.dim() == 1:
        advantages = advantages.unsqueeze(-1)
    surrogate = torch.minimum(ratio * advantages, ratio.clamp(1.0 - clip_low, 1.0 + clip_high) * advantages)
    denominator = num_tokens if num_tokens is not None else mask.sum().clamp(min=1)
    return -(surrogate * mask).sum() / denominator


LOSSES = {"cispo": cispo_loss, "ppo": ppo_clip_loss}


def clip_counts(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
                clip_low: float, clip_high: float) -> dict[str, float]:
    """Over the masked tokens: how many have a ratio outside the clip range (``clipped``), how many of those
    PPO's surrogate leaves without gradient (``no_gradient_under_ppo``), and the sum of |log ratio|."""
    with torch.no_grad():
        log_ratio = logprobs - old_logprobs
        ratio = log_ratio.exp()
        if advantages.dim() == 1:
            advantages = advantages.unsqueeze(-1).expand_as(ratio)
        high, low = ratio > 1 + clip_high, ratio < 1 - clip_low
        dropped = (high & (advantages > 0)) | (low & (advantages < 0))
        return {"clipped": float(((high | low).float() * mask).sum()),
                "no_gradient_under_ppo": float((dropped.float() * mask).sum()),
                "abs_log_ratio": float((log_ratio.abs() * mask).sum())}


# ---------------------------------------------------------------------------------------------
# From verifiers trajectories to training sequences
# ---------------------------------------------------------------------------------------------


@dataclass
class Sample:
    """One training sequence: token ids, which tokens the model produced, their sampling log-probs."""

    ids: list[int]
    mask: list[int]
    old_logprobs: list[float]
    advantage: float
    game: int = 0  # which rollout (game) of the batch the sequence comes from


def samples_from_state(state: dict, advantage: float, game: int = 0) -> list[Sample]:
    """Training sequences of one rollout.

    Each model call is a trajectory step with the prompt ids, completion ids and log-probs the server
    returned. When a step's prompt starts with the previous step's prompt + completion (true unless a
    reply re-tokenised differently), the steps are merged into one sequence, which saves recomputing
    the shared prefix.
    """
    samples: list[Sample] = []
    current: Sample | None = None
    for step in state.get("trajectory", []):
        tokens = step.get("tokens")
        if not tokens or not tokens.get("completion_ids"):
            continue
        prompt, completion = list(tokens["prompt_ids"]), list(tokens["completion_ids"])
        logprobs = list(tokens["completion_logprobs"])
        if current is not None and prompt[: len(current.ids)] == current.ids:
            extra = prompt[len(current.ids):]
            current.ids += extra + completion
            current.mask += [0] * len(extra) + [1] * len(completion)
            current.old_logprobs += [0.0] * len(extra) + logprobs
        else:
            current = Sample(prompt + completion, [0] * len(prompt) + [1] * len(completion),
                             [0.0] * len(prompt) + logprobs, advantage, game)
            samples.append(current)
    return samples


def training_samples(states: list[dict], rewards: list[float], group_size: int) -> list[Sample]:
    """The sequences of every game whose group disagreed, each with its group-relative advantage.

    A group whose games all got the same reward carries no signal. Its advantages are 0 only up to
    float rounding (0.7 - mean(0.7, 0.7, 0.7) is 1.1e-16), so such groups are found by their rewards.
    """
    advantages = group_advantages(rewards, group_size)
    informative = [len(set(group)) > 1 for group in groups_of(rewards, group_size)]
    return [sample for game, (state, advantage) in enumerate(zip(states, advantages))
            if informative[game // group_size] for sample in samples_from_state(state, advantage, game)]


def loss_advantages(samples: list[Sample], normalize: str = "game") -> tuple[list[float], float]:
    """The advantage each sequence enters :func:`cispo_loss` with, and the loss's denominator.

    ``"game"``: a game's advantage is spread over its tokens (all its turns) and the loss is divided by
    the number of games, so every game counts once. ``"token"``: every token carries its game's advantage
    and the loss is divided by the number of tokens, so a long game counts more.
    """
    if normalize == "token":
        return [x.advantage for x in samples], max(1, sum(sum(x.mask) for x in samples))
    tokens: dict[int, int] = {}
    for x in samples:
        tokens[x.game] = tokens.get(x.game, 0) + sum(x.mask)
    return [x.advantage / max(1, tokens[x.game]) for x in samples], max(1, len(tokens))


def token_logprobs(model, batch: list[Sample], temperature: float, pad_id: int) -> tuple[torch.Tensor, ...]:
    """Right-padded tensors and the model's log-probs (at the sampling temperature) of each next token."""
    width = max(len(s.ids) for s in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(batch), width), dtype=torch.long)
    mask = torch.zeros((len(batch), width))
    old = torch.zeros((len(batch), width))
    for row, sample in enumerate(batch):
        n = len(sample.ids)
        ids[row, :n] = torch.tensor(sample.ids)
        attention[row, :n] = 1
        mask[row, :n] = torch.tensor(sample.mask, dtype=torch.float)
        old[row, :n] = torch.tensor(sample.old_logprobs)
    logits = model(input_ids=ids, attention_mask=attention).logits[:, :-1].float()
    logits = logits / (temperature if temperature > 0 else 1.0)
    all_logprobs = torch.log_softmax(logits, dim=-1)
    targets = ids[:, 1:]
    logprobs = all_logprobs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    entropy = -(all_logprobs.exp() * all_logprobs).sum(-1)
    return logprobs, old[:, 1:], mask[:, 1:], entropy


# ---------------------------------------------------------------------------------------------
# The trainer
# ---------------------------------------------------------------------------------------------


@dataclass
class RunState:
    step: int = 0
    log: list[dict] = field(default_factory=list)


class Trainer:
    """GRPO + CISPO on the tictactoe environment. ``run_dir`` holds checkpoints and logs."""

    def __init__(self, model_path: str | Path, run_dir: str | Path, settings: RLSettings,
                 env_args: dict | None = None, model_id: str = "tiny/ttt-rl"):
        settings.check()
        self.settings = settings
        self.run_dir = Path(run_dir)
        self.model_id = model_id
        self.checkpoint_dir = self.run_dir / "checkpoint"
        start_from = self.checkpoint_dir if (self.checkpoint_dir / "state.json").exists() else Path(model_path)
        self.model, self.tokenizer = tinylm.load(start_from)
        self.model.train()
        served, _ = tinylm.load(start_from)
        self.policy = tiny_policy.TinyModelPolicy(served, self.tokenizer, name=model_id, max_batch=settings.batch_size,
                                                  batch_window_s=0.0)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=settings.learning_rate, weight_decay=0.0,
                                           betas=(0.9, 0.99))
        self.state = RunState()
        if start_from == self.checkpoint_dir:
            self._load_checkpoint()
        args = {"num_train_examples": settings.steps * settings.num_groups, "num_groups": settings.num_groups,
                "min_random_move_prob": settings.min_random_move_prob,
                "max_random_move_prob": settings.max_random_move_prob, "max_turns": settings.max_turns,
                "num_eval_examples": 1, "seed": settings.seed, **(env_args or {})}
        self.env = vf.load_environment("tictactoe", **args)
        self.dataset = self.env.get_dataset()

    # -- checkpoints --------------------------------------------------------------------------

    def _load_checkpoint(self) -> None:
        saved = json.loads((self.checkpoint_dir / "state.json").read_text())
        defaults = asdict(RLSettings())  # a setting added since the checkpoint was written had its default then
        if {**defaults, **saved.get("settings", {})} != json.loads(json.dumps(asdict(self.settings))):
            raise ValueError(f"{self.run_dir} holds a checkpoint made with other settings; resume with the same "
                             "RLSettings, or delete the folder to start a new run")
        self.state = RunState(step=saved["step"], log=saved["log"])
        self.optimizer.load_state_dict(torch.load(self.checkpoint_dir / "optimizer.pt", weights_only=True))

    def save_checkpoint(self) -> None:
        """Model, tokenizer, optimizer and log in a temporary folder, then renamed: never half-written."""
        tmp = self.run_dir / f".checkpoint.tmp-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        self.model.save_pretrained(tmp)
        self.tokenizer.save_pretrained(tmp)
        torch.save(self.optimizer.state_dict(), tmp / "optimizer.pt")
        (tmp / "state.json").write_text(json.dumps({"step": self.state.step, "log": self.state.log,
                                                    "settings": asdict(self.settings)}))
        tinylm._replace_dir(tmp, self.checkpoint_dir)

    # -- one step -------------------------------------------------------------------------------

    def rollout_seed(self, step: int, example: int, k: int) -> int:
        return random.Random(f"rl:{self.settings.seed}:{step}:{example}:{k}").getrandbits(63)

    async def _play(self, step: int) -> list[dict]:
        s = self.settings
        first = step * s.num_groups
        rows = [self.dataset[i] for i in range(first, first + s.num_groups)]
        sampling = {"temperature": s.temperature, "max_tokens": s.max_tokens, "logprobs": True,
                    "extra_body": {"return_token_ids": True}}
        tasks = []
        for g, row in enumerate(rows):
            for k in range(s.rollouts_per_example):
                rollout_input = {"prompt": row["prompt"], "answer": row.get("answer", ""), "info": row["info"],
                                 "example_id": row["example_id"]}
                client = InProcessClient(self.policy, seed=self.rollout_seed(step, g, k))
                tasks.append(self.env.rollout(rollout_input, client, self.model_id, sampling))
        states = await asyncio.gather(*tasks)
        for g in range(s.num_groups):
            group = states[g * s.rollouts_per_example : (g + 1) * s.rollouts_per_example]
            await self.env.rubric.score_group(group)
        return states

    def train_step(self) -> dict:
        s = self.settings
        step = self.state.step
        start = time.time()
        states = run_coroutine(self._play(step))
        generation_s = time.time() - start

        rewards = [float(st.get("reward") or 0.0) for st in states]
        samples = training_samples(states, rewards, s.rollouts_per_example)

        start = time.time()
        stats = self._optimize(samples)
        training_s = time.time() - start
        self.policy.load_weights(self.model)

        self.state.step += 1
        groups = groups_of(rewards, s.rollouts_per_example)
        zero_signal = sum(len(set(group)) == 1 for group in groups) / len(groups)
        row = {"step": self.state.step, "reward": sum(rewards) / len(rewards), **self._game_metrics(states),
               "zero_signal_groups": zero_signal,
               **stats, "generation_s": round(generation_s, 3), "training_s": round(training_s, 3)}
        self.state.log.append(row)
        return row

    def _optimize(self, samples: list[Sample]) -> dict:
        """``updates_per_batch`` optimizer steps on the batch. Logged per step (``updates``), as measured just
        before that step moves the model: the share of the model's tokens whose ratio was outside the clip
        range, the share PPO's clip leaves without gradient (whichever loss is trained), and the mean
        |log ratio| to the sampling model."""
        s = self.settings
        if not samples:
            return {"trained_sequences": 0, "entropy": None, "clipped_share": 0.0, "policy_loss": 0.0,
                    "grad_norm": 0.0, "updates": []}
        self.model.train()
        total_tokens = sum(sum(x.mask) for x in samples)
        weighted, denominator = loss_advantages(samples, s.normalize)
        loss_fn = LOSSES[s.loss]
        # micro-batches of similar lengths: each pads to its longest sequence, and a few long turns
        # (after a rambling reply) would otherwise make most micro-batches several times wider
        order = sorted(range(len(samples)), key=lambda i: len(samples[i].ids))
        chunks = [order[i : i + s.micro_batch_size] for i in range(0, len(order), s.micro_batch_size)]
        updates, entropy_sum = [], 0.0
        for update in range(s.updates_per_batch):
            self.optimizer.zero_grad(set_to_none=True)
            loss_sum = 0.0
            counts = {"clipped": 0.0, "no_gradient_under_ppo": 0.0, "abs_log_ratio": 0.0}
            for chunk in chunks:
                batch = [samples[i] for i in chunk]
                logprobs, old, mask, entropy = token_logprobs(self.model, batch, s.temperature,
                                                              self.tokenizer.pad_token_id)
                advantages = torch.tensor([weighted[i] for i in chunk])
                loss = loss_fn(logprobs, old, advantages, mask, s.clip_low, s.clip_high, num_tokens=denominator)
                loss.backward()
                loss_sum += loss.item()
                for key, value in clip_counts(logprobs, old, advantages, mask, s.clip_low, s.clip_high).items():
                    counts[key] += value
                if update == 0:
                    with torch.no_grad():
                        entropy_sum += float((entropy * mask).sum())
            grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), s.max_grad_norm)
            self.optimizer.step()
            updates.append({"policy_loss": loss_sum, "grad_norm": float(grad_norm),
                            "clipped_share": counts["clipped"] / total_tokens,
                            "ppo_no_gradient_share": counts["no_gradient_under_ppo"] / total_tokens,
                            "mean_abs_log_ratio": counts["abs_log_ratio"] / total_tokens})
        self.model.eval()
        return {"trained_sequences": len(samples), "policy_loss": updates[0]["policy_loss"],
                "entropy": entropy_sum / total_tokens,
                "clipped_share": statistics.fmean(u["clipped_share"] for u in updates),
                "grad_norm": updates[0]["grad_norm"], "updates": updates}

    @staticmethod
    def _game_metrics(states: list[dict]) -> dict:
        n = len(states)
        metrics = {name: sum(float(st.get("metrics", {}).get(name, 0.0) or 0.0) for st in states) / n
                   for name in REWARD_NAMES}
        outcomes = [st.get("outcome") for st in states]
        metrics.update({
            "win": outcomes.count("win") / n, "draw": outcomes.count("draw") / n,
            "loss": sum(o not in ("win", "draw") for o in outcomes) / n,
            "games_with_invalid_moves": sum(1 for st in states if st.get("invalid_moves") or st.get("error")) / n,
        })
        return metrics

    # -- the loop -------------------------------------------------------------------------------

    def run(self, output_path: str | Path | None = None, progress: Callable[[dict], None] | None = print,
            stop_after: int | None = None) -> list[dict]:
        """Train until ``settings.steps`` (or ``stop_after`` more steps), checkpointing as it goes.

        Saves the final model to ``output_path`` (model + tokenizer, loadable by the server).
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        done_now = 0
        while self.state.step < self.settings.steps:
            if stop_after is not None and done_now >= stop_after:
                return self.state.log
            row = self.train_step()
            done_now += 1
            self._write_log()
            if progress:
                progress(row)
            if self.state.step % self.settings.checkpoint_every == 0 or self.state.step == self.settings.steps:
                self.save_checkpoint()
        if output_path is not None:
            tinylm.save(self.model, self.tokenizer, output_path)
        return self.state.log

    def _write_log(self) -> None:
        tmp = self.run_dir / "log.jsonl.tmp"
        tmp.write_text("".join(json.dumps(row) + "\n" for row in self.state.log))
        tmp.replace(self.run_dir / "log.jsonl")


def read_log(run_dir: str | Path) -> list[dict]:
    path = Path(run_dir) / "log.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def format_step(row: dict) -> str:
    return (f"step {row['step']:4d}  reward {row['reward']:.3f}  win {row['win']:.2f} draw {row['draw']:.2f} "
            f"loss {row['loss']:.2f}  invalid {row['games_with_invalid_moves']:.2f}  "
            f"entropy {row['entropy'] if row['entropy'] is None else round(row['entropy'], 3)}  "
            f"gen {row['generation_s']:.1f}s train {row['training_s']:.1f}s")


def moving_average(values: list[float], window: int) -> list[float]:
    """The mean of each value and the ``window - 1`` values before it (fewer at the start)."""
    return [statistics.fmean(values[max(0, i - window + 1): i + 1]) for i in range(len(values))]


def plot_log(log: list[dict], path: str | Path | None = None, title: str = "RL run", window: int | None = None):
    """Reward, outcomes and entropy per step. The reward also as a moving average over ``window`` steps
    (by default a tenth of the run): with small batches one step's reward is mostly noise."""
    import matplotlib
    if path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in log]
    window = window or max(1, len(log) // 10)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    rewards = [r["reward"] for r in log]
    if window > 1:
        axes[0].plot(steps, rewards, label="reward", color="black", alpha=0.35)
        axes[0].plot(steps, moving_average(rewards, window), label=f"reward, mean of {window} steps",
                     color="black", linewidth=2.5)
    else:
        axes[0].plot(steps, rewards, label="reward", color="black")
    for name in REWARD_NAMES:
        axes[0].plot(steps, [r[name] for r in log], label=name, alpha=0.7)
    axes[0].set_title("reward (total and per function)")
    axes[0].legend(fontsize=7)
    for name in ("win", "draw", "loss", "games_with_invalid_moves"):
        axes[1].plot(steps, [r[name] for r in log], label=name)
    axes[1].set_title("share of training games")
    axes[1].legend(fontsize=7)
    axes[2].plot(steps, [r["entropy"] if r["entropy"] is not None else float("nan") for r in log], label="entropy")
    axes[2].set_title("mean token entropy")
    for ax in axes:
        ax.set_xlabel("step")
    fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig

