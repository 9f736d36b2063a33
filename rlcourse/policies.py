"""What the local server serves: a policy turns a chat request into one assistant reply.

A :class:`Policy` has one coroutine, :meth:`Policy.generate`. Scripted stand-ins (plain Python
functions, see :mod:`rlcourse.scripted`) are wrapped by :class:`ScriptedPolicy`; language models add
their own subclass that batches concurrent requests and fills token ids and log-probs.
"""

from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    """Approximate token count for scripted replies: words and punctuation marks."""
    return len(_TOKEN_RE.findall(text))


def truncate_to_tokens(text: str, limit: int) -> str:
    """The prefix of ``text`` holding at most ``limit`` approximate tokens."""
    for i, match in enumerate(_TOKEN_RE.finditer(text)):
        if i == limit:
            return text[: match.start()]
    return text


@dataclass
class Reply:
    """One assistant turn. ``tool_calls`` items are ``{"name": str, "arguments": str (JSON)}``."""

    content: str | None = None
    tool_calls: list[dict[str, str]] | None = None
    finish_reason: str = "stop"
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    prompt_token_ids: list[int] | None = None
    token_ids: list[int] | None = None
    logprobs: list[dict[str, Any]] | None = None  # vLLM/OpenAI "content" entries
    extras: dict[str, Any] = field(default_factory=dict)


class Policy:
    """Base class: subclasses implement :meth:`generate`."""

    description = ""

    async def generate(self, messages: list[dict], tools: list[dict] | None, rng: random.Random, request: Any) -> Reply:
        raise NotImplementedError


ScriptFn = Callable[[list[dict], list[dict] | None, random.Random], Reply]


class ScriptedPolicy(Policy):
    """A scripted stand-in: a plain function of the conversation, not a language model."""

    def __init__(self, fn: ScriptFn, description: str):
        self.fn = fn
        self.description = description

    async def generate(self, messages, tools, rng, request) -> Reply:
        reply = self.fn(messages, tools, rng)
        limit = request.token_limit() if request is not None else None
        if limit is not None and reply.content and count_tokens(reply.content) > limit:
            # a new Reply: a script may return one shared object (a constant), which must stay whole
            reply = replace(reply, content=truncate_to_tokens(reply.content, limit), finish_reason="length")
        return reply


def default_policies() -> dict[str, Policy]:
    """Every policy the server offers by default, by model id."""
    from rlcourse.scripted import SCRIPTED

    return {name: ScriptedPolicy(fn, description) for name, (fn, description) in SCRIPTED.items()}


# ---------------------------------------------------------------------------------------------
# Finding a tiny model by id (no torch here: a scripted game or a server start stays fast)
# ---------------------------------------------------------------------------------------------


def models_dir() -> Path:
    """Where ``tiny/<name>`` models live: $COURSE_MODELS_DIR, else outputs/pipeline/models in the repo."""
    configured = os.environ.get("COURSE_MODELS_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parent.parent / "outputs" / "pipeline" / "models"


def resolve_model_path(model_id: str, root: str | Path | None = None) -> Path | None:
    """The folder for ``tiny/<name>`` (under ``root``, by default :func:`models_dir`) or a path to a saved
    model; None if there is none."""
    if model_id.startswith("tiny/"):
        path = Path(root if root is not None else models_dir()) / model_id.split("/", 1)[1]
    else:
        path = Path(model_id).expanduser()
    return path if (path / "config.json").is_file() else None
