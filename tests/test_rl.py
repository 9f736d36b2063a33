"""GRPO/CISPO trainer: the formulas on hand-computed values, trajectory -> samples, resume after a kill."""

import copy
import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from rlcourse import chat_template, rl, tinylm
from helpers import teacher_conversation
from test_tinylm import SMALL


def test_group_advantages_by_hand():
    rewards = [1.0, 0.5, 0.5, 0.0, 1.2, 1.2, 1.2, 1.2]
    assert rl.group_advantages(rewards, 4) == pytest.approx([0.5, 0.0, 0.0, -0.5, 0.0, 0.0, 0.0, 0.0])
    with pytest.raises(ValueError):
        rl.group_advantages(rewards, 3)


def test_one_group_advantages_for_the_trainer_and_lesson_11():
    from rlcourse import postmortem

    assert postmortem.group_advantages is rl.group_advantages
    assert rl.group_advantages([1.0, 0.5, 0.0]) == rl.group_advantages([1.0, 0.5, 0.0], 3) == [0.5, 0.0, -0.5]


def test_cispo_loss_by_hand():
    logprobs = torch.tensor([[-1.0, -2.0, -0.5]], requires_grad=True)
    old = torch.tensor([[-1.2, -2.0, -1.0]])   # ratios e^0.2 = 1.2214, 1, e^0.5 = 1.6487 (clipped to 1.28)
    mask = torch.tensor([[1.0, 1.0, 0.0]])      # the third token is not the model's: ignored
    loss = rl.cispo_loss(logprobs, old, torch.tensor([0.5]), mask, clip_low=0.2, clip_high=0.28)
    expected = -(math.exp(0.2) * 0.5 * -1.0 + 1.0 * 0.5 * -2.0) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    # the clipped weight is a constant: d loss / d logprob = -weight * advantage / tokens
    assert logprobs.grad.tolist()[0] == pytest.approx([-math.exp(0.2) * 0.5 / 2, -0.5 / 2, 0.0], rel=1e-5)

    # a ratio above 1 + clip_high is clipped, and the token still gets a gradient (unlike PPO's clip)
    logprobs = torch.tensor([[-0.5]], requires_grad=True)
    loss = rl.cispo_loss(logprobs, torch.tensor([[-1.0]]), torch.tensor([2.0]), torch.ones(1, 1))
    assert loss.item() == pytest.approx(-1.28 * 2.0 * -0.5)
    loss.backward()
    assert float(logprobs.grad) == pytest.approx(-1.28 * 2.0)
    # a negative advantage pushes the log-prob down
    assert float(rl.cispo_loss(torch.tensor([[-0.1]]), torch.tensor([[-0.1]]), torch.tensor([-1.0]),
                               torch.ones(1, 1))) == pytest.approx(-0.1)


