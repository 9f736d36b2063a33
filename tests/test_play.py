"""rlcourse.play: the conversation of a game against a human is the environment's, bad input changes
nothing, the terminal game runs end to end, and the notebook widget reacts to clicks."""

from __future__ import annotations

import io
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tictactoe as ttt
from rlcourse import play
from rlcourse.evaluation import evaluate
from rlcourse.play import InvalidMove, ModelError, ModelPlayer, parse_human_move
from rlcourse.policies import Reply, ScriptedPolicy
from rlcourse.clients import InProcessClient


ROOT = Path(__file__).resolve().parents[1]
O_MOVE = re.compile(r"\bO took cell (\d)")


def flaky_player(messages, tools, rng: random.Random) -> Reply:
    """A scripted X that often answers badly: no tag, occupied or out-of-range cells, two tags."""
    board = ttt.parse_board(ttt.message_text(messages[-1])) or ttt.EMPTY_BOARD
    roll = rng.random()
    taken = [i for i, c in enumerate(board) if c != "."]
    if roll < 0.12:
        return Reply(content="The centre looks strong to me.")
    if roll < 0.22 and taken:
        return Reply(content=f"<think>I like this one.</think><move>{rng.choice(taken)}</move>")
    if roll < 0.27:
        return Reply(content="<think>Far corner.</think><move>9</move>")
    if roll < 0.31:
        return Reply(content="<move>1</move><move>2</move>")
    cell = rng.choice(ttt.legal_moves(board))
    return Reply(content=f"<think>Free cells: {ttt.legal_moves(board)}.</think>\n<move>{cell}</move>")


def replay(texts):
    """A model that says ``texts`` in order (and fails loudly if asked once too often)."""
    queue = list(texts)

    def ask(messages):
        assert queue, "the player asked the model more often than the environment did"
        return queue.pop(0)

    ask.left = queue
    return ask


def human_moves(row) -> list[int]:
    """O's moves in an environment rollout: the opening one (if O started), then each 'O took cell N'."""
    moves = []
    if not row["info"]["model_starts"]:
        moves.append(row["info"]["board"].index("O"))
    for message in row["completion"]:
        if message["role"] == "user":
            moves += [int(c) for c in O_MOVE.findall(message["content"])]
    return moves


def plain(messages) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in messages]


def replay_game(row, variant: str, max_turns: int) -> ModelPlayer:
    """Play the environment's game again: the model repeats the env's replies, the human O's moves."""
    texts = [m["content"] for m in row["completion"] if m["role"] == "assistant"]
    ask = replay(texts)
    moves = human_moves(row)
    player = ModelPlayer(ask, human_first=not row["info"]["model_starts"], variant=variant, max_turns=max_turns)
    for cell in moves:
        player.human_move(cell)
    assert not ask.left, "the environment asked the model more often than the player did"
    return player


@pytest.mark.parametrize("variant,max_turns", [("full", 8), ("full", 4), ("basic", 8)])
def test_conversation_is_the_environments_for_the_same_moves(variant, max_turns):
    env = ttt.load_environment(variant=variant, num_eval_examples=60, seed=11, max_turns=max_turns,
                               min_random_move_prob=0.0, max_random_move_prob=1.0)
    client = InProcessClient(ScriptedPolicy(flaky_player, "flaky test player"), seed=5)
    rows = evaluate(env, "flaky", client, num_examples=60, state_columns=["outcome", "board", "invalid_moves"])
    seen = set()
    for row in rows:
        player = replay_game(row, variant, max_turns)
        assert plain(player.messages) == plain(row["prompt"] + row["completion"])
        assert player.over and player.outcome == row["outcome"]
        assert player.board == row["board"] and player.invalid_moves == row["invalid_moves"]
        seen.add((row["outcome"], row["invalid_moves"] > 0, row["info"]["model_starts"]))
    # the sample covers wins, losses, invalid replies and both starts (a test that checks something)
    outcomes = {o for o, _, _ in seen}
    assert {"win", "loss"} <= outcomes and any(inv for _, inv, _ in seen)
    assert {s for _, _, s in seen} == ({True} if variant == "basic" else {True, False})
    if max_turns == 4:
        assert None in outcomes, "some games should hit the turn cap"


