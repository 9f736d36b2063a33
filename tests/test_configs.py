"""The prime-rl configs of the GPU path (configs/*.toml), checked without a GPU and without prime-rl.

prime-rl is not on PyPI and needs CUDA, so these tests do not import its config classes. They parse
every TOML file and check what can go wrong on our side: every key against a copy of prime-rl
v0.7.0's own config schema (``SCHEMA`` below) and the cross-field rules its validators enforce; the
sections and batch arithmetic the course relies on; environment arguments that must be real
parameters of ``tictactoe.load_environment`` (a misspelt one would otherwise vanish into ``**kwargs``);
evaluation environments that serve held-out games through the loading path prime-rl uses; the SFT
data folder the course pipeline writes, the renderer a local checkpoint needs, and the chain
SFT -> RL 1 -> RL 2 through the weight folders each stage writes.
"""

from __future__ import annotations

import copy
import difflib
import functools
import inspect
import json
import re
import tomllib
from pathlib import Path

import pytest
import tictactoe
import verifiers as vf
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


# ---------------------------------------------------------------------------------------------
# prime-rl v0.7.0's config schema, copied as plain data.
#
# Source: prime-rl tag v0.7.0, commit d334ea52940b47f426293a7d146239e3fbf91caa,
# packages/prime-rl-configs/src/prime_rl/configs/ (rl.py, sft.py, trainer.py, orchestrator.py, shared.py,
# algorithm.py, inference.py). Env tables add the fields of verifiers' EnvServerConfig at the verifiers
# that v0.7.0 bundles (deps/verifiers = tag v0.2.0, commit 6c64ce6a, verifiers/v1/env.py; the course's
# verifiers 0.2.1 differs there). Renderer tables come from the `renderers` package (the same fields in
# 0.1.8 and 0.1.13.dev17). Every field of each class in declaration order, aliases included, listed from
# those classes themselves; the real classes accept the three configs and refuse the mutated copies
# tested below. Update this copy together with the pinned prime-rl version.
#
# Each table path maps to {key: type}, the types being what TOML yields:
#   str (also for paths), int, bool, list, dict; float (an int is fine too: lr = 1 reads as 1.0);
#   a set: the allowed values (a Literal);  a tuple: any one of its alternatives;
#   TABLE / TABLES: a sub-table / an array of tables, whose keys are listed under their own path;
#   dict: a table whose keys this copy does not list (prime-rl checks them, this test does not).
# Stricter than prime-rl on purpose: a bool is not an int or a float here, nor is a quoted number
# (pydantic's lax mode reads true as 1 and "480" as 480), and the "default" renderer takes no extra keys.
# A table whose class depends on one of its fields (a discriminated union) is listed once per variant as
# "path[field=value]"; VARIANTS names that field and the value prime-rl assumes when it is absent (None:
# the field is required). Deprecated aliases (max_tokens, [[orchestrator.env]], num_workers) are left out.
# ---------------------------------------------------------------------------------------------

TABLE = "table"
TABLES = "array of tables"

VARIANTS = {
    "rl": {"trainer.optim": ("type", "adamw"), "trainer.loss": ("type", "default"),
           "orchestrator.algo": ("type", "grpo"), "orchestrator.renderer": ("name", None)},
    "sft": {"optim": ("type", "adamw"), "scheduler": ("type", "constant"), "data": ("type", "sft"),
            "renderer": ("name", None)},
}

# Classes that appear under two paths (RL: trainer.optim, orchestrator.renderer; SFT: optim, renderer),
# listed once by their variant value.
RENDERERS = {
    "auto": {  # AutoRendererConfig (renderers)
        "thinking_retention": {"tool_cycle", "all"}, "name": {"auto"},
    },
    "default": {  # DefaultRendererConfig (renderers; extra keys refused here)
        "thinking_retention": {"tool_cycle", "all"}, "name": {"default"}, "tool_parser": str,
        "reasoning_parser": str,
    },
    "qwen3": {  # Qwen3RendererConfig (renderers)
        "thinking_retention": {"tool_cycle", "all"}, "name": {"qwen3"}, "enable_thinking": bool,
    },
    "prime-qwen3": {  # PrimeQwen3RendererConfig (renderers)
        "thinking_retention": {"tool_cycle", "all"}, "name": {"prime-qwen3"},
    },
    "qwen3.5": {  # Qwen35RendererConfig (renderers)
        "thinking_retention": {"tool_cycle", "all"}, "name": {"qwen3.5"}, "enable_thinking": bool,
        "add_vision_id": bool, "image_cache_max": int,
    },
}

