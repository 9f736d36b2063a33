"""The tiny models' tokenizer and chat template: how a conversation becomes the tokens a model reads.

* :func:`build_tokenizer` fits a byte-level BPE vocabulary to the environment's own text. Digits and
  the board marks X / O stay single tokens, so every board cell is one token.
* :data:`CHAT_TEMPLATE` renders compactly: the conversation from the last user message on (the current
  position), ``<|role|>content<|end|>`` per message, and no system prompt. Assistant turns are wrapped
  in ``{% generation %}`` so TRL can train on assistant tokens only.
* :func:`render` and :func:`encode_chat` apply it (the text, the token ids).

The template is saved with the tokenizer (``save_pretrained``), so ``AutoTokenizer``, TRL and vLLM
render the same text.
"""

from __future__ import annotations

import hashlib

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

PAD, END = "<|pad|>", "<|end|>"
ROLE_TOKENS = ["<|system|>", "<|user|>", "<|assistant|>", "<|tool|>"]
SPECIAL_TOKENS = [PAD, END, *ROLE_TOKENS]

# The chat template shows the model the CURRENT POSITION only: the conversation from the last user
# message on, and no system prompt. A Tic-Tac-Toe board holds the whole state of the game, so nothing
# needed to play is lost, and a tiny model no longer has to pick the latest board out of several stale
# ones (measured: a 0.25 M model trained on whole games copied cells from an earlier board and, after an
# "Invalid move" message, lost the format; docs/results.md). The system prompt is left out because a model
# trained from scratch on one environment learns nothing from it (it is the same text in every game), while
# it was more than half of every training sequence: without it RL's training step ran 2x faster
# (benchmarks/bench_rl_sequences.py). Each message renders as <|role|>content<|end|>; non-string content
# (None, parts) renders as empty text. Assistant turns are wrapped in {% generation %} so TRL can train on
# assistant tokens only. The same template serves, trains (SFT, one example per turn:
# rlcourse.data.turn_examples) and scores (RL) every model.
CHAT_TEMPLATE = (
    "{%- set ns = namespace(start=0) -%}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'user' -%}{%- set ns.start = loop.index0 -%}{%- endif -%}"
    "{%- endfor -%}"
    "{%- for message in messages -%}"
    "{%- if message['role'] != 'system' and loop.index0 >= ns.start -%}"
    "{%- set content = message['content'] if message['content'] is string else '' -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "<|assistant|>{% generation %}{{ content }}<|end|>{% endgeneration %}"
    "{%- else -%}"
    "<|{{ message['role'] }}|>{{ content }}<|end|>"
    "{%- endif -%}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}<|assistant|>{%- endif -%}"
)

# A short fingerprint of the template: the pipeline's phases record it, so models trained with another
# template are never reused.
TEMPLATE_ID = hashlib.sha256(CHAT_TEMPLATE.encode()).hexdigest()[:12]

# Board marks and digits that stand alone are isolated before BPE, so they never merge with the
# separators around them ("X" in "Xylophone" is not isolated).
_ISOLATE = Regex(r"(?<![A-Za-z])[XO](?![A-Za-z])|[0-9]")


def build_tokenizer(texts: list[str], vocab_size: int = 1024) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer fitted to ``texts``, with the course's special tokens and chat template.

    Byte-level means any text can be encoded and decoded exactly, even text never seen in training.
    """
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(_ISOLATE, behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    core.train_from_iterator(texts, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token=END, pad_token=PAD,
                                        additional_special_tokens=ROLE_TOKENS)
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.padding_side = "left"
    return tokenizer


def render(tokenizer, messages: list[dict], add_generation_prompt: bool = False) -> str:
    """The conversation as the text the model reads (the tokenizer's own chat template)."""
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def encode_chat(tokenizer, messages: list[dict], add_generation_prompt: bool = True) -> list[int]:
    """Token ids of the rendered conversation (no extra BOS/EOS: the template holds them all)."""
    return tokenizer(render(tokenizer, messages, add_generation_prompt), add_special_tokens=False)["input_ids"]


__all__ = ["build_tokenizer", "render", "encode_chat", "CHAT_TEMPLATE", "TEMPLATE_ID", "SPECIAL_TOKENS", "ROLE_TOKENS", "PAD", "END"]