def test_a_tiny_model_gets_the_same_prompt_as_through_the_server(tmp_path):
    """Greedy replies of a (random-weight) tiny model: ModelPlayer == the env through the served policy."""
    tinylm = pytest.importorskip("rlcourse.tinylm")
    from rlcourse import chat_template, tiny_policy

    texts = [ttt.FULL_SYSTEM_PROMPT, ttt.opening_message(ttt.EMPTY_BOARD, None), ttt.turn_message("XO.......", 0, 1),
             "<think>x</think><move>4</move>", "Invalid move: no <move>...</move> tag found. The board is unchanged."]
    bootstrap = chat_template.build_tokenizer(["seed"], vocab_size=300)
    tokenizer = chat_template.build_tokenizer([chat_template.render(bootstrap, [{"role": "user", "content": t}]) for t in texts] * 20,
                                              vocab_size=500)
    size = tinylm.ModelSize(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_positions=1024)
    tinylm.save(tinylm.new_model(tokenizer, size, seed=3), tokenizer, tmp_path / "m")

    env = ttt.load_environment(num_eval_examples=4, seed=2, max_turns=3)
    policy = tiny_policy.TinyModelPolicy.from_pretrained(tmp_path / "m", batch_window_s=0.0)
    rows = evaluate(env, "tiny", InProcessClient(policy), num_examples=4, max_concurrent=1,
                    sampling_args={"temperature": 0.0, "max_tokens": 12},
                    state_columns=["outcome", "board", "invalid_moves"])
    ask = play.TinyModel(tmp_path / "m", temperature=0.0, max_tokens=12)
    for row in rows:
        texts = [m["content"] for m in row["completion"] if m["role"] == "assistant"]
        player = ModelPlayer(ask, human_first=not row["info"]["model_starts"], max_turns=3, start=False)
        player.new_game()
        for cell in human_moves(row):
            player.human_move(cell)
        assert [m["content"] for m in player.messages if m["role"] == "assistant"] == texts
        assert plain(player.messages) == plain(row["prompt"] + row["completion"])
    # greedy is repeatable; sampling with the same seed too
    conversation = [{"role": "system", "content": ttt.FULL_SYSTEM_PROMPT},
                    {"role": "user", "content": ttt.opening_message(ttt.EMPTY_BOARD, None)}]
    assert ask(conversation) == ask(conversation)
    sampled = [play.TinyModel(tmp_path / "m", temperature=1.0, max_tokens=12, seed=7)(conversation) for _ in range(2)]
    assert sampled[0] == sampled[1]


def test_play_finds_models_by_the_servers_rule_without_torch(tmp_path, monkeypatch):
    from rlcourse import policies

    assert play.resolve_model_path is policies.resolve_model_path  # one rule, and no torch to load
    (tmp_path / "ttt-x").mkdir()
    (tmp_path / "ttt-x" / "config.json").write_text("{}")
    monkeypatch.setenv("COURSE_MODELS_DIR", str(tmp_path))
    for spec in ["tiny/ttt-x", "tiny/nothing", str(tmp_path / "ttt-x"), str(tmp_path)]:
        assert (play.resolve_model_path(spec) is None) == (spec in ("tiny/nothing", str(tmp_path)))
    assert policies.resolve_model_path("tiny/ttt-x", root=tmp_path / "elsewhere") is None


