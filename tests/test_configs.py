"""The prime-rl configs of the GPU path (configs/*.toml), checked without a GPU and without prime-rl.

prime-rl is not on PyPI and needs CUDA, so these tests cannot load its config classes. They parse
every TOML file and check what can go wrong on our side: the sections prime-rl v0.7.0 requires,
batch arithmetic it enforces, environment arguments that must be real parameters of
``tictactoe.load_environment`` (a misspelt one would otherwise vanish into ``**kwargs``), the SFT
data folder the course pipeline writes, the renderer a local checkpoint needs, and the chain
SFT -> RL 1 -> RL 2 through the weight folders each stage writes.
"""

from __future__ import annotations

import inspect
import re
import tomllib
from pathlib import Path

import pytest
import tictactoe
import verifiers.v1 as vf1

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "configs"
CONFIGS = sorted(CONFIG_DIR.glob("*.toml"))

# Where the course pipeline (lesson 08) writes the SFT games, relative to the repository root:
# <this folder>/train.jsonl, one {"messages": [...]} row per game.
PIPELINE_DATA_DIR = "outputs/pipeline/data"

# Keys prime-rl's orchestrator adds on top of verifiers' EnvServerConfig (checked separately).
PRIME_RL_ENV_KEYS = {"name", "address", "ratio", "max_retries", "sampling", "group_size", "algo",
                     "num_examples", "interval"}

LOAD_PARAMS = inspect.signature(tictactoe.load_environment).parameters
NAMED_PARAMS = {name for name, p in LOAD_PARAMS.items() if p.kind is not inspect.Parameter.VAR_KEYWORD}


def load(path: Path) -> dict:
    with path.open("rb") as f:
        return tomllib.load(f)


def kind(config: dict) -> str:
    if "orchestrator" in config or "trainer" in config:
        return "rl"
    if "data" in config:
        return "sft"
    raise AssertionError("neither an RL config ([trainer], [orchestrator]) nor an SFT config ([data])")


def by_kind(wanted: str) -> list[Path]:
    return [p for p in CONFIGS if kind(load(p)) == wanted]


def is_local_path(name: str) -> bool:
    """A Hub id is 'org/model'; anything else (absolute, ./, ~, several slashes) is a local path."""
    return name.startswith(("/", ".", "~")) or name.count("/") != 1


def envs(config: dict) -> list[tuple[str, dict]]:
    orch = config["orchestrator"]
    found = [("train", env) for env in orch.get("train", {}).get("env", [])]
    found += [("eval", env) for env in orch.get("eval", {}).get("env", [])]
    return found


def small(args: dict) -> dict:
    """The same arguments with small datasets, so building the environment stays fast."""
    groups = args.get("num_groups", 1)
    return {**args, "num_train_examples": min(args.get("num_train_examples", 1000), 2 * groups),
            "num_eval_examples": min(args.get("num_eval_examples", 200), 20)}