OPTIMIZERS = {
    "adamw": {  # AdamWConfig (trainer.py)
        "lr": float, "weight_decay": float, "max_norm": float, "type": {"adamw"}, "betas1": float,
        "betas2": float,
    },
    "sgd": {  # SGDConfig (trainer.py)
        "lr": float, "weight_decay": float, "max_norm": float, "type": {"sgd"}, "nesterov": bool,
        "momentum": float,
    },
    "muon": {  # MuonConfig (trainer.py)
        "lr": float, "weight_decay": float, "max_norm": float, "type": {"muon"}, "mu": float, "betas1": float,
        "betas2": float,
    },
    "sign_sgd": {  # SignSGDConfig (trainer.py)
        "lr": float, "weight_decay": float, "max_norm": float, "type": {"sign_sgd"},
    },
}


MODEL = {  # ModelConfig (trainer.py): [trainer.model] in RL, [model] in SFT
    "name": str, "trust_remote_code": bool, "vlm": dict, "conversion_dir": str, "seq_len": int,
    "attn": {"eager", "sdpa", "flash_attention_2", "flash_attention_3", "fa4"}, "compile": dict, "ac": dict,
    "ac_offloading": dict, "fsdp_cpu_offload": bool, "optim_cpu_offload": bool,
    "reshard_after_forward": bool, "dp_replicate": int, "ep": (int, {"auto"}),
    "ep_comm_backend": {"torch", "deepep"}, "deepep_num_sms": int, "deepep_token_chunk_size": int,
    "cp": int, "cp_style": {"ring", "ulysses"}, "impl": {"hf", "custom", "auto"},
    "optimization_dtype": {"bfloat16", "float32"}, "reduce_dtype": {"bfloat16", "float32"},
    "moe_router_dtype": {"bfloat16", "float32"}, "moe_use_grouped_mm": bool, "fp8": bool,
    "index_cache": dict, "freeze_moe_router": bool, "lora": TABLE, "debug": dict,
    "fused_lm_head_token_chunk_size": (int, {"disabled"}),
}

LORA = {  # LoRAConfig (trainer.py): [trainer.model.lora] in RL, [model.lora] in SFT
    "rank": int, "alpha": float, "dropout": float, "target_modules": list, "modules_to_save": list,
}


def variants(path: str, field: str, classes: dict) -> dict:
    """``{"path[field=value]": keys}`` for each variant class."""
    return {f"{path}[{field}={value}]": keys for value, keys in classes.items()}