def test_ppo_clip_loss_by_hand_and_where_it_differs_from_cispo():
    # inside the clip range both losses have the same gradient, ratio * advantage / tokens
    logprobs = torch.tensor([[-1.0, -2.0]], requires_grad=True)
    old = torch.tensor([[-1.1, -2.0]])  # ratios e^0.1 and 1
    mask = torch.ones(1, 2)
    rl.ppo_clip_loss(logprobs, old, torch.tensor([0.5]), mask).backward()
    assert logprobs.grad.tolist()[0] == pytest.approx([-math.exp(0.1) * 0.5 / 2, -0.5 / 2], rel=1e-5)
    ppo_grad = logprobs.grad.clone()
    logprobs.grad = None
    rl.cispo_loss(logprobs, old, torch.tensor([0.5]), mask).backward()
    assert torch.allclose(logprobs.grad, ppo_grad)

    # outside the range, on the advantage's side: PPO's value is clip(ratio) * A and its gradient 0; CISPO's stays
    cases = [(-0.5, -1.0, 2.0, 1.28), (-1.0, -0.5, -2.0, 0.8)]  # (new, old, advantage, clipped weight)
    for new, old_value, advantage, weight in cases:
        for loss_fn, expected_grad in ((rl.ppo_clip_loss, 0.0), (rl.cispo_loss, -weight * advantage)):
            x = torch.tensor([[new]], requires_grad=True)
            loss = loss_fn(x, torch.tensor([[old_value]]), torch.tensor([advantage]), torch.ones(1, 1))
            loss.backward()
            assert float(x.grad) == pytest.approx(expected_grad, abs=1e-6), (loss_fn.__name__, new, advantage)
        value = rl.ppo_clip_loss(torch.tensor([[new]]), torch.tensor([[old_value]]), torch.tensor([advantage]),
                                 torch.ones(1, 1))
        assert float(value) == pytest.approx(-weight * advantage)
    # outside the range against the advantage (ratio high, A < 0): PPO keeps the unclipped term and its gradient
    x = torch.tensor([[-0.5]], requires_grad=True)
    rl.ppo_clip_loss(x, torch.tensor([[-1.0]]), torch.tensor([-2.0]), torch.ones(1, 1)).backward()
    assert float(x.grad) == pytest.approx(math.exp(0.5) * 2.0, rel=1e-5)


def test_clip_counts_tell_clipped_tokens_from_the_ones_ppo_drops():
    new = torch.tensor([[-0.5, -1.0, -1.0, -0.5], [-1.0, -1.0, 0.0, 0.0]])
    old = torch.tensor([[-1.0, -0.5, -1.0, -1.0], [-0.5, -1.0, 0.0, 0.0]])  # ratios 1.65, 0.61, 1, 1.65 | 0.61, 1
    mask = torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0]])
    counts = rl.clip_counts(new, old, torch.tensor([1.0, -1.0]), mask, 0.2, 0.28)
    # clipped: 1.65, 0.61, 1.65 (first row), 0.61 (second) = 4; PPO drops the first row's high ratios (A > 0)
    # and the second row's low one (A < 0) = 3; |log ratio|: 0.5 * 4
    assert counts == pytest.approx({"clipped": 4.0, "no_gradient_under_ppo": 3.0, "abs_log_ratio": 2.0})


def step(prompt, completion, logprobs):
    return {"tokens": {"prompt_ids": prompt, "completion_ids": completion, "completion_logprobs": logprobs}}


def test_samples_merge_turns_that_share_a_prefix():
    state = {"trajectory": [step([1, 2], [3, 4], [-0.1, -0.2]), step([1, 2, 3, 4, 5, 6], [7], [-0.3])]}
    [sample] = rl.samples_from_state(state, advantage=0.25)
    assert sample.ids == [1, 2, 3, 4, 5, 6, 7]
    assert sample.mask == [0, 0, 1, 1, 0, 0, 1]
    assert sample.old_logprobs == [0, 0, -0.1, -0.2, 0, 0, -0.3]
    assert sample.advantage == 0.25
    # a turn whose prompt does not extend the previous one (re-tokenised reply) becomes its own sequence
    state = {"trajectory": [step([1, 2], [3, 4], [-0.1, -0.2]), step([1, 2, 9, 5], [7], [-0.3]),
                            {"tokens": None}]}
    assert [s.ids for s in rl.samples_from_state(state, 1.0)] == [[1, 2, 3, 4], [1, 2, 9, 5, 7]]


def test_groups_whose_rewards_all_agree_are_skipped():
    """0.7 - mean(0.7, 0.7, 0.7) is 1.1e-16, not 0.0: such a group must still carry no sequences."""
    game = {"trajectory": [step([1, 2], [3], [-0.5])]}
    rewards = [0.7, 0.7, 0.7, 1.0, 0.5, 0.5]
    assert rl.group_advantages(rewards, 3)[0] != 0.0  # the float noise the trainer must not train on
    samples = rl.training_samples([game] * 6, rewards, 3)
    assert [x.game for x in samples] == [3, 4, 5]
    assert [x.advantage for x in samples] == pytest.approx([1 / 3, -1 / 6, -1 / 6])
    assert rl.training_samples([game] * 3, [0.5, 0.5, 0.5], 3) == []


