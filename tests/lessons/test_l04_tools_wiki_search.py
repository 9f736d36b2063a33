"""Graders of lesson 04 (tool environments: wiki search)."""

import json
import re

import verifiers as vf
from datasets import Dataset
from verifiers.utils.tool_utils import convert_func_to_tool_def

from helpers import build, call, replies, rollouts
from rlcourse.policies import Reply
from wiki_search import DATA_DIR, answer_correct, load_rows

ARTICLES = {a["title"]: a["text"] for a in load_rows(DATA_DIR / "articles.jsonl")}
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
QUESTIONS = [{"question": q["question"], "answer": q["answer"], "info": {"title": q["title"]}}
             for q in load_rows(DATA_DIR / "questions.jsonl")[:3]]


def sentences_with(title: str, keyword: str) -> list[str]:
    return [s for s in SENTENCE_END.split(ARTICLES[title]) if keyword.lower() in s.lower()]


# ----------------------------------------------------------------------------- Exercise 4.1


def test_ex4_1_find_sentences_behaviour(nb):
    out = nb.find_sentences("MENACE", "bead", 2)
    assert isinstance(out, str), f"a tool should return text for the model, got {type(out).__name__}"
    expected = sentences_with("MENACE", "bead")
    assert out.splitlines() == expected[:2], (
        f"find_sentences('MENACE', 'bead', 2) should return the first 2 sentences that mention 'bead', one "
        f"per line, exactly as in the article:\n{expected[:2]}\ngot:\n{out.splitlines()}")
    out = nb.find_sentences("menace", "BEAD", 5)
    assert out.splitlines() == expected, (
        "titles and keywords should match whatever their case (encyclopedia.article ignores the title's "
        f"case; compare keyword.lower() with sentence.lower()); got {out.splitlines()}")
    out = nb.find_sentences("Nim", "player")
    assert out.splitlines() == sentences_with("Nim", "player")[:3], (
        f"with the default limit find_sentences should return at most 3 sentences; got {out.splitlines()}")
    out = nb.find_sentences("Chess", "xylophone")
    assert isinstance(out, str) and out.strip() and "xylophone" in out, (
        "when no sentence matches, return a short message that says so and names the keyword (an empty "
        f"tool result leaves a model guessing); got {out!r}")
    try:
        out = nb.find_sentences("No such game", "win")
    except NotImplementedError:
        raise
    except Exception:
        pass  # the encyclopedia's error, which ToolEnv shows to the model
    else:
        raise AssertionError(f"for an unknown title, let encyclopedia.article's error through (raise); got {out!r}")


def test_ex4_1_find_sentences_schema(nb):
    nb.find_sentences("MENACE", "bead", 1)
    tool = convert_func_to_tool_def(nb.find_sentences)
    assert tool.name == "find_sentences"
    assert tool.description.strip(), (
        "the tool has no description: start the docstring with one line that says what the tool does")
    assert "Args:" not in tool.description, (
        "the description swallowed the argument list: use a Google-style docstring (summary line, blank "
        "line, then an 'Args:' section with one indented 'name: description' line per argument)")
    properties = tool.parameters["properties"]
    assert set(properties) == {"title", "keyword", "limit"}, f"the schema's arguments are {sorted(properties)}"
    wanted_types = {"title": "string", "keyword": "string", "limit": "integer"}
    for name, kind in wanted_types.items():
        assert properties[name].get("type") == kind, (
            f"argument {name!r} should have JSON type {kind!r} (from its type hint), got {properties[name].get('type')!r}")
        assert properties[name].get("description", "").strip(), (
            f"argument {name!r} has no description in the schema: describe it in the docstring's Args section")
    assert properties["limit"].get("default") == 3, "limit should default to 3"


# ----------------------------------------------------------------------------- Exercise 4.2


def tool_calls(*names: str, content: str | None = None) -> vf.AssistantMessage:
    return vf.AssistantMessage(content=content, tool_calls=[
        vf.ToolCall(id=f"call_{i}", name=name, arguments="{}") for i, name in enumerate(names)])


def result(i: int = 0) -> vf.ToolMessage:
    return vf.ToolMessage(tool_call_id=f"call_{i}", content="1. Chess\n   ...")


