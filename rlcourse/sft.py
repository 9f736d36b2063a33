"""SFT warm-up with TRL's SFTTrainer on the CPU, loss on assistant tokens only.

Each game is cut into one example per turn (:func:`rlcourse.data.turn_examples`). The tokenizer's chat
template marks assistant turns with ``{% generation %}``, which is what TRL's ``assistant_only_loss``
needs: the board is context, only the model's own reply is learned.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import datasets
from datasets import Dataset
from transformers import TrainerCallback
from transformers.trainer_callback import PrinterCallback, ProgressCallback
from trl import SFTConfig, SFTTrainer

from rlcourse import data, tinylm


@dataclass
class SFTSettings:
    max_steps: int = 300
    batch_size: int = 32
    learning_rate: float = 2e-3
    warmup_steps: int = 20
    seq_len: int = 128
    seed: int = 0
    logging_steps: int = 10
    unique_examples: bool = True  # train on each distinct (position, reply) once per epoch, see data.unique_turn_examples


class _SkipStopTokenProbe(logging.Filter):
    """TRL probes a template with [user, assistant, user] and warns when the assistant's <|end|> is not
    learned. Our template shows only the turn after the last user message, so that probe sees no
    assistant turn at all: a false alarm (tests/test_tinylm.py checks that <|end|> is learned)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "end-of-turn token in the loss mask" not in record.getMessage()


logging.getLogger("trl.trainer.sft_trainer").addFilter(_SkipStopTokenProbe())


class _BarOnly(ProgressCallback):
    """transformers' progress bar without the raw dict it writes under the bar at every logging step."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        return None


class _LossLog(TrainerCallback):
    def __init__(self):
        self.rows: list[dict] = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.rows.append({"step": state.global_step, "loss": float(logs["loss"])})


def train_sft(model, tokenizer, conversations: list[list[dict]], output_dir: str | Path,
              settings: SFTSettings | None = None, progress: bool = True) -> dict:
    """Fine-tune ``model`` on ``conversations`` and save it to ``output_dir``. Returns the loss log.

    ``progress`` shows one progress bar in a terminal or a notebook; written to a log file, nothing is
    printed per step (no raw log dicts, no carriage-return frames): the returned loss log holds the numbers.
    """
    settings = settings or SFTSettings()
    output_dir = Path(output_dir)
    show_bar = progress and (sys.stderr.isatty() or "ipykernel" in sys.modules)
    with warnings.catch_warnings():  # transformers deprecates an argument that TRL itself passes
        warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*deprecated", category=FutureWarning)
        config = SFTConfig(
            output_dir=str(output_dir.with_name(output_dir.name + "-trainer")),
            max_steps=settings.max_steps,
            per_device_train_batch_size=settings.batch_size,
            learning_rate=settings.learning_rate,
            lr_scheduler_type="cosine",
            warmup_steps=settings.warmup_steps,
            weight_decay=0.0,
            max_length=settings.seq_len,
            assistant_only_loss=True,
            packing=False,
            logging_steps=settings.logging_steps,
            save_strategy="no",
            report_to=[],
            seed=settings.seed,
            data_seed=settings.seed,
            disable_tqdm=not show_bar,
            dataloader_pin_memory=False,
            bf16=False,
            use_cpu=True,
        )
    # one example per assistant turn, each rendered as the model sees it when it plays
    if settings.unique_examples:
        examples = data.unique_turn_examples(conversations)
    else:
        examples = [turn for c in conversations for turn in data.turn_examples(c)]
    dataset = Dataset.from_list([{"messages": turn} for turn in examples])
    log = _LossLog()
    bars_were_on = datasets.is_progress_bar_enabled()
    if not show_bar:  # TRL tokenizes the dataset with datasets' own progress bars
        datasets.disable_progress_bars()
    try:
        trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer,
                             callbacks=[log])
    finally:
        if bars_were_on:
            datasets.enable_progress_bars()
    trainer.remove_callback(PrinterCallback)  # prints every log dict when there is no bar
    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(_BarOnly())
    start = time.time()
    trainer.train()
    seconds = time.time() - start
    model.eval()
    tinylm.save(model, tokenizer, output_dir)
    return {"loss": log.rows, "seconds": seconds, "games": len(conversations), "examples": len(dataset),
            **settings.__dict__}


def plot_loss(rows: list[dict], path=None, title: str = "SFT warm-up"):
    """Training loss per logged step."""
    import matplotlib
    if path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot([r["step"] for r in rows], [r["loss"] for r in rows], marker=".")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (assistant tokens)")
    ax.set_title(title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig
