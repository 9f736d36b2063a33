"""Wiki search: a tool-using verifiers environment over a small shipped encyclopedia.

The model answers questions about classic games by calling two tools, ``search_articles`` (a real
full-text index: SQLite FTS5 with BM25 ranking, built in memory at load time) and ``read_article``.
It stops by answering without a tool call; the reward is whether that answer contains the reference.

``variant="budgeted"`` uses ``vf.StatefulToolEnv``: every rollout gets its own reading budget, kept in
the rollout state and injected into ``read_article`` as a hidden argument the model never sees.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
from pathlib import Path

import verifiers as vf
from datasets import Dataset
from verifiers.types import ToolMessage

DATA_DIR = Path(__file__).with_name("wiki_search_data")
SYSTEM_PROMPT = ("Answer the question about games using the encyclopedia tools. Search for articles, "
                 "read the most relevant one, then reply with a short answer and no tool call.")


class Encyclopedia:
    """The shipped articles behind an FTS5 index."""

    def __init__(self, articles: list[dict]):
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.db.execute("CREATE VIRTUAL TABLE articles USING fts5(title, text)")
        self.db.executemany("INSERT INTO articles VALUES (?, ?)", [(a["title"], a["text"]) for a in articles])
        self.texts = {a["title"]: a["text"] for a in articles}
        self.by_lower = {t.lower(): t for t in self.texts}

    def search(self, query: str, limit: int = 5) -> list[tuple[str, str]]:
        """(title, snippet) pairs, best first. Any text is a valid query: words are OR-ed together."""
        words = re.findall(r"[A-Za-z0-9]+", query)
        if not words:
            return []
        match = " OR ".join(f'"{w}"' for w in words[:64])
        rows = self.db.execute(
            "SELECT title, snippet(articles, 1, '', '', '...', 16) FROM articles "
            "WHERE articles MATCH ? ORDER BY bm25(articles, 5.0, 1.0) LIMIT ?", (match, limit)).fetchall()
        return [(title, snippet) for title, snippet in rows]

    def read(self, title: str) -> str | None:
        key = self.by_lower.get(title.strip().lower())
        return self.texts[key] if key else None

    def article(self, title) -> str:
        """The text of ``title``, or an error that tells the model what to do instead."""
        if not isinstance(title, str):
            raise TypeError(f"title must be a string, got {type(title).__name__}")
        text = self.read(title)
        if text is None:
            raise ValueError(f"no article titled {title[:100]!r}; use search_articles to find titles")
        return text


def make_tools(encyclopedia: Encyclopedia):
    """The two tools, as plain typed functions; verifiers builds their JSON schema from the docstrings."""

    def search_articles(query: str, limit: int = 5) -> str:
        """Search the game encyclopedia by keywords.

        Args:
            query: Keywords to look for, e.g. "matchbox machine learning noughts".
            limit: How many results to return, from 1 to 10.

        Returns:
            A numbered list of article titles, each with a short snippet.
        """
        if not isinstance(query, str):
            raise TypeError(f"query must be a string, got {type(query).__name__}")
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 10:
            raise ValueError(f"limit must be an integer from 1 to 10, got {limit!r}")
        hits = encyclopedia.search(query, limit)
        if not hits:
            return "No articles found. Try other keywords."
        return "\n".join(f"{i}. {title}\n   {snippet}" for i, (title, snippet) in enumerate(hits, start=1))

    def read_article(title: str) -> str:
        """Read one article of the encyclopedia.

        Args:
            title: The exact title of the article, as shown by search_articles.

        Returns:
            The full text of the article.
        """
        return encyclopedia.article(title)

    return search_articles, read_article


def format_tool_error(error: Exception) -> str:
    return f"Error: {error}"


class ToolNameCheck:
    """Answers an unknown tool name with a tool message that lists the real ones."""

    async def call_tool(self, tool_name: str, tool_args: dict, tool_call_id: str, **kwargs) -> ToolMessage:
        if tool_name not in self.tool_map:
            known = ", ".join(sorted(self.tool_map))
            return ToolMessage(role="tool", tool_call_id=tool_call_id,
                               content=f"Error: there is no tool named {tool_name[:100]!r}; available tools: {known}")
        return await super().call_tool(tool_name, tool_args, tool_call_id, **kwargs)


class WikiSearchEnv(ToolNameCheck, vf.ToolEnv):
    """ToolEnv with clear messages for unknown tools."""


class BudgetedWikiSearchEnv(ToolNameCheck, vf.StatefulToolEnv):
    """Each rollout may read at most ``max_reads`` articles; the budget lives in the rollout state."""

    def __init__(self, encyclopedia: Encyclopedia, max_reads: int, **kwargs):
        search_articles, _ = make_tools(encyclopedia)
        super().__init__(tools=[search_articles], **kwargs)
        self.encyclopedia = encyclopedia
        self.max_reads = max_reads
        self.add_tool(self.read_article, args_to_skip=["budget"])

    def read_article(self, title: str, budget: dict) -> str:
        """Read one article of the encyclopedia (your reading budget per question is limited).

        Args:
            title: The exact title of the article, as shown by search_articles.
            budget: Injected by the environment; hidden from the model.

        Returns:
            The full text of the article.
        """
        if budget["reads_left"] <= 0:
            return "Reading budget used up: answer with what you know."
        text = self.encyclopedia.article(title)
        budget["reads_left"] -= 1
        return text

    async def setup_state(self, state: vf.State) -> vf.State:
        state["budget"] = {"reads_left": self.max_reads}
        return await super().setup_state(state)

    def update_tool_args(self, tool_name: str, tool_args: dict, messages: vf.Messages, state: vf.State, **kwargs) -> dict:
        if tool_name == "read_article":
            return {**tool_args, "budget": state["budget"]}
        return tool_args


def normalize(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


async def answer_correct(completion: vf.Messages, answer: str) -> float:
    """1 if the final assistant message (with no tool call) contains the reference answer."""
    final = completion[-1] if completion else None
    if final is None or final.get("role") != "assistant" or final.get("tool_calls"):
        return 0.0
    content = final.get("content")
    text = content if isinstance(content, str) else ""
    return float(f" {normalize(answer)} " in f" {normalize(text)} ")


def load_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def load_environment(variant: str = "plain", num_eval_examples: int = 24, seed: int = 0, max_turns: int = 6,
                     max_reads: int = 1, **kwargs) -> vf.Environment:
    """Build the environment. ``variant``: "plain" (ToolEnv) or "budgeted" (StatefulToolEnv)."""
    encyclopedia = Encyclopedia(load_rows(DATA_DIR / "articles.jsonl"))
    questions = load_rows(DATA_DIR / "questions.jsonl")
    random.Random(seed).shuffle(questions)
    if not 0 < num_eval_examples < len(questions):
        raise ValueError(f"num_eval_examples must be between 1 and {len(questions) - 1}")
    rows = [{"question": q["question"], "answer": q["answer"], "info": {"title": q["title"]}} for q in questions]
    common = dict(dataset=Dataset.from_list(rows[num_eval_examples:]),
                  eval_dataset=Dataset.from_list(rows[:num_eval_examples]),
                  system_prompt=SYSTEM_PROMPT, rubric=vf.Rubric(funcs=[answer_correct]),
                  max_turns=max_turns, error_formatter=format_tool_error, **kwargs)
    if variant == "plain":
        return WikiSearchEnv(tools=list(make_tools(encyclopedia)), **common)
    if variant == "budgeted":
        return BudgetedWikiSearchEnv(encyclopedia, max_reads, **common)
    raise ValueError(f"variant must be 'plain' or 'budgeted', got {variant!r}")