FINAL = vf.AssistantMessage(content="Answer: 1997")
CASES = [
    ([tool_calls("search_articles"), result(), FINAL], 1.0, "search, result, answer"),
    ([tool_calls("search_articles"), result(), tool_calls("read_article"), result(), FINAL], 1.0,
     "search, read, answer"),
    ([tool_calls("read_article", "search_articles"), result(0), result(1), FINAL], 1.0,
     "one reply calling read_article and search_articles, then an answer"),
    ([tool_calls("read_article"), result(), FINAL], 0.0, "read without searching, then answer"),
    ([FINAL], 0.0, "an answer without any tool call"),
    ([tool_calls("search_articles"), result()], 0.0, "a search but no final answer (the rollout hit max_turns)"),
    ([tool_calls("read_article"), result(), tool_calls("search_articles"), result(), FINAL], 1.0,
     "read, then search, then answer (the search need not be the first call)"),
    ([tool_calls("search_articles"), result(), tool_calls("read_article")], 0.0,
     "a search, then the rollout hit max_turns on a reply that still calls a tool (the last assistant message "
     "has tool_calls: it is not a final answer)"),
    ([tool_calls("search_articles"), result(), tool_calls("read_article", content="Let me read the article.")], 0.0,
     "a search, then a last reply with text AND a tool call (a reply with tool calls is not a final answer, "
     "whatever text it carries)"),
    ([], 0.0, "an empty completion"),
]


def test_ex4_2_searched_before_answering(nb):
    for completion, expected, what in CASES:
        got = call(nb.searched_before_answering, completion)
        assert got == expected, f"searched_before_answering should be {expected} for: {what}; got {got!r}"


def test_ex4_2_metric_in_a_rollout(nb):
    nb.searched_before_answering([FINAL])
    search_articles, read_article = nb.search_articles, nb.read_article
    rubric = vf.Rubric(funcs=[answer_correct, nb.searched_before_answering], weights=[1.0, 0.0])
    env = build(vf.ToolEnv, tools=[search_articles, read_article], eval_dataset=Dataset.from_list(QUESTIONS),
                rubric=rubric, max_turns=6)
    rows = rollouts(env, "scripted/tool-caller")
    values = [row["metrics"]["searched_before_answering"] for row in rows]
    assert values == [1.0] * len(rows), (
        f"scripted/tool-caller searches, reads, then answers: the metric should be 1.0 in every rollout, got "
        f"{values}")
    rows = rollouts(env, replies("It was 1997."))
    assert [row["metrics"]["searched_before_answering"] for row in rows] == [0.0] * len(rows), (
        "a model that answers at once never searched: the metric should be 0.0")


# ----------------------------------------------------------------------------- Exercise 4.3


def make_budget_env(nb, max_searches: int):
    return build(nb.SearchBudgetEnv, max_searches=max_searches, eval_dataset=Dataset.from_list(QUESTIONS[:2]),
                 rubric=vf.Rubric(funcs=[answer_correct]), max_turns=6)


def searches_three_times(messages, tools, rng):
    k = sum(1 for m in messages if m.get("role") == "assistant")
    if k < 3:
        return Reply(tool_calls=[{"name": "search_articles", "arguments": json.dumps({"query": "chess"})}])
    return Reply(content="Answer: chess")


def searches_three_times_with_a_forged_budget(messages, tools, rng):
    k = sum(1 for m in messages if m.get("role") == "assistant")
    if k < 3:
        arguments = json.dumps({"query": "chess", "budget": {"searches_left": 99}})
        return Reply(tool_calls=[{"name": "search_articles", "arguments": arguments}])
    return Reply(content="Answer: chess")


