"""reverse_text, double_check and wiki_search through verifiers, including garbage replies."""

import random
import threading

import pytest
import verifiers as vf

from helpers import replies, run_rollouts
from double_check import answer_is_correct, make_problems
from reverse_text import lcs_length, lcs_ratio, load_texts
from rlcourse.policies import Reply
from rlcourse.scripted import evaluate_arithmetic
from wiki_search import Encyclopedia, load_rows, DATA_DIR


# ----------------------------------------------------------------------------- reverse_text

def reference_lcs(a, b):
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a)):
        for j in range(len(b)):
            table[i + 1][j + 1] = table[i][j] + 1 if a[i] == b[j] else max(table[i][j + 1], table[i + 1][j])
    return table[-1][-1]


def test_lcs_matches_a_full_table_on_random_strings():
    rng = random.Random(0)
    for _ in range(300):
        a = "".join(rng.choice("abc") for _ in range(rng.randrange(0, 15)))
        b = "".join(rng.choice("abc") for _ in range(rng.randrange(0, 15)))
        assert lcs_length(a, b) == reference_lcs(a, b)
    assert lcs_ratio("abc", "abc") == 1.0 and lcs_ratio("", "abc") == 0.0
    assert lcs_ratio("abxc", "abc") == pytest.approx(6 / 7)
    assert lcs_ratio("z" * 100_000, "abc") == 0.0  # huge garbage is cheap and scores nothing


def test_shipped_texts_and_split_are_deterministic():
    texts = load_texts()
    assert len(texts) == 240 and len(set(texts)) == 240
    a, b = vf.load_environment("reverse_text"), vf.load_environment("reverse_text")
    assert a.get_eval_dataset().to_list() == b.get_eval_dataset().to_list()
    row = a.get_eval_dataset()[0]
    assert row["answer"] == row["question"][::-1]


def test_reverse_text_rewards():
    env = vf.load_environment("reverse_text")

    def perfect(messages, tools, rng):
        text = [m for m in messages if m["role"] == "user"][-1]["content"]
        return Reply(content=f"<reversed_text>\n{text[::-1]}\n</reversed_text>")

    assert {r["reward"] for r in run_rollouts(env, perfect, num_examples=10)} == {1.0}
    assert {r["reward"] for r in run_rollouts(env, replies("no tags at all"), num_examples=5)} == {0.0}
    noisy = run_rollouts(env, "scripted/reverse-noisy", num_examples=40)
    assert 0.5 < sum(r["reward"] for r in noisy) / len(noisy) < 1.0


# ----------------------------------------------------------------------------- double_check

def test_problems_are_seeded_and_answers_are_right():
    problems = make_problems(500, 0, "eval")
    assert problems == make_problems(500, 0, "eval") and problems != make_problems(500, 1, "eval")
    for p in problems:
        assert evaluate_arithmetic(p["question"].removeprefix("Compute ").removesuffix(".")) == int(p["answer"])
        assert answer_is_correct(f"\\boxed{{{p['answer']}}}", p["answer"])


def test_double_check_asks_once_and_scores_the_final_answer():
    env = vf.load_environment("double_check", num_eval_examples=10)
    rows = run_rollouts(env, "scripted/math-second-guess", num_examples=10, rollouts_per_example=8)
    for r in rows:
        roles = [m["role"] for m in r["completion"]]
        assert roles == ["assistant", "user", "assistant"] and r["completion"][1]["content"] == "Are you sure?"
    # a wrong final answer scores 0 even when the first was right, and vice versa
    assert any(r["metrics"]["first_answer_correct"] == 1 and r["reward"] == 0 for r in rows)
    assert any(r["metrics"]["changed_answer"] == 1 for r in rows)
    first_wrong = run_rollouts(env, replies("\\boxed{999999}", "\\boxed{999999}"), num_examples=10)
    assert {r["reward"] for r in first_wrong} == {0.0}


ANSWER_CASES = [("\\boxed{12}", "12", True), ("so \\boxed{12.0}", "12", True), ("\\boxed{-52}", "-52", True),
                ("\\boxed{13}", "12", False), ("\\boxed{24/2}", "12", True), ("\\boxed{2^3}", "8", True),
                ("\\boxed{9^{9^{9^{9}}}}", "12", False), ("no box", "12", False), ("\\boxed{}", "12", False)]


