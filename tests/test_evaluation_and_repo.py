"""Evaluation statistics and table, and checks on the repository itself."""

import inspect
import os
import re
from pathlib import Path

import pytest

from rlcourse.evaluation import (Backend, backend_from_env, format_table, mean_difference, plot_summaries,
                                 tictactoe_summary, wilson_interval)

ROOT = Path(__file__).resolve().parents[1]
ENV_IDS = ["tictactoe", "reverse_text", "double_check", "wiki_search"]


@pytest.mark.parametrize("k,n,low,high", [
    (0, 100, 0.0, 0.0370), (100, 100, 0.9630, 1.0), (50, 100, 0.4038, 0.5962), (86, 100, 0.7786, 0.9148),
])
def test_wilson_interval_matches_published_values(k, n, low, high):
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(low, abs=1e-4) and hi == pytest.approx(high, abs=1e-4)


def test_wilson_interval_refuses_nonsense():
    with pytest.raises(ValueError):
        wilson_interval(3, 0)
    with pytest.raises(ValueError):
        wilson_interval(5, 4)


def test_mean_difference_on_hand_computed_values():
    # paired differences 1, 0, 0: mean 1/3, sample sd sqrt(1/3), standard error 1/3
    gain, low, high = mean_difference([0.0, 0.0, 1.0], [1.0, 0.0, 1.0])
    assert gain == pytest.approx(1 / 3)
    assert low == pytest.approx(1 / 3 - 1.96 / 3) and high == pytest.approx(1 / 3 + 1.96 / 3)
    assert mean_difference([0.5, 0.5], [0.5, 0.5]) == (0.0, 0.0, 0.0)  # no spread, no interval
    with pytest.raises(ValueError):
        mean_difference([1.0, 0.0], [1.0])
    with pytest.raises(ValueError):
        mean_difference([1.0], [0.0])


def fake_row(outcome, fmt=1.0, invalid=0, error=None):
    metrics = {"win": float(outcome == "win"), "draw": float(outcome == "draw"),
               "loss": float(outcome not in ("win", "draw")), "think_move_format": fmt, "invalid_moves": invalid}
    return {"metrics": metrics, "reward": 0.0, "error": error}


def test_tictactoe_summary_counts_games(tmp_path):
    rows = [fake_row("win")] * 6 + [fake_row("draw", fmt=0.5)] * 3 + [fake_row(None, invalid=2)]
    s = tictactoe_summary(rows)
    assert (s["games"], s["win"].value, s["draw"].value, s["loss"].value) == (10, 60.0, 30.0, 10.0)
    assert s["invalid"].value == 10.0 and s["format"].value == pytest.approx(85.0)
    assert s["win"].low < 60.0 < s["win"].high
    errored = tictactoe_summary([fake_row(None, error={"error": "EmptyModelResponseError"})])
    assert errored["invalid"].value == 100.0 and errored["loss"].value == 100.0
    table = format_table({"teacher vs optimal": s})
    assert "teacher vs optimal" in table and "60.0" in table
    plot_summaries({"a": s, "b": s}, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 5000


def test_backend_setting(monkeypatch):
    class Server:
        base_url, api_key_var = "http://127.0.0.1:1/v1", "COURSE_API_KEY"

    monkeypatch.delenv("COURSE_BACKEND", raising=False)
    assert backend_from_env(Server()) == Backend("http://127.0.0.1:1/v1", "COURSE_API_KEY")
    monkeypatch.setenv("COURSE_BACKEND", "openai")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        backend_from_env()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert backend_from_env().base_url == "https://api.openai.com/v1"
    monkeypatch.setenv("COURSE_BACKEND", "nonsense")
    with pytest.raises(ValueError, match="unknown COURSE_BACKEND"):
        backend_from_env()


def test_every_requirement_is_pinned_exactly():
    lines = [l.strip() for l in (ROOT / "requirements.txt").read_text().splitlines()]
    packages = [l for l in lines if l and not l.startswith(("#", "-e "))]
    assert packages and all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[A-Za-z0-9_.+\-]+", l) for l in packages), packages
    assert "verifiers==0.2.1" in packages and "torch==2.13.0" in packages
    editable = {l[3:] for l in lines if l.startswith("-e ")}
    assert editable == {"."} | {f"envs/{env_id}" for env_id in ENV_IDS}


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_env_package_declares_verifiers_range_and_documents_every_argument(env_id):
    pyproject = (ROOT / "envs" / env_id / "pyproject.toml").read_text()
    assert '"verifiers>=0.2.0,<0.3"' in pyproject and "[tool.verifiers.eval]" in pyproject
    module = __import__(env_id)
    readme = (ROOT / "envs" / env_id / "README.md").read_text()
    for name, param in inspect.signature(module.load_environment).parameters.items():
        if param.kind is not inspect.Parameter.VAR_KEYWORD:
            assert f"`{name}`" in readme, f"{env_id} README does not document {name}"
    assert "vf-eval" in readme


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make demo" in readme
    assert os.access(ROOT / ".ci" / "run", os.X_OK)


def test_run_coroutine_works_inside_a_running_event_loop_as_in_jupyter():
    import asyncio

    from rlcourse.clients import run_coroutine

    async def notebook_cell():
        return run_coroutine(asyncio.sleep(0, result=5))

    assert asyncio.run(notebook_cell()) == 5
    with pytest.raises(ZeroDivisionError):
        run_coroutine(_fails())


async def _fails():
    return 1 / 0