SCHEMA = {
    "rl": {
        "": {  # RLConfig (rl.py)
            "trainer": TABLE, "orchestrator": TABLE, "inference": TABLE, "env_vars": dict, "output_dir": str,
            "clean_output_dir": bool, "log": TABLE, "ckpt": TABLE, "wandb": TABLE, "model": TABLE,
            "tokenizer": dict, "max_steps": int, "seq_len": int, "weight_broadcast": TABLE, "bench": bool,
            "deployment": dict, "slurm": dict, "dry_run": bool,
        },
        "model": {  # SharedModelConfig (rl.py)
            "name": str, "vlm": dict,
        },
        "ckpt": {  # SharedCheckpointConfig (rl.py)
            "output_dir": str, "interval": int, "resume_step": int, "keep_last": int, "keep_interval": int,
        },
        "weight_broadcast": {  # SharedWeightBroadcastConfig (rl.py)
            "type": {"nccl", "filesystem"}, "port": int, "timeout": int, "quantize_in_weight_transfer": bool,
        },
        "log": {  # SharedLogConfig (rl.py)
            "level": str, "json_logging": bool,
        },
        "wandb": {  # SharedWandbConfig (rl.py)
            "project": str, "entity": str, "name": str, "group": str, "tags": list, "offline": bool,
        },
        "trainer": {  # TrainerConfig (trainer.py)
            "model": TABLE, "tokenizer": dict, "data": dict, "loss": TABLE, "optim": TABLE, "scheduler": dict,
            "ckpt": dict, "weight_broadcast": dict, "rollout_transport": dict, "log": dict, "wandb": dict,
            "output_dir": str, "matmul_precision": {"highest", "high", "medium"}, "max_steps": int,
            "enable_router_replay": bool, "memory_profiler_path": str, "bench": dict, "gc": dict, "trace_path": str,
            "dist_timeout_seconds": int, "heartbeat": dict, "metrics_server": dict, "max_concurrent_runs": int,
            "enable_token_export": bool, "env_vars": dict,
        },
        "trainer.model": MODEL,
        "trainer.model.lora": LORA,
        **variants("trainer.optim", "type", OPTIMIZERS),
        "trainer.loss[type=default]": {  # DefaultLossConfig (trainer.py)
            "type": {"default"}, "dppo_mask_low": float, "dppo_mask_high": float, "adv_tau": float, "kl_tau": float,
        },
        "trainer.loss[type=ipo]": {  # IPOLossConfig (trainer.py)
            "type": {"ipo"}, "ipo_threshold": float, "adv_tau": float, "kl_tau": float,
        },
        "trainer.loss[type=custom]": {  # CustomLossConfig (trainer.py)
            "type": {"custom"}, "import_path": str, "kwargs": dict,
        },
        "orchestrator": {  # OrchestratorConfig (orchestrator.py)
            "algo": TABLE, "model": dict, "train": TABLE, "tokenizer": dict, "renderer": TABLE, "pool_size": int,
            "optim": dict, "eval": TABLE, "pre_batch_filters": list, "post_batch_filters": list, "log": dict,
            "env_vars": dict, "wandb": dict, "prime_monitor": dict, "collect_inference_metrics": bool,
            "inference_metrics_roles": list, "ckpt": dict, "weight_broadcast": dict, "rollout_transport": dict,
            "output_dir": str, "tasks_per_minute": int, "batch_size": int, "token_batch_size": int,
            "oversampling_factor": float, "max_inflight_rollouts": int, "group_size": int,
            "rollouts_per_example": int, "seq_len": int, "num_train_workers": int, "max_steps": int,
            "max_off_policy_steps": int, "bench": bool, "heartbeat": dict,
        },
        "orchestrator.algo[type=grpo]": {  # GRPOAlgoConfig (algorithm.py)
            "sampling": dict, "type": {"grpo"}, "length_penalty": dict,
        },
        **variants("orchestrator.renderer", "name", RENDERERS),
        "orchestrator.train": {  # TrainConfig (orchestrator.py)
            "env": TABLES, "sampling": TABLE,
        },
        "orchestrator.train.sampling": {  # TrainSamplingConfig (orchestrator.py)
            "temperature": float, "max_completion_tokens": int, "extra_body": dict,
        },
        "orchestrator.train.env": {  # TrainEnvConfig (orchestrator.py) on verifiers v0.2.0's EnvServerConfig
            "taskset": dict, "harness": dict, "timeout": dict, "retries": dict, "max_turns": int,
            "max_input_tokens": int, "max_output_tokens": int, "max_total_tokens": int, "multiplex": int, "id": str,
            "args": dict, "extra_env_kwargs": dict, "pool": dict, "name": str, "address": str, "ratio": float,
            "sampling": TABLE, "group_size": int, "rollouts_per_example": int, "algo": dict,
        },
        "orchestrator.train.env.sampling": {  # TrainSamplingConfig (orchestrator.py)
            "temperature": float, "max_completion_tokens": int, "extra_body": dict,
        },
        "orchestrator.eval": {  # EvalConfig (orchestrator.py)
            "env": TABLES, "sampling": TABLE, "num_examples": int, "group_size": int, "rollouts_per_example": int,
            "interval": int, "skip_first_step": bool,
        },
        "orchestrator.eval.sampling": {  # EvalSamplingConfig (orchestrator.py)
            "temperature": float, "top_p": float, "top_k": int, "min_p": float, "max_completion_tokens": int,
            "reasoning_effort": {"minimal", "low", "medium", "high"}, "extra_body": dict,
        },
        "orchestrator.eval.env": {  # EvalEnvConfig (orchestrator.py) on verifiers v0.2.0's EnvServerConfig
            "taskset": dict, "harness": dict, "timeout": dict, "retries": dict, "max_turns": int,
            "max_input_tokens": int, "max_output_tokens": int, "max_total_tokens": int, "multiplex": int, "id": str,
            "args": dict, "extra_env_kwargs": dict, "pool": dict, "name": str, "address": str, "ratio": float,
            "sampling": TABLE, "num_examples": int, "group_size": int, "rollouts_per_example": int, "interval": int,
        },
        "orchestrator.eval.env.sampling": {  # EvalSamplingConfig (orchestrator.py)
            "temperature": float, "top_p": float, "top_k": int, "min_p": float, "max_completion_tokens": int,
            "reasoning_effort": {"minimal", "low", "medium", "high"}, "extra_body": dict,
        },
        "inference": {  # InferenceConfig (inference.py)
            "server": dict, "model": TABLE, "parallel": dict, "log": dict, "env_vars": dict, "enable_lora": bool,
            "max_loras": int, "max_cpu_loras": int, "max_lora_rank": int, "lora_target_modules": list,
            "enable_prefix_caching": bool, "gpu_memory_utilization": float, "api_server_count": int,
            "data_parallel_size_local": int, "data_parallel_rpc_port": int, "seed": int,
            "enable_expert_parallel": bool,
            "all2all_backend": {"allgather_reducescatter", "deepep_high_throughput", "deepep_low_latency",
                                "flashinfer_nvlink_one_sided", "flashinfer_nvlink_two_sided"},
            "enable_eplb": bool, "enable_dbo": bool, "use_deep_gemm": bool, "weight_broadcast": dict,
            "kv_cache_offload": dict, "use_pd_kv_transfer": bool, "enable_return_routed_experts": bool,
            "enable_fp32_lm_head": bool, "enable_fp32_router_logits": bool, "vllm_extra": dict, "deployment": dict,
            "slurm": dict, "output_dir": str, "dry_run": bool,
        },
        "inference.model": {  # ModelConfig (inference.py)
            "name": str, "trust_remote_code": bool, "vlm": dict,
            "dtype": {"auto", "float16", "bfloat16", "float32"}, "max_model_len": int, "enforce_eager": bool,
            "chat_template": str, "tool_call_parser": str, "reasoning_parser": str, "rope_scaling": (dict, str),
        },
    },
    "sft": {
        "": {  # SFTConfig (sft.py)
            "model": TABLE, "env_vars": dict, "tokenizer": dict, "renderer": TABLE, "data": TABLE, "val": dict,
            "optim": TABLE, "scheduler": TABLE, "ckpt": TABLE, "log": dict, "wandb": TABLE, "output_dir": str,
            "clean_output_dir": bool, "matmul_precision": {"highest", "high", "medium"}, "max_steps": int,
            "memory_profiler_path": str, "bench": dict, "gc": dict, "trace_path": str, "dist_timeout_seconds": int,
            "loss_impl": {"liger", "torch", "liger_fused", "quack_fused"}, "heartbeat": dict, "deployment": dict,
            "slurm": dict, "dry_run": bool,
        },
        "model": MODEL,
        "model.lora": LORA,
        **variants("renderer", "name", RENDERERS),
        "data[type=sft]": {  # SFTDataConfig (sft.py)
            "batch_size": int, "seq_len": int, "pack_function": {"cat", "stack"}, "micro_batch_size": int,
            "type": {"sft"}, "name": str, "subsets": list, "splits": list, "probabilities": list,
            "stopping_strategy": {"first_exhausted", "all_exhausted"}, "shuffle": bool, "seed": int,
            "loss_mask": TABLE,
        },
        "data.loss_mask": {  # LossMaskConfig (sft.py)
            "system": bool, "user": bool, "assistant": bool, "tool": bool,
        },
        **variants("optim", "type", OPTIMIZERS),
        "scheduler[type=constant]": {  # ConstantSchedulerConfig (trainer.py)
            "type": {"constant"},
        },
        "scheduler[type=linear]": {  # LinearSchedulerConfig (trainer.py)
            "type": {"linear"}, "warmup_steps": int, "decay_steps": int, "min_lr": float,
        },
        "scheduler[type=cosine]": {  # CosineSchedulerConfig (trainer.py)
            "type": {"cosine"}, "warmup_steps": int, "min_lr": float,
        },
        "ckpt": {  # CheckpointConfig (trainer.py)
            "output_dir": str, "interval": int, "weights": dict, "skip_gather_master_weights": bool,
            "weights_only": bool, "resume_step": int, "keep_last": int, "keep_interval": int, "skip_progress": bool,
            "skip_scheduler": bool, "skip_dataloader": bool, "skip_optimizer": bool,
        },
        "wandb": {  # WandbConfig (shared.py)
            "project": str, "entity": str, "name": str, "group": str, "tags": list, "offline": bool,
        },
    },
}


