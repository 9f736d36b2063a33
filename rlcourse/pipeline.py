"""The whole story in one run (`make demo`): from an untrained tiny model to a Tic-Tac-Toe master.

1. Teacher games through the environment -> filtered SFT data (JSONL + datasets) -> tokenizer.
2. An untrained tiny model, ``tiny/ttt-base``.
3. SFT warm-up with TRL -> ``tiny/ttt-sft``.
4. RL (GRPO + CISPO), one or more stages -> ``tiny/ttt-rl`` (earlier stages also as ``tiny/ttt-rl1``, ...).
5. Evaluation of base, SFT, RL and the teacher on the same seeded games, through the local server.
6. The exhaustive audit of the greedy policies.

Everything lands in one folder (``outputs/pipeline`` by default, ``outputs/pipeline-quick`` in quick
mode): data, models, run logs and checkpoints, plots, ``results.json`` and ``results.md``.
``COURSE_QUICK=1`` runs a small version in a few minutes (what the tests use). ``--story talk`` runs the
talk's arc instead (:meth:`PipelineSettings.talk`, into ``outputs/pipeline-talk``). A phase whose output
exists with the same settings is reused, and an RL stage that was interrupted resumes from its last
checkpoint, so re-running after a crash continues where it stopped; ``--fresh`` starts over.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import verifiers as vf

from rlcourse import audit, chat_template, data, quick_mode, rl, sft, tiny_policy, tinylm
from rlcourse.evaluation import (Backend, backend_from_env, evaluate, format_table, mean_difference, plot_summaries,
                                 tictactoe_summary)
from rlcourse.clients import InProcessClient
from rlcourse.server import LocalServer

SAMPLED_SEED = 7  # the held-out games of the sampled-reward comparison (RL trains on its own seed's train split)
TEACHER = "scripted/ttt-heuristic"  # default; COURSE_TEACHER=gpt-5-mini (with COURSE_BACKEND=openai) uses an API model
CARELESS_TEACHER = "scripted/ttt-careless"  # the talk-strength teacher of ``PipelineSettings.talk()``
DEFAULT_OUT = "outputs/pipeline"  # quick mode writes beside it, to outputs/pipeline-quick, and never replaces it
OPPONENTS = {"random": 1.0, "optimal": 0.0}
# SFT and RL run alone in this process, so they use the cores: 2 threads trained 1.5x faster than 1 on
# a 2-core machine (measured). Capped at 4 because the matrices are small (more was not measured).
# COURSE_TRAIN_THREADS overrides.
TRAIN_THREADS = int(os.environ.get("COURSE_TRAIN_THREADS", min(4, os.cpu_count() or 1)))


@dataclass
class PipelineSettings:
    """Every setting of the story. The defaults are the full run of `make demo`; :meth:`quick` is the small one."""

    data_games: int = 8000
    vocab_size: int = 1024
    model: tinylm.ModelSize = field(default_factory=tinylm.ModelSize)
    sft: sft.SFTSettings = field(default_factory=lambda: sft.SFTSettings(max_steps=600, batch_size=64, learning_rate=3e-3))
    # RL at temperature 1.0 and a small learning rate: the SFT model is very sure of itself, so at lower
    # temperatures most groups of 8 games end the same way and teach nothing; and with AdamW every step
    # moves each weight by about the learning rate however weak the signal, so a larger rate mostly adds
    # noise. The measurements behind both choices are in docs/results.md.
    rl_stages: list[rl.RLSettings] = field(default_factory=lambda: [
        rl.RLSettings(steps=20, batch_size=256, rollouts_per_example=8, temperature=1.0, learning_rate=5e-5,
                      min_random_move_prob=0.0, max_random_move_prob=1.0, max_turns=6, micro_batch_size=64,
                      checkpoint_every=4, seed=1),
    ])
    eval_games: int = 200
    eval_max_tokens: int = 48
    sampled_games: int = 256  # held-out games for the sampled-reward comparison of SFT and RL
    seed: int = 0
    teacher: str = field(default_factory=lambda: os.environ.get("COURSE_TEACHER", TEACHER))

    @classmethod
    def quick(cls) -> "PipelineSettings":
        """A few minutes on a laptop: less data, short runs (what the tests use).

        SFT runs 300 steps on 1,000 games with the full-size model (a half-width model was twice as fast
        but its format varied from run to run). The short SFT run lands on rather different models on
        different machines, so RL must help from any of them: 12 steps of 128 games (16 groups), because
        with 8 groups per step RL made some of those models worse. The SFT-vs-RL comparison plays 512
        held-out games per model (a 95% interval of about +-0.05). Measured in docs/results.md.
        """
        return cls(
            data_games=1000,
            sft=sft.SFTSettings(max_steps=300, batch_size=32, learning_rate=3e-3, warmup_steps=10, logging_steps=10),
            rl_stages=[rl.RLSettings(steps=12, batch_size=128, rollouts_per_example=8, temperature=1.0,
                                     learning_rate=1e-4, max_tokens=40, max_turns=6, micro_batch_size=64,
                                     checkpoint_every=4, seed=1)],
            eval_games=20,
            sampled_games=512,
            eval_max_tokens=40,
        )

    @classmethod
    def talk(cls) -> "PipelineSettings":
        """The talk's arc: a teacher as strong as the talk's, a small SFT set, then RL in two stages.

        The teacher is ``scripted/ttt-careless`` (about 89% wins against the random opponent and 77%
        draws against the optimal one, like the talk's gpt-5-mini) or ``COURSE_TEACHER``. 200 of its
        games and a short SFT give a student that follows the format and plays passably, with invalid
        moves left (measured: 73.5% draws against the optimal opponent, 9% games with an invalid move),
        so RL has work to do: 40 steps against opponents of every strength, then 20 against stronger
        ones. Measured in docs/results.md ("The talk's arc").
        """
        stage = dict(batch_size=256, rollouts_per_example=8, temperature=1.0, learning_rate=1e-4,
                     max_tokens=48, max_turns=6, micro_batch_size=64, checkpoint_every=5)
        return cls(
            data_games=200,
            teacher=os.environ.get("COURSE_TEACHER", CARELESS_TEACHER),
            sft=sft.SFTSettings(max_steps=600, batch_size=32, learning_rate=3e-3, warmup_steps=10, logging_steps=10),
            rl_stages=[rl.RLSettings(steps=40, min_random_move_prob=0.0, max_random_move_prob=1.0, seed=1, **stage),
                       rl.RLSettings(steps=20, min_random_move_prob=0.0, max_random_move_prob=0.5, seed=2, **stage)],
        )


STORIES = {"strong": PipelineSettings, "talk": PipelineSettings.talk}


def default_out_dir(story: str = "strong") -> str:
    """``outputs/pipeline``, ``outputs/pipeline-quick`` in quick mode (a quick run never replaces full models), or
    ``outputs/pipeline-talk`` for the talk's arc."""
    if story == "talk":  # no quick version: quick mode's settings are the strong story's
        return DEFAULT_OUT + "-talk"
    return DEFAULT_OUT + ("-quick" if quick_mode() else "")


class Pipeline:
    def __init__(self, out_dir: str | Path | None = None, settings: PipelineSettings | None = None,
                 log=print):
        self.out = Path(out_dir or default_out_dir())
        self.settings = settings or (PipelineSettings.quick() if quick_mode() else PipelineSettings())
        self.log = log
        self.models = self.out / "models"
        self.timings: dict[str, float] = {}

    # -- helpers --------------------------------------------------------------------------------

    def _reusable(self, folder: Path, settings: dict) -> bool:
        """True if ``folder`` holds the output of a finished phase run with exactly ``settings``: reuse it."""
        marker = folder / "phase.json"
        return marker.exists() and json.loads(marker.read_text()) == json.loads(json.dumps(settings))

    def _mark(self, folder: Path, settings: dict) -> None:
        (folder / "phase.json").write_text(json.dumps(settings, indent=1))

    def _timed(self, name: str, start: float) -> None:
        self.timings[name] = round(time.time() - start, 1)
        self.log(f"   ({self.timings[name]} s)")

    # -- phases ---------------------------------------------------------------------------------

    def make_data(self) -> list[list[dict]]:
        s = self.settings
        folder = self.out / "data"
        phase = {"teacher": s.teacher, "games": s.data_games, "seed": data.DATA_SEED}
        if self._reusable(folder, phase):
            self.log(f"1. SFT data: reusing {folder}")
            return data.load_sft_data(folder)
        start = time.time()
        scripted = s.teacher.startswith("scripted/")
        kind = "a scripted stand-in" if scripted else f"through COURSE_BACKEND={os.environ.get('COURSE_BACKEND', 'local')}"
        self.log(f"1. SFT data: {s.data_games} games by the teacher ({s.teacher}, {kind}) ...")
        env = vf.load_environment("tictactoe", num_eval_examples=s.data_games, seed=data.DATA_SEED)
        client = InProcessClient(s.teacher) if scripted else backend_from_env()
        rows = evaluate(env, s.teacher, client, num_examples=s.data_games, sampling_args={"seed": s.seed},
                        max_concurrent=256 if scripted else 16, state_columns=["outcome"])
        conversations = [data.conversation(r) for r in rows if data.is_good_game(r)]
        data.save_sft_data(conversations, folder)
        self._mark(folder, phase)
        self.log(f"   kept {len(conversations)} of {len(rows)} games (wins and draws, perfect format) -> {folder}")
        self._timed("data", start)
        return conversations

    def make_base(self, conversations: list[list[dict]]) -> Path:
        s = self.settings
        path = self.models / "ttt-base"
        phase = {"vocab_size": s.vocab_size, "model": asdict(s.model), "seed": s.seed, "data": len(conversations),
                 "template": chat_template.TEMPLATE_ID}
        if self._reusable(path, phase):
            self.log(f"2. Base model: reusing {path}")
            return path
        start = time.time()
        bootstrap = chat_template.build_tokenizer(["bootstrap"], vocab_size=300)  # only its chat template is used
        examples = [t for c in conversations for t in data.turn_examples(c)]  # what SFT trains on
        tokenizer = chat_template.build_tokenizer([chat_template.render(bootstrap, t) for t in examples], s.vocab_size)
        model = tinylm.new_model(tokenizer, s.model, seed=s.seed)
        tinylm.save(model, tokenizer, path)
        self._mark(path, phase)
        lengths = data.token_lengths(tokenizer, examples)
        self.log(f"2. Base model: {tinylm.count_parameters(model) / 1e6:.2f} M parameters, vocabulary "
                 f"{len(tokenizer)}; training examples (one per turn) are {min(lengths)}-{max(lengths)} tokens, "
                 f"{100 * data.share_within(lengths, s.sft.seq_len):.1f}% fit in seq_len {s.sft.seq_len}")
        self._timed("base", start)
        return path

    def run_sft(self, base: Path, conversations: list[list[dict]]) -> dict:
        s = self.settings
        path = self.models / "ttt-sft"
        phase = {"sft": asdict(s.sft), "base": json.loads((base / "phase.json").read_text())}
        if self._reusable(path, phase):
            self.log(f"3. SFT: reusing {path}")
            return json.loads((path / "sft_log.json").read_text())
        start = time.time()
        self.log(f"3. SFT warm-up with TRL: {s.sft.max_steps} steps of {s.sft.batch_size} examples (one reply each) ...")
        model, tokenizer = tinylm.load(base)
        with tinylm.torch_threads(TRAIN_THREADS):
            info = sft.train_sft(model, tokenizer, conversations, path, s.sft, progress=True)
        (path / "sft_log.json").write_text(json.dumps(info))
        shutil.rmtree(path.with_name(path.name + "-trainer"), ignore_errors=True)
        self._mark(path, phase)
        sft.plot_loss(info["loss"], self.out / "sft_loss.png")
        self.log(f"   loss {info['loss'][0]['loss']:.3f} -> {info['loss'][-1]['loss']:.3f}")
        self._timed("sft", start)
        return info

    def run_rl(self, start_path: Path) -> list[dict]:
        s = self.settings
        final = self.models / "ttt-rl"
        phase = {"stages": [asdict(x) for x in s.rl_stages],
                 "start": json.loads((start_path / "phase.json").read_text())}
        if self._reusable(final, phase):
            self.log(f"4. RL: reusing {final}")
            return [row for i in range(len(s.rl_stages)) for row in rl.read_log(self.out / "runs" / f"rl-stage{i + 1}")]
        start = time.time()
        logs: list[dict] = []
        current = start_path
        for i, stage in enumerate(s.rl_stages, 1):
            run_dir = self.out / "runs" / f"rl-stage{i}"
            stage_out = run_dir / "final"
            self.log(f"4.{i} RL stage {i}: {stage.steps} steps x {stage.batch_size} games "
                     f"({stage.num_groups} examples x {stage.rollouts_per_example}), opponent random-move "
                     f"probability {stage.min_random_move_prob}-{stage.max_random_move_prob}, temperature "
                     f"{stage.temperature}")
            # a stage is identified by its settings and by the model it starts from (that model's own
            # phase.json), so a new SFT model or an earlier stage run again makes this stage start over
            start_phase = json.loads((current / "phase.json").read_text())
            identity = json.loads(json.dumps({"stage": asdict(stage), "start": start_phase}))
            if not self._reusable(stage_out, identity):
                origin = run_dir / "origin.json"
                if run_dir.exists() and (not origin.exists() or json.loads(origin.read_text()) != identity):
                    shutil.rmtree(run_dir)  # the run of another configuration or start model: start over
                run_dir.mkdir(parents=True, exist_ok=True)
                origin.write_text(json.dumps(identity, indent=1))
                trainer = rl.Trainer(current, run_dir, stage)
                if trainer.state.step:
                    self.log(f"   resuming from the checkpoint at step {trainer.state.step}")
                every = max(1, stage.steps // 10)
                with tinylm.torch_threads(TRAIN_THREADS):
                    trainer.run(stage_out, progress=lambda row: self.log("   " + rl.format_step(row))
                                if row["step"] % every == 0 or row["step"] == 1 else None)
                self._mark(stage_out, identity)
            stage_log = rl.read_log(run_dir)
            for row in stage_log:
                row["stage"] = i
            logs += stage_log
            current = stage_out
            if i < len(s.rl_stages):  # the earlier stages' models are evaluated too, like the talk's RL 1
                model, tokenizer = tinylm.load(stage_out)
                tinylm.save(model, tokenizer, self.models / f"ttt-rl{i}")
        model, tokenizer = tinylm.load(current)
        tinylm.save(model, tokenizer, final)
        self._mark(final, phase)
        rl.plot_log(logs, self.out / "rl_curves.png", title="RL on tictactoe (training games)")
        self._timed("rl", start)
        return logs

    def evaluate_all(self, models: list[str]) -> dict[str, dict]:
        s = self.settings
        start = time.time()
        summaries: dict[str, dict] = {}
        with LocalServer(models_dir=self.models) as server:
            local = Backend(server.base_url, server.api_key_var)
            for opponent, p in OPPONENTS.items():
                env = vf.load_environment("tictactoe", num_eval_examples=s.eval_games, min_random_move_prob=p,
                                          max_random_move_prob=p)
                for model in models:
                    # the course's own players on the local server; an API teacher where COURSE_BACKEND says
                    backend = local if model.startswith(("tiny/", "scripted/")) else backend_from_env()
                    # greedy tiny models; a scripted or API teacher samples, and with a random stream per
                    # game (game_seed) its row estimates its real strength, not one fixed draw of its choices
                    sampling = {"temperature": 0.0, "max_tokens": s.eval_max_tokens}
                    # every game at once: the server batches them (a bigger batch generates faster)
                    rows = evaluate(env, model, backend, num_examples=s.eval_games, sampling_args=sampling,
                                    max_concurrent=256, state_columns=["outcome"], game_seed=2026)
                    summaries[f"{model} vs {opponent}"] = tictactoe_summary(rows)
        self._timed("evaluation", start)
        return summaries

    def compare_sampled(self) -> dict:
        """What RL maximises: the mean reward of games sampled at the RL temperature, SFT against RL.

        The table's greedy play changes only where RL makes another move the most likely one; the
        sampled reward moves with every shift of probability. Both models play the same held-out games
        (the eval split of a seed RL never trains on, opponents over the last stage's range). Every game
        draws its own random stream (``game_seed``), the same one for both models, so the games are
        independent samples and the comparison is paired game by game: the interval is over games.
        """
        s = self.settings
        start = time.time()
        stage = s.rl_stages[-1]
        env = vf.load_environment("tictactoe", num_eval_examples=s.sampled_games, seed=SAMPLED_SEED,
                                  min_random_move_prob=stage.min_random_move_prob,
                                  max_random_move_prob=stage.max_random_move_prob, max_turns=stage.max_turns)
        sampling = {"temperature": stage.temperature, "max_tokens": stage.max_tokens}
        rewards = {}
        for name in ("ttt-sft", "ttt-rl"):
            # the same model id for both, so that the same game gets the same random numbers
            policy = tiny_policy.TinyModelPolicy.from_pretrained(self.models / name, name="tiny/ttt")
            rows = evaluate(env, "tiny/ttt", InProcessClient(policy), num_examples=s.sampled_games,
                            sampling_args=sampling, max_concurrent=256, game_seed=SAMPLED_SEED)
            rewards[name] = [float(r["reward"] or 0.0) for r in sorted(rows, key=lambda r: r["example_id"])]
        gain, low, high = mean_difference(rewards["ttt-sft"], rewards["ttt-rl"])
        result = {"games": s.sampled_games, "temperature": stage.temperature,
                  "tiny/ttt-sft": sum(rewards["ttt-sft"]) / s.sampled_games,
                  "tiny/ttt-rl": sum(rewards["ttt-rl"]) / s.sampled_games, "gain": gain, "low": low, "high": high}
        self.log(f"   sampled at temperature {stage.temperature} on {s.sampled_games} held-out games, the mean reward "
                 f"went from {result['tiny/ttt-sft']:.3f} (SFT) to {result['tiny/ttt-rl']:.3f} (RL)")
        self._timed("sampled", start)
        return result

    def audit_all(self, names: list[str]) -> dict[str, audit.AuditResult]:
        start = time.time()
        results = {name: audit.audit_model(self.models / name) for name in names}
        self._timed("audit", start)
        return results

    # -- the whole story ------------------------------------------------------------------------

    def run(self) -> dict:
        started = time.time()
        self.out.mkdir(parents=True, exist_ok=True)
        conversations = self.make_data()
        base = self.make_base(conversations)
        sft_info = self.run_sft(base, conversations)
        rl_log = self.run_rl(self.models / "ttt-sft")
        sampled = self.compare_sampled()
        self.log("5. Evaluation on the same seeded games (greedy decoding), through the local server ...")
        teacher = self.settings.teacher
        tiny = ["ttt-sft", *[f"ttt-rl{i}" for i in range(1, len(self.settings.rl_stages))], "ttt-rl"]
        summaries = self.evaluate_all(["tiny/ttt-base", *[f"tiny/{name}" for name in tiny], teacher])
        table = format_table(summaries)
        self.log("6. Exhaustive audit of the greedy policies (every opponent reply, both starts) ...")
        audits = self.audit_all(tiny)
        if teacher.startswith("scripted/"):
            audits[teacher] = audit.audit(audit.scripted_move_fn(teacher))
        else:  # some 2,000 requests to a paid API: left out
            self.log(f"   (the teacher {teacher} is not audited: the audit would send it thousands of requests)")
        self.timings["total"] = round(time.time() - started, 1)
        games = self.settings.eval_games
        lines = [f"{games} seeded games per row, % [95% CI]; the same games for every model.", "", table, "",
                 "Exhaustive audit (lines = every game the policy can meet):"]
        lines += [f"  {name:<24} {result.summary()}" for name, result in audits.items()]
        lines += ["", f"What RL maximises, the mean reward of sampled games (temperature {sampled['temperature']}, "
                      f"{sampled['games']} held-out games, the same for both):",
                  f"  tiny/ttt-sft {sampled['tiny/ttt-sft']:.3f} -> tiny/ttt-rl {sampled['tiny/ttt-rl']:.3f}: "
                  f"{sampled['gain']:+.3f} [95% CI {sampled['low']:+.3f} to {sampled['high']:+.3f}]"]
        lines += ["", "Seconds per phase: " + ", ".join(f"{k} {v}" for k, v in self.timings.items())]
        report = "\n".join(lines)
        self.log("\n" + report)
        results = {
            "settings": json.loads(json.dumps(asdict(self.settings))),
            "table": {label: {k: (v if k in ("games", "reward") else {"value": v.value, "low": v.low, "high": v.high})
                              for k, v in summary.items()} for label, summary in summaries.items()},
            "audit": {name: asdict(result) | {"failed": result.failed} for name, result in audits.items()},
            "sft": {"loss": sft_info["loss"], "seconds": sft_info["seconds"]},
            "rl": rl_log,
            "sampled": sampled,
            "seconds": self.timings,
        }
        (self.out / "results.json").write_text(json.dumps(results, indent=1))
        (self.out / "results.md").write_text("```\n" + report + "\n```\n")
        plot_summaries(summaries, self.out / "results.png", title=f"Tic-Tac-Toe, {games} games per row")
        self.log(f"\nEverything is in {self.out}/ (results.md, results.json, *.png, models/, runs/, data/)")
        return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Teacher data -> SFT -> RL -> evaluation -> audit, on the CPU.")
    parser.add_argument("--out", default=None, help=f"output folder (default {DEFAULT_OUT}, {DEFAULT_OUT}-quick "
                        f"with COURSE_QUICK=1, {DEFAULT_OUT}-talk with --story talk)")
    parser.add_argument("--fresh", action="store_true", help="delete the output folder first")
    parser.add_argument("--story", choices=sorted(STORIES), default="strong",
                        help="strong: the heuristic teacher's 8,000 games and a long SFT (the default); talk: the "
                        "talk's arc, a weaker teacher, 200 games and two RL stages (outputs/pipeline-talk)")
    args = parser.parse_args(argv)
    out = Path(args.out or default_out_dir(args.story))
    if args.fresh and out.exists():
        shutil.rmtree(out)
    quick = quick_mode() and args.story == "strong"
    Pipeline(out, PipelineSettings.quick() if quick else STORIES[args.story]()).run()


if __name__ == "__main__":
    main()
