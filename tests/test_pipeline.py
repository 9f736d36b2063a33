"""The whole `make demo` story in quick mode: data -> SFT -> RL -> evaluation -> audit.

What a quick run can promise on every machine. Quick SFT lands on a different model on each machine,
and 12 steps of RL raise its sampled reward by a few hundredths, about as much as the comparison's own
95% interval (docs/results.md measures it from several SFT models). So the test checks that RL ran and
changed the model, and that it did not make sampled play significantly worse (the interval of the
gain reaches above 0): if RL truly did no harm, that fails on at most 2.5% of machines; with the gains
measured, far more rarely. That one update moves the policy towards above-average replies is tested
exactly in test_rl.py.
"""

import json

import pytest
import torch

from rlcourse import chat_template, data, tinylm
from rlcourse.pipeline import Pipeline, PipelineSettings, default_out_dir


@pytest.mark.timeout(1800)  # one quick pipeline run, one that reuses it, one more RL stage: 342 s on the build machine
def test_quick_pipeline_runs_end_to_end(tmp_path):
    out = tmp_path / "pipeline"
    lines: list[str] = []
    results = Pipeline(out, PipelineSettings.quick(), log=lines.append).run()

    # SFT data: filtered teacher games, in both formats
    conversations = data.load_sft_data(out / "data")
    assert conversations and all(c[-1]["role"] == "assistant" for c in conversations)
    assert (out / "data" / "hf" / "dataset_info.json").exists()

    # three models that load with the Auto classes, plus the plots and the report
    for name in ("ttt-base", "ttt-sft", "ttt-rl"):
        model, tokenizer = tinylm.load(out / "models" / name)
        assert tokenizer.chat_template == chat_template.CHAT_TEMPLATE
    for name in ("sft_loss.png", "rl_curves.png", "results.png", "results.md", "results.json"):
        assert (out / name).stat().st_size > 0
    assert json.loads((out / "results.json").read_text())["table"] == results["table"]

    # the table covers every model against both opponents, on the same number of games
    table = results["table"]
    for model in ("tiny/ttt-base", "tiny/ttt-sft", "tiny/ttt-rl", "scripted/ttt-heuristic"):
        for opponent in ("random", "optimal"):
            assert table[f"{model} vs {opponent}"]["games"] == PipelineSettings.quick().eval_games
    # the untrained model cannot play; SFT teaches the format and fewer invalid moves. Measured for the
    # quick SFT model: 100% of turns well formed (a half-width model gave 37-87% over seven runs), 0% for
    # the base model; the bound sits far below, as the short run is sensitive to the CPU's arithmetic
    for opponent in ("random", "optimal"):
        base, sft_model = table[f"tiny/ttt-base vs {opponent}"], table[f"tiny/ttt-sft vs {opponent}"]
        assert base["format"]["value"] < 10
        assert sft_model["format"]["value"] > 20
        assert sft_model["invalid"]["value"] < base["invalid"]["value"]

    # RL ran every step, trained on the groups that disagreed, and changed the weights
    log = results["rl"]
    steps = sum(stage.steps for stage in PipelineSettings.quick().rl_stages)
    assert [row["step"] for row in log] == list(range(1, steps + 1))
    assert any(row["trained_sequences"] > 0 for row in log)
    sft_model, _ = tinylm.load(out / "models" / "ttt-sft")
    rl_model, _ = tinylm.load(out / "models" / "ttt-rl")
    assert any(not torch.equal(a, b) for a, b in zip(sft_model.state_dict().values(), rl_model.state_dict().values()))

    # the reward RL maximises (sampled games, the same held-out games for both models, paired) did not
    # get clearly worse. Tested at the 99.9% level (z = 3.29), not at the report's 95%: from some quick SFT
    # models RL gains about nothing (docs/results.md), and a 95% test would then fail on 1 machine in 40.
    sampled = results["sampled"]
    assert sampled["games"] == PipelineSettings.quick().sampled_games
    assert sampled["low"] <= sampled["gain"] <= sampled["high"]
    assert sampled["gain"] == pytest.approx(sampled["tiny/ttt-rl"] - sampled["tiny/ttt-sft"])
    standard_error = (sampled["high"] - sampled["low"]) / (2 * 1.96)
    assert sampled["gain"] + 3.29 * standard_error > 0, sampled

    # the audit covers every line of play from both starts
    for name in ("ttt-sft", "ttt-rl", "scripted/ttt-heuristic"):
        result = results["audit"][name]
        assert result["lines"] == result["wins"] + result["draws"] + result["losses"] + result["invalid"] > 0

    # a second run reuses every phase instead of training again
    again: list[str] = []
    Pipeline(out, PipelineSettings.quick(), log=again.append).run()
    assert sum("reusing" in line for line in again) == 4

    # a different SFT model (here: its phase marker says other settings) makes RL start over, neither
    # reusing nor resuming the run that began from the old one
    sft_phase = out / "models" / "ttt-sft" / "phase.json"
    marker = json.loads(sft_phase.read_text())
    marker["sft"]["seed"] += 1
    sft_phase.write_text(json.dumps(marker))
    third: list[str] = []
    rl_log = Pipeline(out, PipelineSettings.quick(), log=third.append).run_rl(out / "models" / "ttt-sft")
    assert not any("reusing" in line or "resuming" in line for line in third)
    assert [row["step"] for row in rl_log] == [row["step"] for row in log]
    assert json.loads((out / "runs" / "rl-stage1" / "origin.json").read_text())["start"] == marker


def test_quick_mode_never_writes_into_the_full_runs_folder(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "1")
    assert Pipeline().out.as_posix() == default_out_dir() == "outputs/pipeline-quick"
    monkeypatch.setenv("COURSE_QUICK", "0")
    assert Pipeline().out.as_posix() == "outputs/pipeline"


def test_the_story_option_picks_settings_and_a_folder_of_its_own(monkeypatch):
    from rlcourse import pipeline

    started: list[Pipeline] = []
    monkeypatch.setattr(Pipeline, "run", lambda self: started.append(self))
    for quick in ("0", "1"):
        monkeypatch.setenv("COURSE_QUICK", quick)
        pipeline.main(["--story", "talk"])
        talk = started[-1]
        assert talk.out.as_posix() == "outputs/pipeline-talk"  # never a strong story's models
        assert talk.settings.teacher == pipeline.CARELESS_TEACHER and talk.settings.data_games == 200
        assert len(talk.settings.rl_stages) == 2
        assert talk.settings.rl_stages[1].max_random_move_prob < talk.settings.rl_stages[0].max_random_move_prob
    monkeypatch.setenv("COURSE_QUICK", "0")
    pipeline.main([])
    assert started[-1].out.as_posix() == "outputs/pipeline" and started[-1].settings == PipelineSettings()
    with pytest.raises(SystemExit):
        pipeline.main(["--story", "weak"])