def matches(value, expected) -> bool:
    """True when a TOML value has the type `expected` (see the notes above SCHEMA)."""
    if isinstance(expected, tuple):
        return any(matches(value, alternative) for alternative in expected)
    if isinstance(expected, set):
        return isinstance(value, str) and value in expected
    if isinstance(value, bool):
        return expected is bool
    if expected is float:
        return isinstance(value, (int, float))
    return isinstance(value, expected)


def describe(expected) -> str:
    if isinstance(expected, tuple):
        return " or ".join(describe(alternative) for alternative in expected)
    if isinstance(expected, set):
        return "one of " + ", ".join(sorted(map(repr, expected)))
    return expected.__name__


def schema_errors(config: dict, kind: str) -> list[str]:
    """Every key that is unknown at its table or of the wrong type ([] if none): what prime-rl v0.7.0
    refuses, plus the few looser cases named above SCHEMA."""
    schema, variants, errors = SCHEMA[kind], VARIANTS[kind], []

    def check(table: dict, path: str) -> None:
        entry = path
        if path in variants:
            field, default = variants[path]
            choice = table.get(field, default)
            if choice is None:
                errors.append(f"[{path}]: '{field}' is required (it selects the kind of table)")
                return
            entry = f"{path}[{field}={choice}]"
            if entry not in schema:
                listed = [k.split("=", 1)[1].rstrip("]") for k in schema if k.startswith(f"{path}[")]
                errors.append(f"[{path}]: {field} = {choice!r} is not one of {listed}")
                return
        allowed = schema[entry]
        for key, value in table.items():
            where = f"{path}.{key}" if path else key
            expected = allowed.get(key)
            if expected is None:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                errors.append(f"{where}: unknown key in [{path or 'top level'}]{hint}")
            elif expected == TABLE:
                if isinstance(value, dict):
                    check(value, where)
                else:
                    errors.append(f"{where}: must be a table, got {value!r}")
            elif expected == TABLES:
                if isinstance(value, list) and all(isinstance(item, dict) for item in value):
                    for item in value:
                        check(item, where)
                else:
                    errors.append(f"{where}: must be an array of tables ([[{where}]])")
            elif not matches(value, expected):
                errors.append(f"{where} = {value!r}: must be {describe(expected)}")

    check(config, "")
    return errors


