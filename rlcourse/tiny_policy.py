"""A tiny model served as a policy: what answers ``tiny/<name>`` on the course's server.

:class:`TinyModelPolicy` serves a model behind :mod:`rlcourse.server` (or
:class:`rlcourse.clients.InProcessClient`): concurrent requests are batched (left padding + KV cache,
:mod:`rlcourse.generation`), with temperature, top-p, top-k, max tokens and a per-request seed, and
vLLM-style token ids and log-probs. :func:`rlcourse.policies.resolve_model_path` finds a model by id.
"""

from __future__ import annotations

import asyncio
import random
import threading
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM

import tictactoe
from rlcourse.chat_template import encode_chat
from rlcourse.generation import Job, generate_batch, reply_text
from rlcourse.policies import Policy, Reply
from rlcourse.tinylm import count_parameters, load


class TinyModelPolicy(Policy):
    """Serves a tiny model: requests that arrive together are generated together in one batch.

    ``generate`` queues the request; a single worker takes everything queued, runs
    :func:`generate_batch` in a thread (so the event loop keeps accepting requests), and answers each
    request. :meth:`load_weights` swaps in new weights between two batches (used by RL).
    """

    def __init__(self, model, tokenizer, name: str = "tiny", max_batch: int = 256, batch_window_s: float = 0.002):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.description = f"tiny language model ({count_parameters(model) / 1e6:.2f} M parameters)"
        self.max_batch = max_batch
        self.batch_window_s = batch_window_s
        self.max_positions = model.config.max_position_embeddings
        self._queue: list[tuple[Job, asyncio.Future]] = []
        self._worker: asyncio.Task | None = None
        self._lock = threading.Lock()  # held while generating or swapping weights
        self.batches_run = 0
        self.batch_sizes: list[int] = []

    @classmethod
    def from_pretrained(cls, path: str | Path, name: str | None = None, **kwargs) -> "TinyModelPolicy":
        model, tokenizer = load(path)
        return cls(model, tokenizer, name=name or str(path), **kwargs)

    def load_weights(self, source) -> None:
        """Replace the served weights by those of ``source``: a state dict, a model or a folder."""
        if isinstance(source, (str, Path)):
            source = AutoModelForCausalLM.from_pretrained(source).state_dict()
        elif hasattr(source, "state_dict"):
            source = source.state_dict()
        with self._lock:
            self.model.load_state_dict(source)

    def make_job(self, messages: list[dict], rng: random.Random, request: Any) -> Job:
        flat = [{"role": m.get("role"), "content": tictactoe.message_text(m)} for m in messages]
        prompt_ids = encode_chat(self.tokenizer, flat, add_generation_prompt=True)
        room = self.max_positions - len(prompt_ids)
        if room < 1:
            raise ValueError(f"the conversation is {len(prompt_ids)} tokens long; this model reads at most "
                             f"{self.max_positions}")
        limit = request.token_limit() if request is not None else None
        max_new = room if limit is None else min(limit, room)
        temperature = 1.0 if request is None or request.temperature is None else float(request.temperature)
        top_p = 1.0 if request is None or request.top_p is None else float(request.top_p)
        top_k = int(getattr(request, "top_k", None) or 0) if request is not None else 0
        return Job(prompt_ids=prompt_ids, max_new_tokens=max_new, temperature=temperature, top_p=top_p,
                   top_k=max(top_k, 0), rng=random.Random(rng.getrandbits(64)))

    async def generate(self, messages, tools, rng, request) -> Reply:
        job = self.make_job(messages, rng, request)
        future = asyncio.get_running_loop().create_future()
        self._queue.append((job, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        await future
        return self.reply_for(job)

    async def _drain(self) -> None:
        while self._queue:
            await self._gather()
            taken, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            jobs = [job for job, _ in taken]
            try:
                await asyncio.to_thread(self._run_batch, jobs, torch.get_num_threads())
            except Exception as exc:  # answer every waiting request instead of hanging
                for _, future in taken:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _, future in taken:
                if not future.done():
                    future.set_result(None)

    async def _gather(self) -> None:
        """Wait a moment so requests that arrive together join one batch.

        With ``batch_window_s > 0`` (HTTP) wait that long. With 0 (in-process), yield to the event loop
        until the queue stops growing: the batch then holds every request that was ready, which does not
        depend on timing, so in-process runs are repeatable.
        """
        if self.batch_window_s > 0:
            await asyncio.sleep(self.batch_window_s)
            return
        size = -1
        while size != len(self._queue):
            size = len(self._queue)
            for _ in range(3):
                await asyncio.sleep(0)

    def _run_batch(self, jobs: list[Job], threads: int = 1) -> None:
        """Generate one batch on ``threads`` torch threads.

        The batch runs in a worker thread, and torch's thread count is per thread (a worker starts with
        one), so the caller passes the count of the thread that asked: the RL trainer, alone in its
        process, generates on as many threads as it trains on (an RL step's batches: 1.4x faster on 2
        cores, benchmarks/bench_rl_generation.py), and a server beside a trainer keeps one.
        """
        torch.set_num_threads(threads)
        with self._lock:
            generate_batch(self.model, jobs, self.tokenizer.eos_token_id, self.tokenizer.pad_token_id)
        self.batches_run += 1
        self.batch_sizes.append(len(jobs))

    def reply_for(self, job: Job) -> Reply:
        ids = job.token_ids
        content = reply_text(self.tokenizer, job)
        tokens = self.tokenizer.convert_ids_to_tokens(ids)
        entries = [{"token": tok, "logprob": lp, "bytes": list(tok.encode("utf-8")), "top_logprobs": []}
                   for tok, lp in zip(tokens, job.logprobs)]
        return Reply(content=content, finish_reason=job.finish_reason, prompt_tokens=len(job.prompt_ids),
                     completion_tokens=len(ids), prompt_token_ids=list(job.prompt_ids), token_ids=list(ids),
                     logprobs=entries)


__all__ = ["TinyModelPolicy"]