def test_every_game_weighs_the_same_in_the_loss():
    """A won game of one turn (+0.5) and a lost game of three turns (-0.5) that wrote the same two tokens
    in every turn: per game the pushes cancel; per token the long game wins and pushes those tokens down."""
    win = [rl.Sample([1, 2], [1, 1], [-1.0, -1.0], 0.5, game=0)]
    loss = [rl.Sample([1, 2], [1, 1], [-1.0, -1.0], -0.5, game=1) for _ in range(3)]
    samples = win + loss
    weighted, denominator = rl.loss_advantages(samples, "game")
    assert weighted == pytest.approx([0.25, -0.5 / 6, -0.5 / 6, -0.5 / 6]) and denominator == 2
    assert rl.loss_advantages(samples, "token") == ([0.5, -0.5, -0.5, -0.5], 8)

    def gradient_on_shared_tokens(normalize):
        weighted, denominator = rl.loss_advantages(samples, normalize)
        logprobs = torch.full((4, 2), -1.0, requires_grad=True)
        rl.cispo_loss(logprobs, logprobs.detach(), torch.tensor(weighted), torch.ones(4, 2),
                      num_tokens=denominator).backward()
        return float(logprobs.grad.sum())

    assert gradient_on_shared_tokens("game") == pytest.approx(0.0, abs=1e-7)
    assert gradient_on_shared_tokens("token") > 0  # descent lowers the tokens both games wrote


def test_settings_are_checked():
    with pytest.raises(ValueError, match="multiple"):
        rl.RLSettings(batch_size=10, rollouts_per_example=4).check()
    with pytest.raises(ValueError, match="at least 2"):
        rl.RLSettings(batch_size=8, rollouts_per_example=1).check()
    with pytest.raises(ValueError, match="normalize"):
        rl.RLSettings(normalize="sequence").check()
    with pytest.raises(ValueError, match="updates_per_batch"):
        rl.RLSettings(updates_per_batch=0).check()
    with pytest.raises(ValueError, match="loss must be one of"):
        rl.RLSettings(loss="grpo").check()
    assert rl.RLSettings(batch_size=256, rollouts_per_example=8).num_groups == 32


@pytest.fixture(scope="module")
def start_model(tmp_path_factory):
    conversations = [teacher_conversation(i) for i in range(40)]
    bootstrap = chat_template.build_tokenizer(["x"], vocab_size=300)
    tokenizer = chat_template.build_tokenizer([chat_template.render(bootstrap, c) for c in conversations], vocab_size=400)
    path = tmp_path_factory.mktemp("rl") / "start"
    tinylm.save(tinylm.new_model(tokenizer, SMALL, seed=3), tokenizer, path)
    return path


TINY_RUN = dict(steps=3, batch_size=8, rollouts_per_example=4, max_tokens=12, checkpoint_every=1,
                micro_batch_size=4, learning_rate=1e-2)