def lookup(config: dict, dotted: str, default=None):
    """config["a"]["b"] for "a.b", or `default` when a part is missing."""
    node = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


# RLConfig's shared top-level keys and the sub-config copies they fill (prime_rl/utils/validation.py,
# propagate_shared_fields): setting both to different values is an error.
SHARED_COPIES = {
    "seq_len": ("trainer.model.seq_len", "orchestrator.seq_len"),
    "max_steps": ("trainer.max_steps", "orchestrator.max_steps"),
    "model.name": ("trainer.model.name", "orchestrator.model.name", "inference.model.name"),
    "ckpt.output_dir": ("trainer.ckpt.output_dir",),
    "ckpt.interval": ("trainer.ckpt.interval", "orchestrator.ckpt.interval"),
    "ckpt.resume_step": ("trainer.ckpt.resume_step", "orchestrator.ckpt.resume_step"),
    "ckpt.keep_last": ("trainer.ckpt.keep_last", "orchestrator.ckpt.keep_last"),
    "ckpt.keep_interval": ("trainer.ckpt.keep_interval", "orchestrator.ckpt.keep_interval"),
    "wandb.project": ("trainer.wandb.project", "orchestrator.wandb.project"),
}
DEFAULT_SEQ_LEN = 2048  # trainer.model.seq_len and orchestrator.seq_len when nothing sets them


def rule_errors(config: dict, kind: str) -> list[str]:
    """Cross-field rules of prime-rl v0.7.0's validators (rl.py, orchestrator.py, sft.py, trainer.py and
    prime_rl/utils/validation.py) that can be checked on the TOML alone ([] if all hold)."""
    errors = []
    for table in ("ckpt", "trainer.ckpt", "orchestrator.ckpt"):
        for key in ("keep_last", "keep_interval", "interval"):
            value = lookup(config, f"{table}.{key}")
            if isinstance(value, int) and value < 1:
                errors.append(f"{table}.{key} = {value}: must be >= 1")
    if kind == "sft":
        data = config.get("data", {})
        batch, micro = data.get("batch_size", 128), data.get("micro_batch_size", 1)
        if batch % micro or batch < micro:
            errors.append(f"data.batch_size ({batch}) must be a multiple of data.micro_batch_size ({micro})")
        if data.get("pack_function") == "stack" and data.get("seq_len", 128) % 256:
            errors.append("data.seq_len must be divisible by 256 with pack_function = 'stack'")
        return errors

    for required in ("trainer", "orchestrator"):
        if not isinstance(config.get(required), dict):
            errors.append(f"[{required}] is required in an RL config")
    for shared, copies in SHARED_COPIES.items():
        value = lookup(config, shared)
        for copy_path in copies:
            other = lookup(config, copy_path)
            if value is not None and other is not None and other != value:
                errors.append(f"{shared} = {value!r} conflicts with {copy_path} = {other!r}: set it in one place")
    output_dir = config.get("output_dir")
    for copy_path, expected in (("trainer.output_dir", output_dir),
                                ("orchestrator.output_dir", f"{output_dir}/run_default")):
        other = lookup(config, copy_path)
        if output_dir is not None and other is not None and other != expected:
            errors.append(f"{copy_path} = {other!r} conflicts with output_dir = {output_dir!r}")
    # The trainer must take sequences at least as long as the orchestrator builds.
    trainer_seq = lookup(config, "trainer.model.seq_len", config.get("seq_len", DEFAULT_SEQ_LEN))
    orch_seq = lookup(config, "orchestrator.seq_len", config.get("seq_len", DEFAULT_SEQ_LEN))
    if trainer_seq < orch_seq:
        errors.append(f"trainer.model.seq_len ({trainer_seq}) must be >= orchestrator.seq_len ({orch_seq})")
    # Checkpoints on both sides or on neither ([ckpt] fills both).
    trainer_ckpt, orch_ckpt = lookup(config, "trainer.ckpt"), lookup(config, "orchestrator.ckpt")
    if "ckpt" not in config and (trainer_ckpt is None) != (orch_ckpt is None):
        errors.append("[trainer.ckpt] and [orchestrator.ckpt] must both be set, or use [ckpt]")

    orch = config.get("orchestrator", {})
    group = orch.get("group_size", orch.get("rollouts_per_example", 1))
    if "batch_size" in orch and "token_batch_size" in orch:
        errors.append("orchestrator: set batch_size or token_batch_size, not both")
    elif "token_batch_size" not in orch:
        batch = orch.get("batch_size", 128)
        if group < 1 or batch % group:
            errors.append(f"orchestrator.batch_size ({batch}) must be divisible by group_size ({group})")
    temperature = lookup(orch, "train.sampling.temperature", 1.0)
    if not 0 <= temperature <= 2:
        errors.append(f"orchestrator.train.sampling.temperature = {temperature}: must be in [0, 2]")
    for role in ("train", "eval"):
        names = [env.get("name") or env.get("id") for env in lookup(orch, f"{role}.env", [])]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            errors.append(f"orchestrator.{role}.env: names must be unique, repeated: {duplicates}")
    if "eval" in orch and not lookup(orch, "eval.env"):
        errors.append("[orchestrator.eval] needs at least one [[orchestrator.eval.env]]")
    if lookup(orch, "eval.interval", 1) < 1:
        errors.append("orchestrator.eval.interval must be >= 1")
    return errors


