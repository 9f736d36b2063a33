"""Tiny language models in Hugging Face format: create, save, load, count, score.

The course trains its own small Llama-style transformer so the whole SFT -> RL story runs on a laptop
CPU. Everything is saved with ``save_pretrained`` and loads with ``AutoTokenizer`` /
``AutoModelForCausalLM`` (and, on a GPU, with vLLM).

Where the rest lives: the tokenizer and chat template in :mod:`rlcourse.chat_template`, batched
generation in :mod:`rlcourse.generation`, the served policy (``tiny/<name>`` on the course's server)
in :mod:`rlcourse.tiny_policy`.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM
from transformers.utils import logging as hf_logging

# Tiny models run fastest on one CPU thread: their matrices are too small to split, and with more
# threads than free cores (a server and a trainer side by side) OpenMP's waiting threads slow
# everything down several times over (measured: benchmarks/bench_generation.py). Override with
# COURSE_TORCH_THREADS.
torch.set_num_threads(int(os.environ.get("COURSE_TORCH_THREADS", "1")))
hf_logging.disable_progress_bar()  # no "Loading weights" bars for 100 KB models


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


def logprobs_of(model, prompt_ids: list[int], completion_ids: list[int], temperature: float = 1.0) -> list[float]:
    """Log-probs of ``completion_ids`` after ``prompt_ids`` from one forward pass (for checks)."""
    ids = torch.tensor([prompt_ids + completion_ids])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, len(prompt_ids) - 1 : -1].float()
    scale = temperature if temperature > 0 else 1.0
    logprobs = torch.log_softmax(logits / scale, dim=-1)
    return logprobs.gather(-1, torch.tensor(completion_ids).unsqueeze(-1)).squeeze(-1).tolist()


__all__ = ["ModelSize", "new_model", "save", "load", "torch_threads", "count_parameters", "logprobs_of"]
