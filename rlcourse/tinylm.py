"""Tiny language models in Hugging Face format: tokenizer, chat template, model, batched generation.

The course trains its own small Llama-style transformer so the whole SFT -> RL story runs on a laptop
CPU. Everything is saved with ``save_pretrained`` and loads with ``AutoTokenizer`` /
``AutoModelForCausalLM`` (and, on a GPU, with vLLM).

* :func:`build_tokenizer` fits a byte-level BPE vocabulary to the environment's own text. Digits and
  the board marks X / O stay single tokens, so every board cell is one token.
* :data:`CHAT_TEMPLATE` renders compactly: the system prompt and the conversation from the last user
  message on (the current position), ``<|role|>content<|end|>`` per message. Assistant turns are wrapped
  in ``{% generation %}`` so TRL can train on assistant tokens only.
* :class:`TinyModelPolicy` serves a model behind :mod:`rlcourse.server`: concurrent requests are
  batched (left padding + KV cache), with temperature, top-p, top-k, max tokens and a per-request seed,
  and vLLM-style token ids and log-probs.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
from transformers.cache_utils import Cache, DynamicLayer
from transformers.utils import logging as hf_logging

from rlcourse.policies import Policy, Reply
from tictactoe import message_text

# Tiny models run fastest on one CPU thread: their matrices are too small to split, and with more
# threads than free cores (a server and a trainer side by side) OpenMP's waiting threads slow
# everything down several times over (measured: benchmarks/bench_generation.py). Override with
# COURSE_TORCH_THREADS.
torch.set_num_threads(int(os.environ.get("COURSE_TORCH_THREADS", "1")))
hf_logging.disable_progress_bar()  # no "Loading weights" bars for 100 KB models

PAD, END = "<|pad|>", "<|end|>"
ROLE_TOKENS = ["<|system|>", "<|user|>", "<|assistant|>", "<|tool|>"]
SPECIAL_TOKENS = [PAD, END, *ROLE_TOKENS]

# The chat template shows the model the CURRENT POSITION only: the system prompt, then the conversation
# from the last user message on. A Tic-Tac-Toe board holds the whole state of the game, so nothing needed
# to play is lost, and a tiny model no longer has to pick the latest board out of several stale ones
# (measured: a 0.25 M model trained on whole games copied cells from an earlier board and, after an
# "Invalid move" message, lost the format; see the README). Each message renders as
# <|role|>content<|end|>; non-string content (None, parts) renders as empty text. Assistant turns are
# wrapped in {% generation %} so TRL can train on assistant tokens only. The same template serves,
# trains (SFT, one example per turn: rlcourse.data.turn_examples) and scores (RL) every model.
CHAT_TEMPLATE = (
    "{%- set ns = namespace(start=0) -%}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'user' -%}{%- set ns.start = loop.index0 -%}{%- endif -%}"
    "{%- endfor -%}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'system' or loop.index0 >= ns.start -%}"
    "{%- set content = message['content'] if message['content'] is string else '' -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "<|assistant|>{% generation %}{{ content }}<|end|>{% endgeneration %}"
    "{%- else -%}"
    "<|{{ message['role'] }}|>{{ content }}<|end|>"
    "{%- endif -%}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}<|assistant|>{%- endif -%}"
)

# Board marks and digits that stand alone are isolated before BPE, so they never merge with the
# separators around them ("X" in "Xylophone" is not isolated).
_ISOLATE = Regex(r"(?<![A-Za-z])[XO](?![A-Za-z])|[0-9]")


def build_tokenizer(texts: list[str], vocab_size: int = 1024) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer fitted to ``texts``, with the course's special tokens and chat template.

    Byte-level means any text can be encoded and decoded exactly, even text never seen in training.
    """
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(_ISOLATE, behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    core.train_from_iterator(texts, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token=END, pad_token=PAD,
                                        additional_special_tokens=ROLE_TOKENS)
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.padding_side = "left"
    return tokenizer


def render(tokenizer, messages: list[dict], add_generation_prompt: bool = False) -> str:
    """The conversation as the text the model reads (the tokenizer's own chat template)."""
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def encode_chat(tokenizer, messages: list[dict], add_generation_prompt: bool = True) -> list[int]:
    """Token ids of the rendered conversation (no extra BOS/EOS: the template holds them all)."""
    return tokenizer(render(tokenizer, messages, add_generation_prompt), add_special_tokens=False)["input_ids"]


@dataclass
class ModelSize:
    """Shape of a tiny Llama. The default has about 0.9 M parameters."""

    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 384
    max_positions: int = 1024


def new_model(tokenizer, size: ModelSize | None = None, seed: int = 0) -> LlamaForCausalLM:
    """A freshly initialised (untrained) tiny Llama for ``tokenizer``."""
    size = size or ModelSize()
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=size.hidden_size, intermediate_size=size.intermediate_size,
        num_hidden_layers=size.num_layers, num_attention_heads=size.num_heads,
        num_key_value_heads=size.num_heads, max_position_embeddings=size.max_positions,
        tie_word_embeddings=True, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def save(model, tokenizer, path: str | Path) -> Path:
    """Write model and tokenizer to ``path`` atomically (a temporary folder renamed at the end)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    if tmp.exists():
        import shutil
        shutil.rmtree(tmp)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    _replace_dir(tmp, path)
    return path


def _replace_dir(new: Path, target: Path) -> None:
    import shutil
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        os.replace(target, old)
    os.replace(new, target)
    if old.exists():
        shutil.rmtree(old)


def load(path: str | Path, dtype=torch.float32):
    """(model, tokenizer) from a folder written by :func:`save` (or any small HF causal LM)."""
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    model.eval()
    return model, tokenizer


@contextmanager
def torch_threads(n: int):
    """Use ``n`` torch threads inside the block (training alone on a machine is faster with all cores:
    measured 1.5x for SFT with 2 threads on 2 cores), then go back to the previous number."""
    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, n))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------------------------------
# Batched generation
# ---------------------------------------------------------------------------------------------


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


def _new_cache(model, capacity: int) -> Cache:
    return Cache(layers=[_PreallocatedLayer(capacity) for _ in range(model.config.num_hidden_layers)])


@torch.no_grad()
def generate_batch(model, jobs: list[Job], eos_id: int, pad_id: int) -> list[Job]:
    """Generate for all ``jobs`` at once: left-padded prompts, one KV cache, per-row sampling settings.

    Each row samples from its own random stream (``job.rng``), so a request's reply depends only on
    its seed and prompt, not on which other requests share its batch.
    """
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
    limits = [j.max_new_tokens for j in jobs]
    active = [limit > 0 for limit in limits]
    cache = _new_cache(model, width + max(limits, default=0) + 1)
    out = model(input_ids=input_ids, attention_mask=mask, position_ids=positions, cache=cache, use_cache=True)
    next_pos = positions[:, -1] + 1
    for _ in range(max(limits, default=0)):
        if not any(active):
            break
        logprobs, probs = sampling_distribution(out.logits[:, -1, :], temperature, top_p, top_k)
        uniforms = torch.tensor([j.rng.random() for j in jobs], dtype=torch.float64)
        cumulative = probs.double().cumsum(-1)
        sampled = torch.searchsorted(cumulative, (uniforms * cumulative[:, -1]).unsqueeze(-1)).squeeze(-1)
        sampled = sampled.clamp(max=probs.shape[-1] - 1)
        chosen = torch.where(greedy, logprobs.argmax(-1), sampled)
        chosen_logprobs = logprobs.gather(-1, chosen.unsqueeze(-1)).squeeze(-1)
        feed = torch.full((batch,), pad_id, dtype=torch.long)
        for row, job in enumerate(jobs):
            if not active[row]:
                continue
            token = int(chosen[row])
            job.token_ids.append(token)
            job.logprobs.append(float(chosen_logprobs[row]))
            feed[row] = token
            if token == eos_id:
                job.finish_reason = "stop"
                active[row] = False
            elif len(job.token_ids) >= limits[row]:
                active[row] = False
        if not any(active):
            break
        mask = torch.cat([mask, torch.tensor(active, dtype=torch.long).unsqueeze(-1)], dim=-1)
        out = model(input_ids=feed.unsqueeze(-1), attention_mask=mask, position_ids=next_pos.unsqueeze(-1),
                    cache=cache, use_cache=True)
        next_pos = next_pos + 1
    return jobs


def reply_text(tokenizer, job: Job) -> str:
    """The reply a finished job holds, as text: its tokens decoded, without the closing end token."""
    ids = job.token_ids[:-1] if job.finish_reason == "stop" else job.token_ids
    return tokenizer.decode(ids, skip_special_tokens=False)


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
        flat = [{"role": m.get("role"), "content": message_text(m)} for m in messages]
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
                await asyncio.to_thread(self._run_batch, jobs)
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

    def _run_batch(self, jobs: list[Job]) -> None:
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


# ---------------------------------------------------------------------------------------------
# Finding models by id
# ---------------------------------------------------------------------------------------------


def models_dir() -> Path:
    """Where ``tiny/<name>`` models live: $COURSE_MODELS_DIR, else outputs/pipeline/models in the repo."""
    configured = os.environ.get("COURSE_MODELS_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parent.parent / "outputs" / "pipeline" / "models"


def resolve_model_path(model_id: str) -> Path | None:
    """The folder for ``tiny/<name>`` or a path to a saved model; None if there is none."""
    if model_id.startswith("tiny/"):
        path = models_dir() / model_id.split("/", 1)[1]
    else:
        path = Path(model_id).expanduser()
    return path if (path / "config.json").is_file() else None


def logprobs_of(model, prompt_ids: list[int], completion_ids: list[int], temperature: float = 1.0) -> list[float]:
    """Log-probs of ``completion_ids`` after ``prompt_ids`` from one forward pass (for checks)."""
    ids = torch.tensor([prompt_ids + completion_ids])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, len(prompt_ids) - 1 : -1].float()
    scale = temperature if temperature > 0 else 1.0
    logprobs = torch.log_softmax(logits / scale, dim=-1)
    return logprobs.gather(-1, torch.tensor(completion_ids).unsqueeze(-1)).squeeze(-1).tolist()


__all__ = ["build_tokenizer", "render", "encode_chat", "new_model", "save", "load", "ModelSize",
           "TinyModelPolicy", "generate_batch", "Job", "reply_text", "models_dir", "resolve_model_path", "logprobs_of",
           "CHAT_TEMPLATE", "SPECIAL_TOKENS", "count_parameters"]