# ---------------------------------------------------------------------------------------------
# Held-out evaluation. prime-rl v0.7.0 runs a classic env through verifiers' LegacyEnvServer
# (verifiers v0.2.0, verifiers/v1/legacy.py): vf.load_environment(id, **args), then env.get_dataset(),
# the TRAIN split, for every env, eval envs included (the eval split only when building the train split
# raises ValueError). The orchestrator then evaluates the first `num_examples` of those tasks.
# ---------------------------------------------------------------------------------------------

# What each eval env measures, by its name: the range of the opponent's random-move probability.
EVAL_OPPONENTS = {"tictactoe-vs-optimal": (0.0, 0.0), "tictactoe-vs-random": (1.0, 1.0)}


@functools.lru_cache(maxsize=None)
def _served(env_id: str, args_json: str) -> tuple[dict, ...]:
    env = vf.load_environment(env_id, **json.loads(args_json))
    return tuple(row["info"] for row in env.get_dataset())


def served_games(env: dict) -> tuple[dict, ...]:
    """The `info` of every game prime-rl's bridge serves for an env table (its train split)."""
    return _served(env["id"], json.dumps(env.get("args", {}), sort_keys=True))


def training_seeds(config: dict) -> set[int]:
    """Example seeds of the whole train split of the config's training env (num_train_examples games)."""
    (train_env,) = config["orchestrator"]["train"]["env"]
    return {game["seed"] for game in served_games(train_env)}


def final_weights(config: dict) -> str:
    return f"{config['output_dir']}/weights/step_{config['max_steps']}"


def earlier_rl_stages(config: dict) -> list[dict]:
    """The RL configs whose final weights this one starts from, directly or through another stage."""
    rl_configs = [load(p) for p in by_kind("rl")]
    stages, model = [], config["model"]["name"]
    for _ in rl_configs:
        parent = next((c for c in rl_configs if final_weights(c) == model), None)
        if parent is None:
            break
        stages.append(parent)
        model = parent["model"]["name"]
    return stages


def test_the_three_configs_are_there():
    assert {p.name for p in CONFIGS} >= {"sft.toml", "rl_stage2.toml", "rl_stage1.toml"}
    assert [p.name for p in by_kind("sft")] == ["sft.toml"]
    assert {p.name for p in by_kind("rl")} == {"rl_stage2.toml", "rl_stage1.toml"}


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
    stage1, stage2 = load(CONFIG_DIR / "rl_stage1.toml"), load(CONFIG_DIR / "rl_stage2.toml")
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
    sft, stage1, stage2 = (load(CONFIG_DIR / name) for name in ("sft.toml", "rl_stage1.toml", "rl_stage2.toml"))
    assert stage1["model"]["name"] == final_weights(sft)
    assert stage2["model"]["name"] == final_weights(stage1)


def test_readme_names_existing_configs_and_the_commands():
    readme = (CONFIG_DIR / "README.md").read_text()
    named = set(re.findall(r"configs/([\w.-]+\.toml)", readme))
    assert named == {p.name for p in CONFIGS}
    for needle in ("v0.7.0", "uv pip install -e", "--inexact", "sft @ configs/sft.toml",
                   "rl @ configs/rl_stage2.toml", "--dry-run", "--ckpt.resume-step -1", "--gpu-memory-utilization 0.4",
                   "--model.max-model-len 4096", "vllm serve LiquidAI/LFM2-2.6B", "vf-eval tictactoe",
                   "COURSE_BACKEND=vllm", "VLLM_API_KEY", "not run",
                   'git config --global url."https://github.com/".insteadOf git@github.com:',
                   "v0.8.0 (2026-08-06)", "legacy = {", "seed = 100, num_train_examples = 100"):
        assert needle in readme, needle
    assert "last release" not in readme, "v0.8.0 still runs classic envs (through `legacy = {...}`)"