def test_resume_after_kill_gives_the_same_run(start_model, tmp_path):
    reference = rl.Trainer(start_model, tmp_path / "reference", rl.RLSettings(**TINY_RUN))
    log = reference.run(progress=None)
    assert [row["step"] for row in log] == [1, 2, 3]
    assert all(row["trained_sequences"] >= 0 and row["generation_s"] >= 0 for row in log)

    # a second run in a child process, killed with SIGKILL once its first checkpoint exists
    run_dir = tmp_path / "killed"
    code = ("import sys; from rlcourse import rl; "
            f"rl.Trainer(sys.argv[1], sys.argv[2], rl.RLSettings(**{TINY_RUN!r})).run(progress=None)")
    child = subprocess.Popen([sys.executable, "-c", code, str(start_model), str(run_dir)],
                             env={**os.environ, "PYTHONPATH": os.getcwd()})
    state_file = run_dir / "checkpoint" / "state.json"
    deadline = time.time() + 300
    while not state_file.exists() and time.time() < deadline and child.poll() is None:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    saved_step = json.loads(state_file.read_text())["step"]
    assert 1 <= saved_step <= 3

    resumed = rl.Trainer(start_model, run_dir, rl.RLSettings(**TINY_RUN))
    assert resumed.state.step == saved_step
    log_after = resumed.run(progress=None)
    keys = ("reward", "win", "draw", "loss", "trained_sequences", "policy_loss", "entropy")
    assert [[row[k] for k in keys] for row in log_after] == [[row[k] for k in keys] for row in log]
    for (name, a), (_, b) in zip(reference.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), name
    assert not list(run_dir.glob(".checkpoint.tmp-*")), "no half-written checkpoint left behind"


def test_one_cispo_step_moves_probability_towards_the_better_reply(start_model):
    """On a real (tiny) model: after one update, the reply with a positive advantage became more likely
    and the one with a negative advantage less likely."""
    model, tokenizer = tinylm.load(start_model)
    prompt = chat_template.encode_chat(tokenizer, teacher_conversation(0)[:2])
    good = tokenizer("<think>Free: all.</think>\n<move>4</move>", add_special_tokens=False)["input_ids"]
    bad = tokenizer("<move>9</move>", add_special_tokens=False)["input_ids"]
    samples = []
    for reply, advantage in ((good, 0.5), (bad, -0.5)):
        old = tinylm.logprobs_of(model, prompt, reply)
        samples.append(rl.Sample(prompt + reply, [0] * len(prompt) + [1] * len(reply), [0.0] * len(prompt) + old, advantage))
    before = [sum(tinylm.logprobs_of(model, prompt, r)) for r in (good, bad)]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    logprobs, old, mask, _ = rl.token_logprobs(model, samples, 1.0, tokenizer.pad_token_id)
    rl.cispo_loss(logprobs, old, torch.tensor([0.5, -0.5]), mask).backward()
    optimizer.step()
    model.eval()
    after = [sum(tinylm.logprobs_of(model, prompt, r)) for r in (good, bad)]
    assert after[0] > before[0] and after[1] < before[1], (before, after)


def replies_with_advantages(model, tokenizer):
    """Two training sequences on one prompt, a good reply (+0.5) and a bad one (-0.5), with the model's log-probs."""
    prompt = chat_template.encode_chat(tokenizer, teacher_conversation(0)[:2])
    samples = []
    for game, (text, advantage) in enumerate((("<think>Free: all.</think>\n<move>4</move>", 0.5), ("<move>9</move>", -0.5))):
        reply = tokenizer(text, add_special_tokens=False)["input_ids"]
        old = tinylm.logprobs_of(model, prompt, reply)
        samples.append(rl.Sample(prompt + reply, [0] * len(prompt) + [1] * len(reply), [0.0] * len(prompt) + old,
                                 advantage, game))
    return samples


@pytest.mark.parametrize("loss", ["cispo", "ppo"])
def test_several_updates_per_batch_move_the_model_away_from_the_sampler(start_model, tmp_path, loss):
    """The first update is on-policy (every ratio 1); the following ones see the model they have moved."""
    settings = rl.RLSettings(**{**TINY_RUN, "updates_per_batch": 4, "loss": loss, "learning_rate": 3e-2})
    trainer = rl.Trainer(start_model, tmp_path / "run", settings)
    stats = trainer._optimize(replies_with_advantages(trainer.model, trainer.tokenizer))
    first, *later = stats["updates"]
    assert len(stats["updates"]) == 4
    assert first["mean_abs_log_ratio"] < 1e-4 and first["clipped_share"] == 0.0
    assert all(u["mean_abs_log_ratio"] > 1e-3 for u in later), stats["updates"]
    assert stats["updates"][-1]["clipped_share"] > 0, "at this learning rate the ratios leave the clip range"
    assert stats["clipped_share"] == pytest.approx(sum(u["clipped_share"] for u in stats["updates"]) / 4)


