"""Batched generation for the tiny models: many conversations at once, each with its own settings.

:func:`generate_batch` runs a batch of :class:`Job` (in groups of similar prompt length: left-padded
prompts, one KV cache written in place, per-row temperature / top-p / top-k and random stream, finished
rows leaving the batch) and fills each job's token ids and log-probs; :func:`reply_text` turns a
finished job into the reply text. The server's policy
(:mod:`rlcourse.tiny_policy`), the audit and the play module all generate through here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import torch
from transformers.cache_utils import Cache, DynamicLayer

import rlcourse.tinylm  # noqa: F401  (one torch thread for tiny models: see there)


@dataclass
class Job:
    """One generation request inside a batch."""

    prompt_ids: list[int]
    max_new_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    rng: random.Random = field(default_factory=random.Random)
    # filled by generate_batch
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    finish_reason: str = "length"


def sampling_distribution(logits: torch.Tensor, temperature: torch.Tensor, top_p: torch.Tensor,
                          top_k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(log-probs at each row's temperature, sampling probabilities after top-k / top-p).

    Rows with temperature 0 are greedy: their log-probs are those of the raw logits.
    """
    scale = torch.where(temperature > 0, temperature, torch.ones_like(temperature)).unsqueeze(-1)
    logprobs = torch.log_softmax(logits.float() / scale, dim=-1)
    probs = logprobs.exp()
    if not bool((top_k > 0).any()) and not bool((top_p < 1).any()):
        return logprobs, probs  # nothing to filter: skip the sort (12% of generation time at batch 256)
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    ranks = torch.arange(probs.shape[-1]).unsqueeze(0)
    k = torch.where(top_k > 0, top_k, torch.full_like(top_k, probs.shape[-1])).unsqueeze(-1)
    before = sorted_probs.cumsum(-1) - sorted_probs  # mass of the tokens ranked above
    keep_sorted = (ranks < k) & ((before < top_p.unsqueeze(-1)) | (ranks == 0))
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
    filtered = torch.where(keep, probs, torch.zeros_like(probs))
    return logprobs, filtered / filtered.sum(-1, keepdim=True)


class _PreallocatedLayer(DynamicLayer):
    """A KV-cache layer that writes into tensors allocated once for the whole generation.

    transformers' DynamicLayer concatenates a new tensor at every token, which copies the whole cache
    each step: for a batch of 256 games that copy was 70% of generation time (measured with py-spy).
    Here each step writes one column in place and the layer exposes a view of the filled part.
    """

    def __init__(self, capacity: int):
        super().__init__()
        self.capacity = capacity

    def update(self, key_states, value_states, *args, **kwargs):
        if not self.is_initialized:
            self.device, self.is_initialized = key_states.device, True
            batch, heads, _, dim = key_states.shape
            self._k = key_states.new_zeros((batch, heads, self.capacity, dim))
            self._v = value_states.new_zeros((batch, heads, self.capacity, value_states.shape[-1]))
            self._length = 0
        n = key_states.shape[-2]
        self._k[:, :, self._length : self._length + n] = key_states
        self._v[:, :, self._length : self._length + n] = value_states
        self._length += n
        self.keys, self.values = self._k[:, :, : self._length], self._v[:, :, : self._length]
        return self.keys, self.values

    def keep_rows(self, index: torch.Tensor) -> None:
        """Keep only the batch rows in ``index`` (finished requests leave the batch)."""
        self._k, self._v = self._k[index], self._v[index]
        self.keys, self.values = self._k[:, :, : self._length], self._v[:, :, : self._length]


def _new_cache(model, capacity: int) -> Cache:
    return Cache(layers=[_PreallocatedLayer(capacity) for _ in range(model.config.num_hidden_layers)])


def length_groups(jobs: list[Job], ratio: float = 1.5) -> list[list[Job]]:
    """``jobs`` split into groups of similar prompt length (each group's longest prompt is at most
    ``ratio`` times its shortest), so a few long prompts do not make every row pad to their length.

    In an RL batch most prompts are about 30 tokens and a few are 90-124; padded as one batch, one RL
    step's prompts took 2.6 times their real length (measured: benchmarks/bench_rl_generation.py).
    """
    groups: list[list[Job]] = []
    for job in sorted(jobs, key=lambda j: len(j.prompt_ids)):
        if groups and len(job.prompt_ids) <= ratio * len(groups[-1][0].prompt_ids):
            groups[-1].append(job)
        else:
            groups.append([job])
    return groups