# ---------------------------------------------------------------------------------------------
# Held-out evaluation (see served_games above).
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", by_kind("rl"), ids=lambda p: p.name)
def test_rl_eval_envs_serve_held_out_games(path):
    """Each eval env, loaded as prime-rl's bridge loads it, serves enough games, none of them a game
    the training env plays, all against the opponent its name says it measures."""
    config = load(path)
    evaluation = config["orchestrator"]["eval"]
    training = training_seeds(config)
    for env in evaluation["env"]:
        name = env["name"]
        games = served_games(env)
        wanted = env.get("num_examples", evaluation.get("num_examples", -1))
        assert len(games) >= wanted, (
            f"{name}: prime-rl serves its train split, {len(games)} games, but the eval takes {wanted}: "
            "set num_train_examples in its args")
        reused = [game["seed"] for game in games if game["seed"] in training]
        assert not reused, (
            f"{name}: {len(reused)} of its {len(games)} games are training games (example seeds {reused[:3]}...): "
            "prime-rl serves the eval env's TRAIN split, so give its args a seed the training env does not use")
        assert name in EVAL_OPPONENTS, f"{name}: unknown eval env, expected one of {sorted(EVAL_OPPONENTS)}"
        low, high = EVAL_OPPONENTS[name]
        off = sorted({g["random_move_prob"] for g in games if not low - 1e-9 <= g["random_move_prob"] <= high + 1e-9})
        assert not off, f"{name}: should face random-move probability {low}-{high}, serves games with {off[:5]}"


@pytest.mark.parametrize("path", by_kind("rl"), ids=lambda p: p.name)
def test_rl_eval_games_are_new_to_earlier_stages_too(path):
    """RL 2 starts from RL 1's weights: its eval games must not be games RL 1 trained on either."""
    config = load(path)
    for stage in earlier_rl_stages(config):
        training = training_seeds(stage)
        for env in config["orchestrator"]["eval"]["env"]:
            reused = [game["seed"] for game in served_games(env) if game["seed"] in training]
            assert not reused, f"{env['name']}: {len(reused)} games were training games of {stage['output_dir']}"


# ---------------------------------------------------------------------------------------------
# prime-rl's schema (SCHEMA, VARIANTS, schema_errors, rule_errors above).
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_key_is_in_prime_rl_schema(path):
    """Every key of every config is a field of prime-rl v0.7.0's classes at that place, with the right type."""
    config = load(path)
    errors = schema_errors(config, kind(config))
    assert not errors, f"{path.name}: not in prime-rl v0.7.0's schema:\n  " + "\n  ".join(errors)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_cross_field_rules_of_prime_rl_hold(path):
    """Shared seq_len / max_steps / ckpt agree with their copies, batch divisible by group_size, keep_last >= 1..."""
    config = load(path)
    errors = rule_errors(config, kind(config))
    assert not errors, f"{path.name}: prime-rl v0.7.0 would refuse:\n  " + "\n  ".join(errors)


def test_the_schema_copy_is_complete():
    """Every TABLE / TABLES key has its own entry, and every variant table has its default listed."""
    for config_kind, schema in SCHEMA.items():
        for path, allowed in schema.items():
            base = path.split("[")[0]
            for key, expected in allowed.items():
                if expected in (TABLE, TABLES):
                    sub = f"{base}.{key}" if base else key
                    assert sub in schema or sub in VARIANTS[config_kind], f"{config_kind}: [{sub}] is not listed"
        for path, (field, default) in VARIANTS[config_kind].items():
            assert default is None or f"{path}[{field}={default}]" in schema, f"{config_kind}: {path} default"


DELETE = object()


def mutated(name: str, dotted: str, value) -> dict:
    """A copy of configs/<name> with `value` set at `dotted` (a number indexes an array of tables;
    tables are created as needed; DELETE removes the key)."""
    config = copy.deepcopy(load(CONFIG_DIR / name))
    *parents, last = dotted.split(".")
    node = config
    for part in parents:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return config


@pytest.mark.parametrize("name, dotted, value, expected", [
    ("rl_stage2.toml", "ckpt.keep_lst", 2, "ckpt.keep_lst: unknown key in [ckpt] (did you mean 'keep_last'?)"),
    ("rl_stage2.toml", "orchestrator.eval.intervall", 25, "orchestrator.eval.intervall: unknown key in [orchestrator.eval]"),
    ("rl_stage1.toml", "ckpt.keep_lst", 2, "ckpt.keep_lst: unknown key in [ckpt]"),
    ("sft.toml", "ckpt.keep_lst", 2, "ckpt.keep_lst: unknown key in [ckpt]"),
    ("rl_stage2.toml", "orchestrator.eval.env.0.nmae", "x", "orchestrator.eval.env.nmae: unknown key"),
    ("rl_stage2.toml", "orchestrator.train.sampling.max_completion_token", 64, "did you mean 'max_completion_tokens'?"),
    ("rl_stage2.toml", "trainer.optim.learning_rate", 1e-6, "trainer.optim.learning_rate: unknown key"),
    ("rl_stage2.toml", "weight_broadcast.type", "disk", "must be one of 'filesystem', 'nccl'"),
    ("rl_stage2.toml", "trainer.loss.type", "cispo", "trainer.loss]: type = 'cispo' is not one of"),
    ("rl_stage2.toml", "orchestrator.renderer.name", DELETE, "[orchestrator.renderer]: 'name' is required"),
    ("sft.toml", "data.loss_mask.assistent", True, "did you mean 'assistant'?"),
    ("sft.toml", "optim", 1e-5, "optim: must be a table"),
])
def test_schema_check_refuses_unknown_keys_and_wrong_types(name, dotted, value, expected):
    """The validator itself, on copies of the real configs with one mistake that prime-rl refuses too."""
    config = mutated(name, dotted, value)
    errors = schema_errors(config, kind(config))
    assert any(expected in error for error in errors), f"{name} with {dotted} = {value!r}: got {errors}"