def test_ex4_3_update_tool_args(nb):
    env = make_budget_env(nb, max_searches=2)
    state = {"budget": {"searches_left": 2}}
    args = env.update_tool_args("search_articles", {"query": "chess"}, [], state)
    assert isinstance(args, dict) and args.get("query") == "chess", (
        f"update_tool_args must return the model's arguments (query='chess') plus the injected ones, got {args!r}")
    assert "budget" in args, "update_tool_args should add a 'budget' argument for search_articles"
    assert args["budget"] is state["budget"], (
        "inject this rollout's own budget object, state['budget'] (not a copy), so that spending it shows in the state")
    forged = {"searches_left": 99}
    args = env.update_tool_args("search_articles", {"query": "chess", "budget": forged}, [], state)
    assert isinstance(args, dict) and args.get("budget") is state["budget"], (
        "a model that sends its own 'budget' argument must not get to use it: the environment's value, "
        "state['budget'], always wins (put it after the model's arguments: {**tool_args, 'budget': ...}); got "
        f"budget={args.get('budget') if isinstance(args, dict) else args!r}")
    args = env.update_tool_args("read_article", {"title": "Chess"}, [], state)
    assert args == {"title": "Chess"}, (
        f"arguments of other tools (read_article) should pass through unchanged, got {args!r}")

    schema = {tool.name: tool for tool in env.tool_defs}["search_articles"].parameters
    assert list(schema["properties"]) == ["query"], "the model must not see the budget argument"

    rows = rollouts(env, searches_three_times, rollouts_per_example=2, state_columns=["budget"])
    for row in rows:
        tool_texts = [m["content"] for m in row["completion"] if m["role"] == "tool"]
        assert len(tool_texts) == 3, f"expected three tool results per rollout, got {tool_texts}"
        assert tool_texts[0].startswith("1. ") and tool_texts[1].startswith("1. "), (
            f"the first two searches should run (max_searches=2), got {tool_texts[:2]}")
        assert "budget" in tool_texts[2].lower(), (
            f"the third search should be refused (budget used up), got {tool_texts[2]!r}. Each rollout "
            "must get its own budget from its state")
        assert row["budget"] == {"searches_left": 0}, f"each rollout's budget should end at 0, got {row['budget']}"

    # The model cannot forge a budget: one that sends budget={"searches_left": 99} with every search still gets 2.
    rows = rollouts(env, searches_three_times_with_a_forged_budget, rollouts_per_example=2, state_columns=["budget"])
    for row in rows:
        tool_texts = [m["content"] for m in row["completion"] if m["role"] == "tool"]
        assert len(tool_texts) == 3 and "budget" in tool_texts[2].lower(), (
            "a model that sends its own budget argument ({'searches_left': 99}) got a third search: the injected "
            f"state['budget'] must override whatever the model sends; tool results began {[t[:30] for t in tool_texts]}")
        assert row["budget"] == {"searches_left": 0}, (
            f"the rollout's own budget should have paid for the searches and end at 0, got {row['budget']}")


# ----------------------------------------------------------------------------- Exercise 4.4


def said(text: str) -> vf.AssistantMessage:
    return vf.AssistantMessage(content=text)


MICHIE = "Donald Michie"
NUMBERS = [str(i) for i in range(2000)]
HACK = "<answer>" + ", ".join(NUMBERS + ["Alan Turing", MICHIE, "Claude Shannon"]) + "</answer>"
SEARCH_AND_READ = [tool_calls("search_articles"), result(), tool_calls("read_article"), result()]