def test_auto_falls_back_to_sft_then_to_the_scripted_teacher(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_MODELS_DIR", str(tmp_path))
    ask, name, description = play.load_model("auto")
    assert name == "scripted/ttt-heuristic" and "not a language model" in description
    with pytest.raises(ValueError, match="make demo"):
        play.load_model("tiny/ttt-rl")
    with pytest.raises(ValueError, match="COURSE_BACKEND"):
        monkeypatch.setenv("COURSE_BACKEND", "local")
        play.load_model("gpt-5-mini")
    with pytest.raises(ValueError, match="unknown scripted"):
        play.load_model("scripted/nope")


# ---------------------------------------------------------------------------------------------
# Bad input from the human, and from the model
# ---------------------------------------------------------------------------------------------


def snapshot(player: ModelPlayer):
    return (player.board, plain(player.messages), player.outcome, player.over, player.model_turns, player.turn)


def test_invalid_human_input_is_rejected_without_changing_anything():
    player = ModelPlayer(play.Scripted("scripted/ttt-heuristic"), human_first=False)
    assert player.turn == "human" and player.board.count("X") == 1
    taken = player.board.index("X")
    before = snapshot(player)
    bad = [taken, 9, -1, 4.0, True, None, "", "  ", "x", "44", "9", "-1", "+4", "4.0", "٤", "４", "1 2",
           f" {taken} ", "q"]
    for value in bad:
        with pytest.raises(InvalidMove) as info:
            player.human_move(value)
        assert str(info.value), f"{value!r}: an empty error message"
        assert snapshot(player) == before, f"{value!r} changed the game"
    with pytest.raises(InvalidMove, match=f"cell {taken} is already taken"):
        player.human_move(str(taken))
    free = next(c for c in range(9) if player.board[c] == ".")
    player.human_move(f"  {free}\n")
    assert player.board[free] == "O"


def test_parse_human_move_accepts_exactly_one_free_cell_digit():
    board = "X...O...."
    for cell in (1, 2, 3, 5, 6, 7, 8):
        assert parse_human_move(str(cell), board) == cell
        assert parse_human_move(f"\t{cell}  \n", board) == cell
    for text in ["0", "4", "", "9", "10", "a", "04", "٣", "4 4", "<move>4</move>"]:
        with pytest.raises(InvalidMove):
            parse_human_move(text, board)


def test_moves_after_the_end_are_refused():
    player = ModelPlayer(play.Scripted("scripted/ttt-minimax"), human_first=True)
    for cell in range(9):  # try every cell in order until the game ends
        if player.over:
            break
        if player.board[cell] == ".":
            player.human_move(cell)
    while not player.over:
        player.human_move(ttt.legal_moves(player.board)[0])
    assert player.outcome in ("win", "draw") and player.turn is None
    before = snapshot(player)
    with pytest.raises(InvalidMove, match="over"):
        player.human_move(ttt.legal_moves(player.board)[0] if "." in player.board else 0)
    assert snapshot(player) == before
    assert player.games == [player.outcome]


def test_the_model_is_asked_again_after_an_invalid_reply_up_to_the_cap():
    ask = replay(["no idea", "<move>4</move>"] + ["<move>4</move>"] * 10)
    player = ModelPlayer(ask, human_first=False, max_turns=4)
    assert player.board[4] == "X" and player.invalid_moves == 1 and player.model_turns == 2
    assert player.messages[3]["content"].startswith("Invalid move: no <move>...</move> tag found.")
    assert [e.kind for e in player.events] == ["invalid", "move"]
    player.human_move(0)  # the model keeps answering the taken cell 4: turns 3 and 4, then the cap
    assert player.over and player.outcome is None and player.model_turns == 4
    assert player.messages[-1]["content"] == "Invalid move (cell 4 is already taken). Turn limit reached: game over."
    assert "loss for the model" in player.result()


def test_a_failing_model_raises_model_error_and_the_game_can_go_on():
    calls = []

    def ask(messages):
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("endpoint down")
        return "<think>ok</think><move>0</move>"

    player = ModelPlayer(ask, human_first=True)
    with pytest.raises(ModelError, match="endpoint down"):
        player.human_move(4)
    assert player.board == "....O...." and player.turn == "model" and player.model_turns == 0
    player.model_move()
    assert player.board == "X...O...." and player.turn == "human"


# ---------------------------------------------------------------------------------------------
# Terminal game
# ---------------------------------------------------------------------------------------------


def run_cli(*args: str, stdin: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "rlcourse.play", *args], input=stdin, capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env=env)


def test_terminal_game_runs_end_to_end_with_garbage_input():
    typed = "hello\n\n9\n-1\n4.0\n" + "".join(f"{c}\n" for c in range(9)) + "n\n"
    done = run_cli("--model", "scripted/ttt-minimax", "--human-first", stdin=typed)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "You are O; X is scripted/ttt-minimax (scripted stand-in, not a language model)" in out
    for complaint in ["'hello' is not a cell", "nothing typed", "'9' is not a cell", "'-1' is not a cell",
                      "'4.0' is not a cell"]:
        assert complaint in out
    assert "model thinks: " in out and "The model took cell" in out
    assert re.search(r"The model \(X\) won\.|Draw\.", out), out[-800:]  # minimax never loses
    assert out.rstrip().endswith("Bye.") and "Traceback" not in done.stderr