@torch.no_grad()
def generate_batch(model, jobs: list[Job], eos_id: int, pad_id: int, group_ratio: float | None = 1.5) -> list[Job]:
    """Generate for all ``jobs``: one batched generation per group of similar prompt lengths
    (:func:`length_groups` with ``group_ratio``; ``None``: all jobs padded as one batch).

    Each row samples from its own random stream (``job.rng``), so a request's reply depends only on
    its seed and prompt, not on which other requests share its batch.
    """
    for group in length_groups(jobs, group_ratio) if group_ratio else [jobs]:
        _generate_group(model, group, eos_id, pad_id)
    return jobs


def _generate_group(model, jobs: list[Job], eos_id: int, pad_id: int) -> None:
    """Left-padded prompts, one KV cache written in place, per-row sampling settings; rows leave the
    batch when they finish."""
    batch = len(jobs)
    width = max(len(j.prompt_ids) for j in jobs)
    input_ids = torch.full((batch, width), pad_id, dtype=torch.long)
    mask = torch.zeros((batch, width), dtype=torch.long)
    for row, job in enumerate(jobs):
        n = len(job.prompt_ids)
        input_ids[row, width - n:] = torch.tensor(job.prompt_ids, dtype=torch.long)
        mask[row, width - n:] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    temperature = torch.tensor([j.temperature for j in jobs], dtype=torch.float32)
    top_p = torch.tensor([j.top_p for j in jobs], dtype=torch.float32)
    top_k = torch.tensor([j.top_k for j in jobs], dtype=torch.long)
    greedy = temperature <= 0
    limit = max((j.max_new_tokens for j in jobs), default=0)
    cache = _new_cache(model, width + limit + 1)
    out = model(input_ids=input_ids, attention_mask=mask, position_ids=positions, cache=cache, use_cache=True)
    logits, next_pos = out.logits[:, -1, :], positions[:, -1] + 1
    live = jobs  # the jobs still generating, in the order of the cache's rows
    keep = [row for row, job in enumerate(jobs) if job.max_new_tokens > 0]
    while keep:
        if len(keep) < len(live):  # drop finished rows: the next steps compute only the live ones
            index = torch.tensor(keep)
            logits, mask, next_pos = logits[index], mask[index], next_pos[index]
            temperature, top_p, top_k, greedy = temperature[index], top_p[index], top_k[index], greedy[index]
            for layer in cache.layers:
                layer.keep_rows(index)
            live = [live[row] for row in keep]
        logprobs, probs = sampling_distribution(logits, temperature, top_p, top_k)
        uniforms = torch.tensor([j.rng.random() for j in live], dtype=torch.float64)
        cumulative = probs.double().cumsum(-1)
        sampled = torch.searchsorted(cumulative, (uniforms * cumulative[:, -1]).unsqueeze(-1)).squeeze(-1)
        sampled = sampled.clamp(max=probs.shape[-1] - 1)
        chosen = torch.where(greedy, logprobs.argmax(-1), sampled)
        chosen_logprobs = logprobs.gather(-1, chosen.unsqueeze(-1)).squeeze(-1)
        keep = []
        for row, (job, token, logprob) in enumerate(zip(live, chosen.tolist(), chosen_logprobs.tolist())):
            job.token_ids.append(token)
            job.logprobs.append(logprob)
            if token == eos_id:
                job.finish_reason = "stop"
            elif len(job.token_ids) < job.max_new_tokens:
                keep.append(row)
        if not keep:
            break
        mask = torch.cat([mask, torch.ones((len(live), 1), dtype=torch.long)], dim=-1)
        out = model(input_ids=chosen.unsqueeze(-1), attention_mask=mask, position_ids=next_pos.unsqueeze(-1),
                    cache=cache, use_cache=True)
        logits, next_pos = out.logits[:, -1, :], next_pos + 1


def reply_text(tokenizer, job: Job) -> str:
    """The reply a finished job holds, as text: its tokens decoded, without the closing end token."""
    ids = job.token_ids[:-1] if job.finish_reason == "stop" else job.token_ids
    return tokenizer.decode(ids, skip_special_tokens=False)


__all__ = ["Job", "sampling_distribution", "length_groups", "generate_batch", "reply_text"]