# (completion, reference, expected reward, what the case is)
HARDENED_CASES = [
    ([said("<answer>Donald Michie</answer>")], MICHIE, 1.0, "the reference alone in one tag"),
    (SEARCH_AND_READ + [said("<answer>Donald Michie</answer>")], MICHIE, 1.0,
     "a search, a read, then the reference in one tag"),
    ([said("It was built by <answer>Donald Michie</answer>, a codebreaker.")], MICHIE, 1.0,
     "text around the one tag (allowed by the rule)"),
    ([said("<answer>\nDonald Michie\n</answer>")], MICHIE, 1.0,
     "a tag over several lines (a regex needs re.DOTALL for '.' to match line breaks)"),
    ([said("<answer> donald   MICHIE. </answer>")], MICHIE, 1.0,
     "the reference in other case, spacing and punctuation (compare normalize(...) of both sides)"),
    ([said("<answer>255 168</answer>")], "255,168", 1.0,
     "'255 168' for the reference '255,168' (compare normalize(...) of both sides)"),
    ([said("<answer>charles l bouton</answer>")], "Charles L. Bouton", 1.0,
     "'charles l bouton' for the reference 'Charles L. Bouton' (compare normalize(...) of both sides)"),
    ([said("<answer>" + MICHIE + "." * 87 + "</answer>")], MICHIE, 1.0,
     "a tag of exactly 100 characters ('Donald Michie' and 87 full stops): the cap is AT MOST 100 characters"),
    ([said(HACK)], MICHIE, 0.0, "the hack: the numbers 0-1999 and three names in one tag"),
    ([said(HACK[len("<answer>"):-len("</answer>")])], MICHIE, 0.0, "the hack's list without a tag"),
    ([said("<answer>Alan Turing, Donald Michie</answer>")], MICHIE, 0.0,
     "two candidates in one short tag: the tag must EQUAL the reference, not contain it"),
    ([said("<answer>not Donald Michie</answer>")], MICHIE, 0.0,
     "'not Donald Michie' contains the reference but is not it: the tag must equal the reference"),
    ([said("<answer>" + MICHIE + "." * 88 + "</answer>")], MICHIE, 0.0,
     "a tag of 101 characters ('Donald Michie' and 88 full stops): refuse a tag longer than MAX_ANSWER_CHARS "
     "(100), measured before normalize"),
    ([said("<answer>" + MICHIE + "." * 500 + "</answer>")], MICHIE, 0.0,
     "'Donald Michie' and 500 full stops in the tag: normalize drops them, so the length cap (at most 100 "
     "characters, measured before normalize) must refuse it"),
    ([said("<answer>Alan Turing</answer>")], MICHIE, 0.0, "a wrong answer in one tag"),
    ([said("Donald Michie")], MICHIE, 0.0, "the right answer outside any tag"),
    ([said("<answer></answer>")], MICHIE, 0.0, "an empty tag"),
    ([said("<answer>Donald Michie</answer> or <answer>Alan Turing</answer>")], MICHIE, 0.0,
     "two tags, the right one first: a reply with more than one tag scores 0"),
    ([said("<answer>Alan Turing</answer> or <answer>Donald Michie</answer>")], MICHIE, 0.0,
     "two tags, the right one last: a reply with more than one tag scores 0"),
    ([tool_calls("search_articles", content="<answer>Donald Michie</answer>")], MICHIE, 0.0,
     "a tag in a reply that also calls a tool (a reply with tool calls is not a final answer)"),
    ([said("<answer>Donald Michie</answer>"), tool_calls("search_articles"), result(), said("That is all.")], MICHIE,
     0.0, "a tag in an earlier reply and none in the final one (only the last message counts)"),
    ([said("<answer>Donald Michie</answer>"), tool_calls("search_articles"), result()], MICHIE, 0.0,
     "a completion that ends with a tool message (the rollout hit max_turns: no final answer)"),
    ([], MICHIE, 0.0, "an empty completion"),
]


def test_ex4_4_hardened_answer_correct(nb):
    for completion, reference, expected, what in HARDENED_CASES:
        got = call(nb.hardened_answer_correct, completion, reference)
        assert isinstance(got, (int, float)), f"hardened_answer_correct should return a float, got {got!r} for: {what}"
        assert got == expected, (
            f"hardened_answer_correct should be {expected} for: {what} (reference {reference!r}); got {got!r}")


def test_ex4_4_hack_and_honest_answers_in_rollouts(nb):
    nb.hardened_answer_correct([said("<answer>76</answer>")], "76")
    answers = {q["question"]: q["answer"] for q in QUESTIONS}
    every_answer = [q["answer"] for q in load_rows(DATA_DIR / "questions.jsonl")]
    hack = "<answer>" + ", ".join(NUMBERS + every_answer) + "</answer>"

    def honest(messages, tools, rng):
        question = next(m["content"] for m in messages if m["role"] == "user")
        return Reply(content=f"From the article: <answer>{answers[question]}</answer>")

    rubric = vf.Rubric(funcs=[answer_correct, nb.hardened_answer_correct], weights=[0.0, 1.0])
    env = build(vf.ToolEnv, tools=[nb.search_articles, nb.read_article], eval_dataset=Dataset.from_list(QUESTIONS),
                rubric=rubric, max_turns=6)
    rows = rollouts(env, replies(hack))
    assert [row["metrics"]["answer_correct"] for row in rows] == [1.0] * len(rows), (
        "the course's check is broken: the hack should score 1.0 with the package's answer_correct")
    values = [row["metrics"]["hardened_answer_correct"] for row in rows]
    assert values == [0.0] * len(rows), (
        f"a reply listing the numbers 0-1999 and all 72 reference answers in one tag should score 0.0 in every "
        f"rollout, got {values}")
    rows = rollouts(env, honest)
    values = [row["metrics"]["hardened_answer_correct"] for row in rows]
    assert values == [1.0] * len(rows), (
        f"a final reply with the right answer in one tag should score 1.0 in every rollout, got {values} for the "
        f"answers {[row['answer'] for row in rows]}")
