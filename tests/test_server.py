"""The local OpenAI-compatible server: contract, errors, loopback, and verifiers/vf-eval on top."""

import json
import os
import socket
import subprocess
import sys

import httpx
import pytest
from openai import OpenAI
from starlette.testclient import TestClient

from rlcourse.evaluation import Backend, evaluate
from rlcourse.server import create_app
from tictactoe import EMPTY_BOARD, FULL_SYSTEM_PROMPT, board_message

TTT_MESSAGES = [{"role": "system", "content": FULL_SYSTEM_PROMPT},
                {"role": "user", "content": board_message(EMPTY_BOARD, "You move first.")}]


@pytest.fixture(scope="module")
def app_client():
    return TestClient(create_app())


def post(client, body, **kwargs):
    return client.post("/v1/chat/completions", content=body if isinstance(body, (str, bytes)) else json.dumps(body),
                       headers=kwargs.get("headers", {"content-type": "application/json"}))


def test_models_lists_every_scripted_policy(app_client):
    data = app_client.get("/v1/models").json()["data"]
    ids = {m["id"] for m in data}
    assert {"scripted/ttt-random", "scripted/ttt-minimax", "scripted/ttt-heuristic", "scripted/reverse-noisy",
            "scripted/math-second-guess", "scripted/tool-caller"} <= ids
    assert all("not a language model" in m["description"] for m in data)


def test_chat_completion_is_a_complete_object(app_client):
    body = post(app_client, {"model": "scripted/ttt-minimax", "messages": TTT_MESSAGES}).json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-") and body["created"] > 0
    choice = body["choices"][0]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant" and "<move>" in choice["message"]["content"]
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_tool_calls_come_in_openai_format(app_client):
    tools = [{"type": "function", "function": {"name": "search_articles", "parameters": {}}}]
    body = post(app_client, {"model": "scripted/tool-caller", "tools": tools,
                             "messages": [{"role": "user", "content": "Who built MENACE?"}]}).json()
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    call = choice["message"]["tool_calls"][0]
    assert call["type"] == "function" and call["id"].startswith("call_")
    assert call["function"]["name"] == "search_articles"
    assert json.loads(call["function"]["arguments"]) == {"query": "Who built MENACE?"}


def test_max_tokens_truncates_and_says_so(app_client):
    body = post(app_client, {"model": "scripted/ttt-heuristic", "messages": TTT_MESSAGES, "max_tokens": 3}).json()
    assert body["choices"][0]["finish_reason"] == "length" and body["usage"]["completion_tokens"] <= 3


def test_truncating_a_shared_reply_leaves_it_whole_for_later_requests():
    """A script returns one constant Reply when it finds no board; a short max_tokens must not cut it
    in place for every later request."""
    client = TestClient(create_app())
    no_board = [{"role": "user", "content": "hello"}]
    short = post(client, {"model": "scripted/ttt-heuristic", "messages": no_board, "max_tokens": 2}).json()
    assert short["choices"][0]["finish_reason"] == "length"
    later = post(client, {"model": "scripted/ttt-heuristic", "messages": no_board}).json()["choices"][0]
    assert later["finish_reason"] == "stop"
    assert later["message"]["content"] == "I cannot find a Tic-Tac-Toe board in the last message."


def test_a_seed_makes_replies_repeatable(app_client):
    request = {"model": "scripted/ttt-random", "messages": TTT_MESSAGES, "seed": 5}
    first = {post(app_client, request).json()["choices"][0]["message"]["content"] for _ in range(5)}
    assert len(first) == 1


@pytest.mark.parametrize("body,headers,status,words", [
    ("{not json", None, 400, "not valid JSON"),
    ("[1, 2]", None, 400, "JSON object"),
    ({"messages": TTT_MESSAGES}, None, 400, "model"),
    ({"model": "scripted/ttt-random"}, None, 400, "messages"),
    ({"model": "scripted/ttt-random", "messages": []}, None, 400, "messages"),
    ({"model": "scripted/ttt-random", "messages": [{"role": "wizard", "content": "hi"}]}, None, 400, "role"),
    ({"model": "gpt-99", "messages": TTT_MESSAGES}, None, 404, "unknown model"),
    ({"model": "scripted/ttt-random", "messages": TTT_MESSAGES, "max_tokens": -5}, None, 400, "max_tokens"),
    ({"model": "scripted/ttt-random", "messages": TTT_MESSAGES, "max_completion_tokens": 10**12}, None, 400, "max_completion_tokens"),
    ({"model": "scripted/ttt-random", "messages": TTT_MESSAGES, "temperature": "hot"}, None, 400, "temperature"),
    ({"model": "scripted/ttt-random", "messages": TTT_MESSAGES, "n": 4}, None, 400, "n"),
    ({"model": "scripted/ttt-random", "messages": TTT_MESSAGES, "stream": True}, None, 400, "stream"),
    ({"model": "scripted/ttt-random", "messages": TTT_MESSAGES}, {"content-type": "text/plain"}, 415, "application/json"),
    (b"\xff\xfe\x00garbage", None, 400, "JSON"),
])
def test_bad_requests_get_clear_4xx_json_errors(app_client, body, headers, status, words):
    response = post(app_client, body, headers=headers or {"content-type": "application/json"})
    assert response.status_code == status
    error = response.json()["error"]
    assert words in error["message"] and error["code"] == status


def test_oversized_body_is_refused(app_client):
    huge = json.dumps({"model": "scripted/ttt-random", "messages": [{"role": "user", "content": "x" * (17 * 2**20)}]})
    assert post(app_client, huge).status_code == 413


def test_server_binds_to_loopback_only(local_server):
    assert local_server.base_url.startswith("http://127.0.0.1:")
    port = local_server.port
    addresses = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    addresses -= {"127.0.0.1", "127.0.1.1"}
    for address in addresses:
        with pytest.raises(OSError):
            socket.create_connection((address, port), timeout=1).close()
    assert httpx.get(f"{local_server.base_url}/models").status_code == 200


def test_openai_sdk_talks_to_the_server(local_server):
    client = OpenAI(base_url=local_server.base_url, api_key="local", max_retries=0)
    reply = client.chat.completions.create(model="scripted/ttt-heuristic", messages=TTT_MESSAGES)
    assert "<move>4</move>" in reply.choices[0].message.content  # the teacher takes the free centre


def test_verifiers_evaluate_through_http(local_server):
    backend = Backend(local_server.base_url, local_server.api_key_var)
    rows = evaluate("tictactoe", "scripted/ttt-minimax", backend, num_examples=10, rollouts_per_example=2,
                    env_args={"min_random_move_prob": 0.0, "max_random_move_prob": 0.0})
    assert len(rows) == 20 and all(r["reward"] == pytest.approx(0.7) for r in rows)
    json.dumps(rows)  # rows are plain JSON


def test_vf_eval_command_line_works_as_documented(local_server, tmp_path):
    env = {**os.environ, "COURSE_API_KEY": "local", "HF_HUB_OFFLINE": "1"}
    cmd = [os.path.join(os.path.dirname(sys.executable), "vf-eval"), "tictactoe", "-b", local_server.base_url,
           "-k", "COURSE_API_KEY", "-m", "scripted/ttt-heuristic", "-n", "20", "-r", "2", "-d", "-s",
           "-o", str(tmp_path)]
    done = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    results = list(tmp_path.rglob("results.jsonl"))
    assert results and len(results[0].read_text().splitlines()) == 40