def test_micro_batches_cut_from_the_length_sorted_batch_give_the_whole_batch_gradient(start_model, tmp_path):
    """The trainer sorts sequences by length before cutting micro-batches; each keeps its own advantage."""
    trainer = rl.Trainer(start_model, tmp_path / "run", rl.RLSettings(**{**TINY_RUN, "micro_batch_size": 1}))
    samples = replies_with_advantages(trainer.model, trainer.tokenizer)
    assert len(samples[0].ids) > len(samples[1].ids)  # sorting by length swaps the two
    reference = copy.deepcopy(trainer.model)
    weighted, denominator = rl.loss_advantages(samples, trainer.settings.normalize)
    logprobs, old, mask, _ = rl.token_logprobs(reference, samples, 1.0, trainer.tokenizer.pad_token_id)
    rl.cispo_loss(logprobs, old, torch.tensor(weighted), mask, num_tokens=denominator).backward()
    torch.nn.utils.clip_grad_norm_(reference.parameters(), trainer.settings.max_grad_norm)
    trainer._optimize(samples)  # leaves its (clipped) gradient in .grad after the optimizer step
    for (name, a), b in zip(trainer.model.named_parameters(), reference.parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-6), name


def test_a_checkpoint_from_other_settings_is_refused(start_model, tmp_path):
    trainer = rl.Trainer(start_model, tmp_path / "run", rl.RLSettings(**{**TINY_RUN, "steps": 1}))
    trainer.run(progress=None)
    with pytest.raises(ValueError, match="other settings"):
        rl.Trainer(start_model, tmp_path / "run", rl.RLSettings(**{**TINY_RUN, "learning_rate": 0.5}))
    with pytest.raises(ValueError, match="other settings"):
        rl.Trainer(start_model, tmp_path / "run", rl.RLSettings(**{**TINY_RUN, "updates_per_batch": 2}))


def test_a_checkpoint_written_before_a_setting_existed_resumes_with_its_default(start_model, tmp_path):
    trainer = rl.Trainer(start_model, tmp_path / "run", rl.RLSettings(**{**TINY_RUN, "steps": 2}))
    trainer.run(progress=None, stop_after=1)
    state_file = tmp_path / "run" / "checkpoint" / "state.json"
    saved = json.loads(state_file.read_text())
    del saved["settings"]["updates_per_batch"], saved["settings"]["loss"]
    state_file.write_text(json.dumps(saved))
    assert rl.Trainer(start_model, tmp_path / "run", rl.RLSettings(**{**TINY_RUN, "steps": 2})).state.step == 1


def test_moving_average_takes_each_value_with_the_ones_before_it():
    assert rl.moving_average([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]
    assert rl.moving_average([1.0, 3.0, 5.0], 1) == [1.0, 3.0, 5.0]
    assert rl.moving_average([2.0, 4.0, 6.0], 10) == [2.0, 3.0, 4.0]  # fewer values at the start


def test_plot_log_draws_the_moving_average_of_a_long_run(tmp_path):
    log = [{"step": i, "reward": i % 3 / 2, "win_reward": 0.5, "think_move_format": 1.0, "invalid_move_made": 0.0,
            "win": 0.5, "draw": 0.3, "loss": 0.2, "games_with_invalid_moves": 0.1, "entropy": None if i == 4 else 0.05}
           for i in range(1, 31)]
    fig = rl.plot_log(log, tmp_path / "curves.png")
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert labels[:2] == ["reward", "reward, mean of 3 steps"]
    assert (tmp_path / "curves.png").stat().st_size > 0