def test_the_three_configs_are_there():
    assert {p.name for p in CONFIGS} >= {"sft.toml", "rl.toml", "rl_stage1.toml"}
    assert [p.name for p in by_kind("sft")] == ["sft.toml"]
    assert {p.name for p in by_kind("rl")} == {"rl.toml", "rl_stage1.toml"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_common_sections(path):
    config = load(path)
    assert isinstance(config.get("max_steps"), int) and config["max_steps"] > 0
    assert isinstance(config.get("output_dir"), str) and config["output_dir"].startswith("outputs/prime-rl/")
    name = config["model"]["name"]
    assert isinstance(name, str) and name


def test_output_dirs_are_distinct():
    dirs = [load(p)["output_dir"] for p in CONFIGS]
    assert len(dirs) == len(set(dirs)), dirs


@pytest.mark.parametrize("path", by_kind("sft"), ids=lambda p: p.name)
def test_sft_config(path):
    config = load(path)
    data = config["data"]
    # prime-rl loads a Hub id or a local folder holding train.jsonl; the folder must be the pipeline's.
    assert data["name"] == PIPELINE_DATA_DIR
    assert not data["name"].endswith((".jsonl", ".json", ".parquet"))
    assert isinstance(data["seq_len"], int) and data["seq_len"] >= 512
    assert data["batch_size"] % data.get("micro_batch_size", 1) == 0
    assert data["loss_mask"] == {"system": False, "user": False, "assistant": True, "tool": False}
    assert 0 < config["optim"]["lr"] <= 1e-4
    assert "ckpt" in config, "without [ckpt] the SFT run writes no weights for RL to start from"
    if is_local_path(config["model"]["name"]):
        assert config.get("renderer", {}).get("name", "auto") != "auto"


def test_sft_matches_the_talk():
    config = load(CONFIG_DIR / "sft.toml")
    assert config["model"]["name"] == "LiquidAI/LFM2-2.6B"
    assert (config["max_steps"], config["data"]["batch_size"], config["data"]["seq_len"]) == (30, 32, 700)
    assert config["optim"]["lr"] == 1e-5


@pytest.mark.parametrize("path", by_kind("rl"), ids=lambda p: p.name)
def test_rl_structure(path):
    config = load(path)
    assert isinstance(config.get("trainer"), dict), "prime-rl's RLConfig requires a [trainer] table"
    assert "inference" not in config, "one GPU: vLLM is started separately, not by the rl launcher"
    assert isinstance(config.get("seq_len"), int) and config["seq_len"] >= 256
    assert config["weight_broadcast"]["type"] == "filesystem"
    assert 0 < config["trainer"]["optim"]["lr"] <= 1e-4
    assert config["trainer"].get("loss", {}).get("type", "default") in {"default", "ipo", "custom"}
    orch = config["orchestrator"]
    assert orch["batch_size"] % orch["group_size"] == 0
    assert orch.get("algo", {}).get("type", "grpo") == "grpo"
    sampling = orch["train"]["sampling"]
    assert 0 < sampling["temperature"] <= 2.0
    assert 0 < sampling["max_completion_tokens"] < config["seq_len"]
    ckpt = config["ckpt"]
    assert config["max_steps"] % ckpt["interval"] == 0, "the final step must be a checkpoint step"


@pytest.mark.parametrize("path", by_kind("rl"), ids=lambda p: p.name)
def test_rl_renderer_is_named_for_a_local_checkpoint(path):
    config = load(path)
    renderer = config["orchestrator"].get("renderer", {}).get("name", "auto")
    if is_local_path(config["model"]["name"]):
        assert renderer != "auto", "a local checkpoint is not in prime-rl's renderer map: name one"
    assert renderer in {"auto", "default", "qwen3", "prime-qwen3", "qwen3.5"}


@pytest.mark.parametrize("path", by_kind("rl"), ids=lambda p: p.name)
def test_rl_environments_build_with_their_arguments(path):
    config = load(path)
    for role, env in envs(config):
        assert env["id"] == "tictactoe"
        args = env.get("args", {})
        unknown = set(args) - NAMED_PARAMS
        assert not unknown, f"{role} env {env.get('name')}: not parameters of load_environment: {unknown}"
        built = tictactoe.load_environment(**small(args))
        dataset = built.get_dataset() if role == "train" else built.get_eval_dataset()
        low = args.get("min_random_move_prob", LOAD_PARAMS["min_random_move_prob"].default)
        high = args.get("max_random_move_prob", LOAD_PARAMS["max_random_move_prob"].default)
        probs = [row["info"]["random_move_prob"] for row in dataset]
        assert probs and all(low - 1e-9 <= p <= high + 1e-9 for p in probs)


@pytest.mark.parametrize("path", by_kind("rl"), ids=lambda p: p.name)
def test_rl_env_tables_use_the_verifiers_env_schema(path):
    """Without prime-rl's own keys, each env table must validate as verifiers' EnvServerConfig
    (the base class of prime-rl's EnvConfig), which forbids unknown keys: `id` + `args` select a
    classic environment through the legacy bridge."""
    for _, env in envs(load(path)):
        server_config = vf1.EnvServerConfig(**{k: v for k, v in env.items() if k not in PRIME_RL_ENV_KEYS})
        assert server_config.is_legacy and server_config.env_id == "tictactoe"


@pytest.mark.parametrize("path", by_kind("rl"), ids=lambda p: p.name)
def test_rl_train_env_groups_and_examples_fit_the_batch(path):
    config = load(path)
    orch = config["orchestrator"]
    train = orch["train"]["env"]
    assert len(train) == 1
    args = train[0]["args"]
    groups_per_step = orch["batch_size"] // orch["group_size"]
    if "num_groups" in args:
        assert args["num_groups"] * orch["group_size"] == orch["batch_size"]
    # Enough distinct games that no example repeats during the run.
    assert args["num_train_examples"] >= config["max_steps"] * groups_per_step


@pytest.mark.parametrize("path", by_kind("rl"), ids=lambda p: p.name)
def test_rl_evaluates_against_optimal_and_random_opponents(path):
    config = load(path)
    evals = config["orchestrator"]["eval"]["env"]
    names = [env["name"] for env in evals]
    assert len(names) == len(set(names)), "prime-rl requires unique eval env names"
    ranges = {(env["args"]["min_random_move_prob"], env["args"]["max_random_move_prob"]) for env in evals}
    assert {(0.0, 0.0), (1.0, 1.0)} <= ranges
    sampling = config["orchestrator"]["eval"].get("sampling", {})
    assert sampling.get("max_completion_tokens") == config["orchestrator"]["train"]["sampling"]["max_completion_tokens"]


def test_rl_stages_match_the_talk():
    stage1, stage2 = load(CONFIG_DIR / "rl_stage1.toml"), load(CONFIG_DIR / "rl.toml")
    for config, steps, batch, tokens, prob_range, max_turns in [
        (stage1, 600, 256, 128, (0.2, 0.7), 7),
        (stage2, 400, 480, 64, (0.0, 0.25), 8),
    ]:
        orch = config["orchestrator"]
        args = orch["train"]["env"][0]["args"]
        assert (config["max_steps"], orch["batch_size"], orch["group_size"]) == (steps, batch, 8)
        assert orch["train"]["sampling"]["max_completion_tokens"] == tokens
        assert (args["min_random_move_prob"], args["max_random_move_prob"]) == prob_range
        assert args.get("max_turns", LOAD_PARAMS["max_turns"].default) == max_turns
    assert stage2["orchestrator"]["train"]["sampling"]["temperature"] == 1.25
    assert stage1["orchestrator"]["train"]["env"][0]["args"]["num_train_examples"] == 19_200
    assert stage2["orchestrator"]["train"]["env"][0]["args"]["num_train_examples"] == 24_000


def test_each_stage_starts_from_the_weights_of_the_one_before():
    sft, stage1, stage2 = (load(CONFIG_DIR / name) for name in ("sft.toml", "rl_stage1.toml", "rl.toml"))

    def final_weights(config):
        return f"{config['output_dir']}/weights/step_{config['max_steps']}"

    assert stage1["model"]["name"] == final_weights(sft)
    assert stage2["model"]["name"] == final_weights(stage1)


def test_readme_names_existing_configs_and_the_commands():
    readme = (CONFIG_DIR / "README.md").read_text()
    named = set(re.findall(r"configs/([\w.-]+\.toml)", readme))
    assert named == {p.name for p in CONFIGS}
    for needle in ("v0.7.0", "uv pip install -e", "--inexact", "sft @ configs/sft.toml",
                   "rl @ configs/rl.toml", "--dry-run", "--ckpt.resume-step -1", "--gpu-memory-utilization 0.4",
                   "--model.max-model-len 4096", "vllm serve LiquidAI/LFM2-2.6B", "vf-eval tictactoe",
                   "COURSE_BACKEND=vllm", "VLLM_API_KEY", "not run"):
        assert needle in readme, needle
