"""A local OpenAI-compatible server for the course's policies.

It answers ``GET /v1/models`` and ``POST /v1/chat/completions`` on 127.0.0.1 and routes each request
to a :class:`~rlcourse.policies.Policy` by model id (``scripted/...`` stand-ins now, tiny language
models later). Replies are complete ``chat.completion`` objects, as verifiers expects.

Start it from Python (a context manager that runs it in a child process, so a notebook kernel stays
responsive and a crash in the server cannot take the kernel with it)::

    with LocalServer() as server:
        print(server.base_url)

or from a shell: ``python -m rlcourse.server --port 8000``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Literal

import uvicorn
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from rlcourse.policies import Policy, Reply, count_tokens, default_policies, resolve_model_path

MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_TOKENS_LIMIT = 131072
LOCAL_API_KEY_VAR = "COURSE_API_KEY"  # verifiers wants the *name* of a key variable; any value works


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class ChatRequest(BaseModel):
    """The fields the server reads; unknown fields (top_k, min_p, ...) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[ChatMessageIn] = Field(min_length=1)
    tools: list[dict[str, Any]] | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=5.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS_LIMIT)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS_LIMIT)
    n: int = Field(default=1, ge=1, le=1)
    top_k: int | None = Field(default=None, ge=-1)
    seed: int | None = None
    stream: bool = False
    logprobs: bool = False
    return_token_ids: bool = False

    @field_validator("stream")
    @classmethod
    def no_streaming(cls, value: bool) -> bool:
        if value:
            raise ValueError("streaming is not supported by the course server; send stream=false")
        return value

    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def message_dicts(self) -> list[dict[str, Any]]:
        return [m.model_dump(exclude_none=True) for m in self.messages]


def error_response(status: int, message: str, param: str | None = None, kind: str = "invalid_request_error") -> JSONResponse:
    """An OpenAI-style error body."""
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": status}}, status_code=status)


def completion_body(request: ChatRequest, reply: Reply, prompt_tokens: int) -> dict[str, Any]:
    """A full chat.completion object for one reply."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    finish_reason = reply.finish_reason
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
             "function": {"name": call["name"], "arguments": call["arguments"]}}
            for call in reply.tool_calls
        ]
        finish_reason = "tool_calls"
    completion_tokens = reply.completion_tokens if reply.completion_tokens is not None else count_tokens(reply.content or "")
    choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}
    body: dict[str, Any] = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model,
        "choices": [choice],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }
    if request.return_token_ids and reply.prompt_token_ids is not None:
        body["prompt_token_ids"] = reply.prompt_token_ids
        choice["token_ids"] = reply.token_ids
    if request.logprobs and reply.logprobs is not None:
        choice["logprobs"] = {"content": reply.logprobs}
    return body


def request_rng(seed: int | None, body: str, shared: random.Random) -> random.Random:
    """A request with a seed gets its own random source, derived from the seed and the request itself, so
    it is answered the same way however many requests run at once; one without a seed uses ``shared``."""
    return random.Random(f"{seed}:{body}") if seed is not None else shared


def create_app(policies: dict[str, Policy] | None = None, seed: int = 0, models_dir: str | Path | None = None) -> Starlette:
    """The ASGI app serving ``policies`` (the scripted stand-ins by default) and the tiny models found
    as ``tiny/<name>`` under ``models_dir`` (by default :func:`rlcourse.policies.models_dir`)."""
    registry = dict(policies) if policies is not None else default_policies()
    shared_rng = random.Random(seed)

    async def list_models(request: Request) -> JSONResponse:
        data = [{"id": name, "object": "model", "created": 0, "owned_by": "rlcourse",
                 "description": policy.description} for name, policy in registry.items()]
        return JSONResponse({"object": "list", "data": data})

    async def chat_completions(request: Request) -> JSONResponse:
        content_type = request.headers.get("content-type", "")
        if "application/json" not in content_type.lower():
            return error_response(415, f"Content-Type must be application/json, got {content_type or 'nothing'!r}")
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return error_response(413, f"request body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}")
        try:
            payload = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return error_response(400, f"request body is not valid JSON: {exc}")
        if not isinstance(payload, dict):
            return error_response(400, f"request body must be a JSON object, got {type(payload).__name__}")
        try:
            chat = ChatRequest.model_validate(payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or None
            return error_response(400, f"{where}: {first['msg']}" if where else first["msg"], param=where)
        policy = await find_policy(chat.model)
        if policy is None:
            return error_response(404, f"unknown model {chat.model!r}; available: {', '.join(sorted(registry))}, "
                                  "or tiny/<name> / a folder holding a saved tiny model",
                                  param="model", kind="not_found_error")
        messages = chat.message_dicts()
        rng = request_rng(chat.seed, raw.decode("utf-8", "replace"), shared_rng)
        try:
            reply = await policy.generate(messages, chat.tools, rng, chat)
        except ValueError as exc:  # a policy that cannot use this input says why
            return error_response(400, str(exc))
        prompt_tokens = reply.prompt_tokens if reply.prompt_tokens is not None else sum(
            count_tokens(json.dumps(m.get("content") or "")) for m in messages)
        return JSONResponse(completion_body(chat, reply, prompt_tokens))

    loading: dict[str, asyncio.Future] = {}

    async def find_policy(model_id: str) -> Policy | None:
        """A registered policy, or a tiny model loaded on first use from ``tiny/<name>`` or a folder."""
        if model_id in registry:
            return registry[model_id]
        from rlcourse.tiny_policy import TinyModelPolicy  # torch loads only when needed

        path = resolve_model_path(model_id, models_dir)
        if path is None:
            return None
        # the first requests for a model often arrive together: they all wait for one load
        if model_id not in loading:
            loading[model_id] = asyncio.ensure_future(asyncio.to_thread(TinyModelPolicy.from_pretrained, path, model_id))
        try:
            policy = await asyncio.shield(loading[model_id])
        except Exception:
            loading.pop(model_id, None)  # a later request may try again
            raise
        return registry.setdefault(model_id, policy)

    async def load_weights(request: Request) -> JSONResponse:
        """POST {"model": id, "path": folder}: the served model takes the weights saved in ``path``."""
        try:
            payload = json.loads(await request.body())
            model_id, path = payload["model"], payload["path"]
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
            return error_response(400, 'send a JSON object {"model": "<id>", "path": "<folder>"}')
        policy = await find_policy(model_id)
        from rlcourse.tiny_policy import TinyModelPolicy

        if not isinstance(policy, TinyModelPolicy):
            return error_response(404, f"{model_id!r} is not a tiny model served here", param="model",
                                  kind="not_found_error")
        if resolve_model_path(str(path)) is None:
            return error_response(400, f"{path!r} holds no saved model (config.json missing)", param="path")
        try:
            await asyncio.to_thread(policy.load_weights, path)
        except Exception as exc:  # wrong shapes, unreadable file: the old weights stay in place
            return error_response(400, f"could not load weights from {path!r}: {exc}", param="path")
        return JSONResponse({"status": "ok", "model": model_id, "path": str(path)})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "models": sorted(registry)})

    routes = [
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/load_weights", load_weights, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.policies = registry
    return app


def serve(host: str = "127.0.0.1", port: int = 8000, seed: int = 0, ready_file=None,
          models_dir: str | Path | None = None) -> None:
    """Run the server in the foreground until interrupted. ``port=0`` picks a free port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    actual_port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(seed=seed, models_dir=models_dir), log_level="warning", access_log=False, loop="uvloop",
                            timeout_keep_alive=30, backlog=2048)
    server = uvicorn.Server(config)

    def announce() -> None:
        while not server.started:
            time.sleep(0.01)
        print(f"rlcourse server ready on http://{host}:{actual_port}/v1", flush=True)
        if ready_file is not None:
            ready_file.write(f"{actual_port}\n")
            ready_file.flush()

    threading.Thread(target=announce, daemon=True).start()
    server.run(sockets=[sock])


