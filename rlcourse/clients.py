"""Ways to talk to a model from Python without the HTTP server, and to run verifiers' coroutines.

* :class:`InProcessClient` is a verifiers client that hands each request straight to a
  :class:`~rlcourse.policies.Policy` (a scripted stand-in or a tiny model), through the same
  validation and reply body as the course's server (:mod:`rlcourse.server`).
* :func:`run_coroutine` runs a coroutine to completion, also inside Jupyter's running event loop.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from typing import Any

import torch
import verifiers as vf
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion

from rlcourse.policies import Policy, count_tokens, default_policies
from rlcourse.server import ChatRequest, completion_body, request_rng


def run_coroutine(coro):
    """Run a coroutine to completion, also from inside Jupyter's running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}
    threads = torch.get_num_threads()  # torch's thread count is per thread: the new one gets the caller's

    def target():
        torch.set_num_threads(threads)
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


class InProcessClient(vf.OpenAIChatCompletionsClient):
    """A verifiers client that asks a policy directly, without HTTP.

    Requests and replies take the same path as through the server (validation, chat.completion body,
    verifiers' own parsing), so tests and benchmarks can run thousands of rollouts quickly and
    measure the environment alone.
    """

    _unused_openai: AsyncOpenAI | None = None

    def __init__(self, policy: Policy | str, seed: int = 0):
        if InProcessClient._unused_openai is None:  # verifiers wants one; it is never called
            InProcessClient._unused_openai = AsyncOpenAI(base_url="http://127.0.0.1:9/v1", api_key="unused")
        super().__init__(InProcessClient._unused_openai)
        self.policy = default_policies()[policy] if isinstance(policy, str) else policy
        self.rng = random.Random(seed)

    async def get_native_response(self, prompt, model, sampling_args, tools=None, **kwargs) -> ChatCompletion:
        payload = {"model": model, "messages": prompt, **{k: v for k, v in (sampling_args or {}).items() if v is not None}}
        payload.update(payload.pop("extra_body", None) or {})
        if tools:
            payload["tools"] = tools
        request = ChatRequest.model_validate(payload)
        messages = request.message_dicts()
        rng = request_rng(request.seed, json.dumps(payload, sort_keys=True, default=str), self.rng)
        reply = await self.policy.generate(messages, request.tools, rng, request)
        prompt_tokens = reply.prompt_tokens if reply.prompt_tokens is not None else sum(
            count_tokens(json.dumps(m.get("content") or "")) for m in messages)
        return ChatCompletion.model_validate(completion_body(request, reply, prompt_tokens))
