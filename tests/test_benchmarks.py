"""The benchmark of RL's training sequences runs and compares like with like (no timing is asserted)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_rl_sequences as bench  # noqa: E402

from rlcourse import chat_template  # noqa: E402


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