@pytest.mark.parametrize("name, dotted, value, expected", [
    ("rl_stage2.toml", "orchestrator.batch_size", "480", "orchestrator.batch_size = '480': must be int"),
    ("rl_stage2.toml", "orchestrator.eval.num_examples", True, "orchestrator.eval.num_examples = True: must be int"),
    ("rl_stage2.toml", "orchestrator.renderer.enable_thinking", False, "orchestrator.renderer.enable_thinking: unknown key"),
])
def test_schema_check_is_stricter_than_prime_rl_on_purpose(name, dotted, value, expected):
    """prime-rl lets these through (pydantic reads "480" as 480 and true as 1; the "default" renderer takes
    extra keys), but in a course config they are mistakes, so this check refuses them."""
    config = mutated(name, dotted, value)
    errors = schema_errors(config, kind(config))
    assert any(expected in error for error in errors), f"{name} with {dotted} = {value!r}: got {errors}"


@pytest.mark.parametrize("name, dotted, value", [
    ("rl_stage2.toml", "trainer.model.lora", {"rank": 8, "alpha": 32, "target_modules": ["q_proj", "w1"]}),  # README
    ("rl_stage2.toml", "inference", {"model": {"max_model_len": 4096}}),                                     # README
    ("rl_stage2.toml", "orchestrator.renderer", {"name": "qwen3", "enable_thinking": False}),
    ("rl_stage2.toml", "orchestrator.eval.skip_first_step", True),
    ("rl_stage2.toml", "orchestrator.eval.env.0.rollouts_per_example", 4),
    ("rl_stage2.toml", "ckpt.keep_interval", 100),
    ("rl_stage2.toml", "wandb", {"project": "tictactoe"}),
    ("rl_stage2.toml", "trainer.optim.lr", 1),
    ("sft.toml", "renderer", {"name": "qwen3", "enable_thinking": False}),                           # sft.toml
    ("sft.toml", "scheduler", {"type": "cosine", "warmup_steps": 3, "min_lr": 1e-6}),
])
def test_schema_check_accepts_other_valid_keys(name, dotted, value):
    config = mutated(name, dotted, value)
    assert schema_errors(config, kind(config)) == []


@pytest.mark.parametrize("name, dotted, value, expected", [
    ("rl_stage2.toml", "orchestrator.seq_len", 512, "seq_len = 768 conflicts with orchestrator.seq_len = 512"),
    ("rl_stage2.toml", "trainer.model.seq_len", 1024, "seq_len = 768 conflicts with trainer.model.seq_len = 1024"),
    ("rl_stage2.toml", "seq_len", DELETE, None),  # both sides fall back to 2048: allowed
    ("rl_stage2.toml", "orchestrator.batch_size", 481, "orchestrator.batch_size (481) must be divisible by group_size (8)"),
    ("rl_stage1.toml", "orchestrator.group_size", 7, "must be divisible by group_size (7)"),
    ("rl_stage2.toml", "ckpt.keep_last", 0, "ckpt.keep_last = 0: must be >= 1"),
    ("sft.toml", "ckpt.keep_last", 0, "ckpt.keep_last = 0: must be >= 1"),
    ("rl_stage2.toml", "trainer.ckpt.interval", 25, "ckpt.interval = 50 conflicts with trainer.ckpt.interval = 25"),
    ("rl_stage2.toml", "orchestrator.max_steps", 401, "max_steps = 400 conflicts with orchestrator.max_steps = 401"),
    ("rl_stage2.toml", "orchestrator.train.sampling.temperature", 2.5, "must be in [0, 2]"),
    ("rl_stage2.toml", "orchestrator.eval.env.1.name", "tictactoe-vs-optimal", "names must be unique"),
    ("sft.toml", "data.micro_batch_size", 5, "must be a multiple of data.micro_batch_size (5)"),
])
def test_rule_check_refuses_what_prime_rl_refuses(name, dotted, value, expected):
    """The rule checker itself, on copies of the real configs (expected None: the copy is fine)."""
    config = mutated(name, dotted, value)
    errors = rule_errors(config, kind(config))
    if expected is None:
        assert errors == [], f"{name} with {dotted} = {value!r}: {errors}"
    else:
        assert any(expected in error for error in errors), f"{name} with {dotted} = {value!r}: got {errors}"


def test_rule_check_wants_the_trainer_seq_len_to_cover_the_orchestrator_one():
    config = mutated("rl_stage2.toml", "seq_len", DELETE)
    config["orchestrator"]["seq_len"] = 4096          # trainer.model.seq_len stays at its default, 2048
    assert any("trainer.model.seq_len (2048) must be >= orchestrator.seq_len (4096)" in e
               for e in rule_errors(config, "rl"))