def test_terminal_game_quits_on_q_and_on_end_of_input(monkeypatch, capsys):
    done = run_cli("--model", "scripted/ttt-random", stdin="q\n")
    assert done.returncode == 0 and done.stdout.rstrip().endswith("Bye.") and "Traceback" not in done.stderr
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # Ctrl-D: input() meets the end of the input
    assert play.main(["--model", "scripted/ttt-random"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("Bye.")


def test_terminal_game_stops_cleanly_on_ctrl_c():
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "rlcourse.play", "--model", "scripted/ttt-random"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env=env)
    try:
        seen = ""
        deadline = time.monotonic() + 120
        while "Your move" not in seen and time.monotonic() < deadline:
            seen += proc.stdout.read(1)
        assert "Your move" in seen
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and "Bye." in out and "Traceback" not in err


def test_terminal_game_explains_a_model_it_cannot_find(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_MODELS_DIR", str(tmp_path))
    assert play.main(["--model", "tiny/ttt-rl"]) == 2
    assert "make demo" in capsys.readouterr().err


def test_terminal_game_function_with_scripted_input():
    lines = iter(["7", "x", "q"])
    out: list[str] = []
    player = ModelPlayer(play.Scripted("scripted/ttt-heuristic"), human_first=True)
    assert play.terminal_game(player, read=lambda prompt: next(lines), write=out.append) == 0
    text = "\n".join(out)
    assert player.board[7] == "O" and player.board.count("X") == 1
    assert "'x' is not a cell" in text and text.endswith("Bye.")


# ---------------------------------------------------------------------------------------------
# Notebook widget
# ---------------------------------------------------------------------------------------------


def test_widget_builds_and_a_click_updates_the_board():
    pytest.importorskip("ipywidgets")
    player = ModelPlayer(play.Scripted("scripted/ttt-heuristic"), human_first=False)
    box = play.board_widget(player)
    assert len(box.buttons) == 9 and box.player is player
    x = player.board.index("X")
    assert box.buttons[x].description == "X" and not box.buttons[x].disabled
    box.buttons[x].click()  # a taken cell: refused with a note, nothing changes
    assert player.board.count("X") == 1 and player.board.count("O") == 0
    assert f"cell {x} is already taken" in box.status.value
    assert "model thinks:" in box.thinking.value and "Free:" in box.thinking.value
    free = next(c for c in range(9) if player.board[c] == ".")
    box.buttons[free].click()  # the button's click handlers, as a browser click would run them
    assert player.board[free] == "O" and player.board.count("X") == 2
    assert box.buttons[free].description == "O"
    assert "already taken" not in box.status.value
    assert [b.description for b in box.buttons] == [("" if c == "." else c) for c in player.board]
    box.buttons[free].click()  # a taken cell: refused, nothing changes
    assert player.board.count("O") == 1
    # new game, human first: the board is empty and every cell can be clicked
    box.human_first_box.value = True
    box.new_game_button.click()
    assert player.board == ttt.EMPTY_BOARD and all(not b.disabled for b in box.buttons)
    assert "Your turn" in box.status.value
    for _ in range(9):  # click free cells until the game ends; then every button is disabled
        if player.over:
            break
        box.buttons[ttt.legal_moves(player.board)[0]].click()
    assert player.over and all(b.disabled for b in box.buttons)
    assert player.result() in box.status.value.replace("&#x27;", "'")


# ---------------------------------------------------------------------------------------------
# A model behind an OpenAI-compatible endpoint (the course's server over HTTP)
# ---------------------------------------------------------------------------------------------


def test_a_model_behind_an_endpoint_plays_through_a_backend(local_server):
    from rlcourse.evaluation import Backend

    backend = Backend(local_server.base_url, local_server.api_key_var)
    ask, name, description = play.load_model("scripted/ttt-minimax", backend=backend)
    assert isinstance(ask, play.Scripted)  # scripted/ ids are played in process
    http = play.ChatBackend(backend, "scripted/ttt-minimax", seed=3)
    player = ModelPlayer(http, name="scripted/ttt-minimax", human_first=True)
    while not player.over:
        player.human_move(ttt.legal_moves(player.board)[0])
    assert player.outcome in ("win", "draw") and player.invalid_moves == 0  # minimax never loses
    # an id the endpoint does not serve: a clear ModelError, the game unchanged
    lost = ModelPlayer(play.ChatBackend(backend, "no-such-model"), human_first=True)
    with pytest.raises(ModelError, match="no-such-model"):
        lost.human_move(4)
    assert lost.board == "....O...." and lost.turn == "model"
    # load_model sends any other id to the backend it is given
    ask, name, description = play.load_model("some-api-model", backend=backend)
    assert isinstance(ask, play.ChatBackend) and name == "some-api-model" and local_server.base_url in description
