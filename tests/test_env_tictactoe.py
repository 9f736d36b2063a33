"""The tictactoe environment through verifiers: datasets, opponents, rewards, bad outputs."""

import verifiers as vf
import pytest

from helpers import replies, run_rollouts
from tictactoe import EMPTY_BOARD, load_environment, follows_format, legal_moves, message_text, winner


def load(**kwargs):
    return vf.load_environment("tictactoe", **kwargs)


def outcome_of(board):
    w = winner(board)
    return {"X": "win", "O": "loss"}.get(w, "draw" if "." not in board else None)


def expected_reward(row, format_weight=0.2, penalty=0.1):
    base = {"win": 1.0, "draw": 0.5}.get(row["outcome"], 0.0)
    invalid = 1.0 if row["invalid_moves"] > 0 or row.get("error") else 0.0
    return base + format_weight * row["think_move_format"] - penalty * invalid


def test_same_arguments_give_identical_datasets_and_seed_changes_them():
    a, b = load(num_eval_examples=64), load(num_eval_examples=64)
    assert a.get_eval_dataset().to_list() == b.get_eval_dataset().to_list()
    assert a.get_dataset().to_list() == b.get_dataset().to_list()
    c = load(num_eval_examples=64, seed=1)
    assert c.get_eval_dataset()["info"] != a.get_eval_dataset()["info"]
    train_seeds = {row["seed"] for row in a.get_dataset()["info"]}
    assert not train_seeds & {row["seed"] for row in a.get_eval_dataset()["info"]}


def test_starting_player_is_mixed_and_the_prompt_shows_the_opening():
    rows = load(num_eval_examples=200).get_eval_dataset().to_list()
    starts = [r["info"]["model_starts"] for r in rows]
    assert 70 <= sum(starts) <= 130
    for r in rows:
        board = r["info"]["board"]
        assert board == EMPTY_BOARD if r["info"]["model_starts"] else board.count("O") == 1
        assert "Your move." in r["question"]


