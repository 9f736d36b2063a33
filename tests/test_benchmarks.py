"""The benchmarks of RL's training sequences and RL's generation run and compare like with like (no timing is
asserted)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_rl_sequences as bench  # noqa: E402

from rlcourse import chat_template, tinylm  # noqa: E402

from helpers import teacher_conversation  # noqa: E402


def test_both_kinds_of_sequence_hold_the_same_replies_and_differ_only_by_the_system_prompt():
    with_system, without = bench.turns(16, system_prompt=True), bench.turns(16)
    bootstrap = chat_template.build_tokenizer(["bootstrap"], vocab_size=300)
    tokenizer = chat_template.build_tokenizer([chat_template.render(bootstrap, m) for m in with_system + without], 512)
    a, b = bench.samples(tokenizer, with_system), bench.samples(tokenizer, without)
    for x, y in zip(a, b):
        assert sum(x.mask) == sum(y.mask) > 0  # the same reply tokens are trained
        assert x.ids[-sum(x.mask):] == y.ids[-sum(y.mask):]
        assert len(x.ids) > len(y.ids)


def test_the_script_prints_the_ratio():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_rl_sequences.py"), "--batch", "4",
                          "--repeats", "1"], capture_output=True, text=True, timeout=300, check=True).stdout
    assert "ratio:" in out and "without it" in out


def test_rl_generation_is_the_same_in_every_way_it_is_timed(tmp_path):
    conversations = [teacher_conversation(i) for i in range(20)]
    bootstrap = chat_template.build_tokenizer(["x"], vocab_size=300)
    tokenizer = chat_template.build_tokenizer([chat_template.render(bootstrap, c) for c in conversations], 400)
    size = tinylm.ModelSize(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, max_positions=512)
    tinylm.save(tinylm.new_model(tokenizer, size, seed=1), tokenizer, tmp_path / "m")
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_rl_generation.py"), "--model",
                          str(tmp_path / "m"), "--games", "8", "--repeats", "1"],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    assert "length groups, 2 threads" in out and "every way generated the same tokens: True" in out