class LocalServer:
    """Runs the course server in a child process for the duration of a ``with`` block.

    ``base_url`` is the OpenAI base URL (``http://127.0.0.1:PORT/v1``). The environment variable
    named by ``api_key_var`` is set (to "local") if missing, because verifiers asks for one.
    ``models_dir`` is where the server finds ``tiny/<name>`` models (by default $COURSE_MODELS_DIR,
    else outputs/pipeline/models: :func:`rlcourse.policies.models_dir`).
    """

    def __init__(self, port: int = 0, seed: int = 0, startup_timeout: float = 120.0,
                 models_dir: str | Path | None = None):
        self.port = port
        self.models_dir = Path(models_dir).resolve() if models_dir is not None else None
        self.seed = seed
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen | None = None
        self.api_key_var = LOCAL_API_KEY_VAR

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "LocalServer":
        os.environ.setdefault(self.api_key_var, "local")
        read_fd, write_fd = os.pipe()
        cmd = [sys.executable, "-m", "rlcourse.server", "--port", str(self.port), "--seed", str(self.seed),
               "--ready-fd", str(write_fd)]
        if self.models_dir is not None:
            cmd += ["--models-dir", str(self.models_dir)]
        self.process = subprocess.Popen(cmd, pass_fds=(write_fd,), stdout=subprocess.DEVNULL)
        os.close(write_fd)
        with os.fdopen(read_fd) as ready:
            line = _read_line_with_timeout(ready, self.startup_timeout)
        if not line:
            code = self.process.poll()
            self.stop()
            raise RuntimeError(f"the course server did not start (exit code {code}); run "
                               "`python -m rlcourse.server` in a terminal to see its error")
        self.port = int(line)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> "LocalServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _read_line_with_timeout(stream, timeout: float) -> str:
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0].strip() if result else ""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The course's local OpenAI-compatible server.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default loopback only; anything else exposes the server to your network)")
    parser.add_argument("--port", type=int, default=8000, help="port (0 picks a free one)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the scripted policies' shared random source")
    parser.add_argument("--models-dir", default=None,
                        help="folder holding the tiny/<name> models (default: $COURSE_MODELS_DIR, else outputs/pipeline/models)")
    parser.add_argument("--ready-fd", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: binding to {args.host} makes the server reachable beyond this machine", file=sys.stderr)
    ready_file = os.fdopen(args.ready_fd, "w") if args.ready_fd is not None else None
    serve(args.host, args.port, args.seed, ready_file, args.models_dir)


if __name__ == "__main__":
    main()