@pytest.mark.parametrize("num_groups", [1, 4, 8])
def test_stratified_difficulty_blocks_cover_every_slice(num_groups):
    lo, hi = 0.2, 0.7
    rows = load(num_eval_examples=8 * num_groups, min_random_move_prob=lo, max_random_move_prob=hi,
                num_groups=num_groups).get_eval_dataset()["info"]
    width = (hi - lo) / num_groups
    for start in range(0, len(rows), num_groups):
        block = rows[start:start + num_groups]
        slices = sorted(int((r["random_move_prob"] - lo) // width) for r in block)
        assert slices == list(range(num_groups))
        assert sorted(r["difficulty_group"] for r in block) == list(range(num_groups))
    assert all(lo <= r["random_move_prob"] <= hi for r in rows)


def test_bad_arguments_are_refused_clearly():
    with pytest.raises(ValueError, match="min_random_move_prob"):
        load_environment(min_random_move_prob=0.8, max_random_move_prob=0.2)
    with pytest.raises(ValueError, match="variant"):
        load_environment(variant="hard")
    with pytest.raises(ValueError, match="num_groups"):
        load_environment(num_groups=0)


def test_perfect_player_draws_every_game_against_the_optimal_opponent():
    env = load(min_random_move_prob=0.0, max_random_move_prob=0.0, num_eval_examples=40)
    rows = run_rollouts(env, "scripted/ttt-minimax", num_examples=40)
    assert {r["outcome"] for r in rows} == {"draw"}
    assert all(r["reward"] == pytest.approx(0.7) for r in rows)


def test_rollouts_of_one_example_meet_the_same_replies():
    env = load(min_random_move_prob=0.5, max_random_move_prob=0.5, num_eval_examples=10)
    def lowest_free(messages, tools, rng):
        from rlcourse.scripted import current_board
        from rlcourse.policies import Reply
        return Reply(content=f"<think>lowest</think><move>{legal_moves(current_board(messages))[0]}</move>")

    rows = run_rollouts(env, lowest_free, num_examples=10, rollouts_per_example=4)
    by_example = {}
    for r in rows:
        by_example.setdefault(r["example_id"], set()).add(r["board"])
    assert all(len(boards) == 1 for boards in by_example.values())  # same moves -> same game
    assert len({next(iter(b)) for b in by_example.values()}) > 1  # and different examples differ


def test_rewards_match_the_outcome_format_and_penalty_on_every_game():
    env = load(num_eval_examples=100)
    for model in ("scripted/ttt-random", "scripted/ttt-heuristic"):
        rows = run_rollouts(env, model, num_examples=100)
        for r in rows:
            assert r["outcome"] == outcome_of(r["board"])
            assert r["reward"] == pytest.approx(expected_reward(r))
        assert {"win", "loss"} <= {r["outcome"] for r in rows}


def test_an_invalid_move_costs_once_and_the_game_goes_on():
    env = load(min_random_move_prob=0.0, max_random_move_prob=0.0, num_eval_examples=6)
    bad_then_good = [
        "<think>oops</think><move>9</move>", "<move>4</move>",  # invalid, then a badly formatted valid move
    ]

    def policy(messages, tools, rng):
        from rlcourse.scripted import ttt_minimax
        k = sum(1 for m in messages if m.get("role") == "assistant")
        if k < len(bad_then_good) and k == 0:
            return replies(*bad_then_good)(messages, tools, rng)
        return ttt_minimax(messages, tools, rng)

    rows = run_rollouts(env, policy, num_examples=6)
    for r in rows:
        texts = [message_text(m) for m in r["completion"] if m["role"] == "assistant"]
        assert r["invalid_moves"] == 1 and r["outcome"] == "draw"
        share = sum(follows_format(t) for t in texts) / len(texts)
        assert r["reward"] == pytest.approx(0.5 + 0.2 * share - 0.1)
        assert "Invalid move" in message_text(r["completion"][1])


def test_turn_cap_ends_a_game_of_only_invalid_moves_as_a_loss():
    env = load(num_eval_examples=4, max_turns=5)
    rows = run_rollouts(env, replies("<move>banana</move>"), num_examples=4)
    for r in rows:
        assert r["outcome"] is None and r["invalid_moves"] == 5  # every reply was judged, the last included
        assert "Turn limit reached" in message_text(r["completion"][-1])
        assert r["metrics"]["loss"] == 1.0 and r["reward"] == pytest.approx(-0.1)


def test_basic_variant_x_starts_random_opponent_and_invalid_move_loses():
    env = load(variant="basic", num_eval_examples=30)
    data = env.get_eval_dataset()["info"]
    assert all(r["model_starts"] and r["random_move_prob"] == 1.0 for r in data)
    rows = run_rollouts(env, replies("<move>4</move>", "<move>4</move>"), num_examples=30)
    for r in rows:  # the second reply repeats an occupied cell: an immediate loss
        assert r["outcome"] == "loss" and r["invalid_moves"] == 1
        assert r["reward"] == pytest.approx(0.2)  # format is perfect, the game is lost
    rows = run_rollouts(env, "scripted/ttt-minimax", num_examples=30)
    assert all(r["outcome"] in ("win", "draw") for r in rows)


@pytest.mark.parametrize("variant", ["full", "basic"])
def test_fuzz_garbage_replies_never_break_the_environment(variant):
    env = load(variant=variant, num_eval_examples=250)
    rows = run_rollouts(env, "scripted/fuzz", num_examples=250, rollouts_per_example=4, seed=1)
    turns = sum(r["metrics"]["num_turns"] for r in rows)
    assert turns >= (2000 if variant == "full" else 1000)  # thousands of garbage replies were judged
    for r in rows:
        if r.get("error"):
            assert r["error"]["error"] == "EmptyModelResponseError"  # verifiers refuses empty replies itself
        board = r["board"]
        assert set(board) <= set("XO.") and len(board) == 9
        assert abs(board.count("X") - board.count("O")) <= 1
        forfeited = variant == "basic" and r["invalid_moves"] > 0 and r["outcome"] == "loss"
        assert r["outcome"] in (None, outcome_of(board)) or forfeited
        assert -0.1 <= r["reward"] <= 1.2
        if variant == "full":
            assert r["reward"] == pytest.approx(expected_reward(r))


def test_the_last_reply_before_the_cap_is_still_played():
    # X starts and needs its 5th move to finish the game; with max_turns=5 that move must count.
    env = load(variant="basic", num_eval_examples=20, max_turns=5)
    rows = run_rollouts(env, "scripted/ttt-minimax", num_examples=20)
    assert all(r["outcome"] in ("win", "draw") for r in rows)
    assert any(r["metrics"]["num_turns"] == 5 for r in rows)