def test_answer_check_gives_the_same_verdicts_off_the_main_thread():
    """Notebooks evaluate (and check() grades) in a worker thread, where math-verify's signal-based
    time limit cannot run: the answer check must not silently turn every answer wrong there."""
    off_main = {}
    worker = threading.Thread(target=lambda: off_main.update(
        verdicts=[answer_is_correct(text, answer) for text, answer, _ in ANSWER_CASES]))
    worker.start()
    worker.join(60)
    expected = [verdict for *_, verdict in ANSWER_CASES]
    expected_off_main = [v and "^" not in text for text, _, v in ANSWER_CASES]  # powers count as wrong there
    assert off_main["verdicts"] == expected_off_main
    assert [answer_is_correct(text, answer) for text, answer, _ in ANSWER_CASES[:-3]] == expected[:-3]


# ----------------------------------------------------------------------------- wiki_search

def test_search_index_finds_the_article_for_most_questions():
    encyclopedia = Encyclopedia(load_rows(DATA_DIR / "articles.jsonl"))
    questions = load_rows(DATA_DIR / "questions.jsonl")
    top = sum(encyclopedia.search(q["question"], 1)[0][0] == q["title"] for q in questions)
    assert top / len(questions) >= 0.8
    assert encyclopedia.search('"); DROP TABLE articles; --') == [(t, s) for t, s in encyclopedia.search("DROP TABLE articles")]
    assert encyclopedia.search("") == [] and encyclopedia.read("no such title") is None


@pytest.mark.parametrize("variant", ["plain", "budgeted"])
def test_tool_caller_answers_through_the_tools(variant):
    env = vf.load_environment("wiki_search", variant=variant)
    names = sorted(tool.name for tool in env.tool_defs)
    assert names == ["read_article", "search_articles"]
    read = next(t for t in env.tool_defs if t.name == "read_article")
    assert list(read.parameters["properties"]) == ["title"]  # the budget stays hidden
    rows = run_rollouts(env, "scripted/tool-caller", num_examples=24)
    assert sum(r["reward"] for r in rows) / len(rows) >= 0.6
    assert all(r["metrics"]["search_articles_calls"] == 1 for r in rows)


def test_budgeted_variant_keeps_a_budget_per_rollout():
    env = vf.load_environment("wiki_search", variant="budgeted", max_reads=1)
    def reads_twice(messages, tools, rng):
        k = sum(1 for m in messages if m["role"] == "assistant")
        if k < 2:
            return Reply(tool_calls=[{"name": "read_article", "arguments": '{"title": "Chess"}'}])
        return Reply(content="done")

    rows = run_rollouts(env, reads_twice, num_examples=6, rollouts_per_example=2, state_columns=["budget"])
    for r in rows:
        tool_texts = [m["content"] for m in r["completion"] if m["role"] == "tool"]
        assert tool_texts[0].startswith("Chess is") and tool_texts[1].startswith("Reading budget used up")
        assert r["budget"] == {"reads_left": 0}


@pytest.mark.parametrize("env_id,args", [("wiki_search", {}), ("wiki_search", {"variant": "budgeted"}),
                                         ("reverse_text", {}), ("double_check", {})])
def test_fuzz_garbage_and_broken_tool_calls_never_break_an_environment(env_id, args):
    env = vf.load_environment(env_id, **args)
    n = len(env.get_eval_dataset())
    rows = run_rollouts(env, "scripted/fuzz", num_examples=n, rollouts_per_example=max(1, 240 // n), seed=3,
                        state_columns=[])
    assert len(rows) >= 200
    for r in rows:
        if r.get("error"):
            assert r["error"]["error"] == "EmptyModelResponseError"
        assert 0.0 <= r["reward"] <= 1.0
    if env_id == "wiki_search":
        tool_texts = [m["content"] for r in rows for m in r["completion"] if m["role"] == "tool"]
        assert any("there is no tool named" in t for t in tool_texts)
        assert any("Expecting" in t or "JSON" in t or "dict" in t for t in tool_texts)  # bad JSON reported
