"""Throughput of the Tic-Tac-Toe environment and of the local server, measured side by side.

Prints, in one run:
1. 1,000 games against a scripted policy through verifiers and HTTP (the local server): games/s and
   the share of wall time spent inside the environment's own code (setup, env_response, rewards);
2. the same 1,000 games with the in-process client (no HTTP), for comparison;
3. the server's requests/s at 32 concurrent clients, with a lean aiohttp load generator and with the
   OpenAI SDK client that verifiers uses.

Run: make bench   (or .venv/bin/python benchmarks/bench_tictactoe.py --games 1000)
"""

from __future__ import annotations

import argparse
import asyncio
import time

import aiohttp
import verifiers as vf
from openai import AsyncOpenAI

from rlcourse.clients import InProcessClient, run_coroutine
from rlcourse.evaluation import Backend
from rlcourse.server import LocalServer
from tictactoe import EMPTY_BOARD, FULL_SYSTEM_PROMPT, board_message

MODEL = "scripted/ttt-heuristic"


class EnvClock:
    """Adds up the wall time spent inside the environment's own coroutines and reward functions.

    They never await anything slow, so on verifiers' single event-loop thread this time is exclusive.
    """

    def __init__(self, env: vf.Environment):
        self.seconds = 0.0
        for name in ("setup_state", "env_response"):
            setattr(env, name, self.timed(getattr(env, name)))
        env.rubric.funcs = [self.timed(f) for f in env.rubric.funcs]

    def timed(self, fn):
        import functools

        @functools.wraps(fn)
        async def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        return wrapper


def play(env_client, games: int, concurrency: int) -> tuple[float, float]:
    env = vf.load_environment("tictactoe", num_eval_examples=games)
    clock = EnvClock(env)
    quiet = dict(on_start=lambda *a, **k: None, on_progress=lambda *a, **k: None, on_log=lambda *a, **k: None)
    start = time.perf_counter()
    results = run_coroutine(env.evaluate(client=env_client, model=MODEL, num_examples=games,
                                         max_concurrent=concurrency, **quiet))
    wall = time.perf_counter() - start
    assert len(results["outputs"]) == games and not any(o.get("error") for o in results["outputs"])
    return games / wall, clock.seconds / wall


BODY = {"model": MODEL, "messages": [{"role": "system", "content": FULL_SYSTEM_PROMPT},
                                     {"role": "user", "content": board_message(EMPTY_BOARD, "You move first.")}]}


async def aiohttp_load(base_url: str, clients: int, per_client: int) -> float:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as session:
        async def worker():
            for _ in range(per_client):
                async with session.post(f"{base_url}/chat/completions", json=BODY) as response:
                    assert response.status == 200
                    await response.read()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return clients * per_client / (time.perf_counter() - start)


async def openai_load(base_url: str, clients: int, per_client: int) -> float:
    client = AsyncOpenAI(base_url=base_url, api_key="local", max_retries=0)

    async def worker():
        for _ in range(per_client):
            await client.chat.completions.create(**BODY)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    rate = clients * per_client / (time.perf_counter() - start)
    await client.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--requests-per-client", type=int, default=100)
    args = parser.parse_args()
    with LocalServer() as server:
        backend = Backend(server.base_url, server.api_key_var)
        http_rate, http_share = play(backend.client_config(), args.games, args.concurrency)
        local_rate, local_share = play(InProcessClient(MODEL), args.games, args.concurrency)
        lean = asyncio.run(aiohttp_load(server.base_url, args.concurrency, args.requests_per_client))
        sdk = asyncio.run(openai_load(server.base_url, args.concurrency, args.requests_per_client))
    print(f"Tic-Tac-Toe, {args.games} games vs {MODEL}, {args.concurrency} concurrent rollouts (verifiers evaluate)")
    print(f"  through HTTP (local server):  {http_rate:7.1f} games/s   time inside the environment: {100 * http_share:4.1f}% of wall")
    print(f"  in process (no HTTP):         {local_rate:7.1f} games/s   time inside the environment: {100 * local_share:4.1f}% of wall")
    print(f"  ratio in-process / HTTP:      {local_rate / http_rate:7.2f}x")
    print(f"Server, {args.concurrency} concurrent clients x {args.requests_per_client} requests each")
    print(f"  aiohttp load generator:       {lean:7.0f} requests/s")
    print(f"  OpenAI SDK (httpx) client:    {sdk:7.0f} requests/s")
    print(f"  ratio aiohttp / OpenAI SDK:   {lean / sdk:7.2f}x")


if __name__ == "__main__":
    main()
