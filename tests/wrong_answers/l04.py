"""Lesson 04: find_sentences, searched_before_answering, SearchBudgetEnv.update_tool_args,
hardened_answer_correct."""

# The docstring every find_sentences below shares, except where the docstring itself is the mistake.
DOC = '''"""Find the sentences of an encyclopedia article that mention a keyword.

    Args:
        title: The exact title of the article, as shown by search_articles.
        keyword: A word or phrase to look for; case does not matter.
        limit: The most sentences to return.

    Returns:
        The matching sentences, one per line.
    """'''

# SearchBudgetEnv as the lesson gives it, with UPDATE standing for the learner's update_tool_args body.
BUDGET_ENV = '''
class SearchBudgetEnv(vf.StatefulToolEnv):
    def __init__(self, max_searches: int = 2, **kwargs):
        super().__init__(tools=[read_article], **kwargs)
        self.max_searches = max_searches
        self.add_tool(self.search_articles, args_to_skip=["budget"])

    def search_articles(self, query: str, budget: dict) -> str:
        """Search the game encyclopedia by keywords (the number of searches per question is limited).

        Args:
            query: Keywords to look for, e.g. "matchbox machine learning noughts".
            budget: Injected by the environment from the rollout's state; hidden from the model.

        Returns:
            A numbered list of article titles, each with a short snippet.
        """
        if budget["searches_left"] <= 0:
            return "Search budget used up: read an article you already found, or answer now."
        budget["searches_left"] -= 1
        return search_articles(query)

    async def setup_state(self, state):
        state["budget"] = {"searches_left": self.max_searches}
        return await super().setup_state(state)

    def update_tool_args(self, tool_name, tool_args, messages, state, **kwargs):
UPDATE
'''


def budget_env(update: str) -> str:
    return BUDGET_ENV.replace("UPDATE", update)


# The start most hardened_answer_correct answers below share: the final-answer gate and the tags.
HARDENED_START = """
def hardened_answer_correct(completion, answer):
    if not completion or completion[-1]["role"] != "assistant" or completion[-1].get("tool_calls"):
        return 0.0
    content = completion[-1].get("content")
    tags = re.findall(r"<answer>(.*?)</answer>", content if isinstance(content, str) else "", flags=re.DOTALL)"""


WRONG = [
    ("4.1", "the keyword's case matters", f'''
def find_sentences(title: str, keyword: str, limit: int = 3) -> str:
    {DOC}
    text = encyclopedia.article(title)
    found = [s for s in re.split(r"(?<=[.!?])\\s+", text) if keyword in s]
    if not found:
        return f"No sentence of {{title!r}} mentions {{keyword!r}}."
    return "\\n".join(found[:limit])
'''),
    ("4.1", "off by one: the loop stops after limit + 1 sentences", f'''
def find_sentences(title: str, keyword: str, limit: int = 3) -> str:
    {DOC}
    found = []
    for sentence in re.split(r"(?<=[.!?])\\s+", encyclopedia.article(title)):
        if keyword.lower() in sentence.lower():
            found.append(sentence)
        if len(found) > limit:
            break
    return "\\n".join(found) if found else f"Nothing about {{keyword!r}} in {{title!r}}."
'''),
    ("4.1", "an empty string when nothing matches", f'''
def find_sentences(title: str, keyword: str, limit: int = 3) -> str:
    {DOC}
    text = encyclopedia.article(title)
    found = [s for s in re.split(r"(?<=[.!?])\\s+", text) if keyword.lower() in s.lower()]
    return "\\n".join(found[:limit])
'''),
    ("4.1", "the unknown-title error swallowed into a message", f'''
def find_sentences(title: str, keyword: str, limit: int = 3) -> str:
    {DOC}
    try:
        text = encyclopedia.article(title)
    except Exception:
        return f"There is no article called {{title!r}}."
    found = [s for s in re.split(r"(?<=[.!?])\\s+", text) if keyword.lower() in s.lower()]
    return "\\n".join(found[:limit]) or f"No sentence mentions {{keyword!r}}."
'''),
    ("4.1", "whole words only: 'bead' misses 'beads'", f'''
def find_sentences(title: str, keyword: str, limit: int = 3) -> str:
    {DOC}
    text = encyclopedia.article(title)
    found = [s for s in re.split(r"(?<=[.!?])\\s+", text) if keyword.lower() in s.lower().split()]
    return "\\n".join(found[:limit]) or f"No sentence mentions {{keyword!r}}."
'''),
    ("4.1", "no Args section: the arguments have no description", '''
def find_sentences(title: str, keyword: str, limit: int = 3) -> str:
    """Find the sentences of an encyclopedia article that mention a keyword, one per line."""
    text = encyclopedia.article(title)
    found = [s for s in re.split(r"(?<=[.!?])\\s+", text) if keyword.lower() in s.lower()]
    return "\\n".join(found[:limit]) or f"No sentence mentions {keyword!r}."
'''),
    ("4.1", "split on '. ', which drops the full stops", f'''
def find_sentences(title: str, keyword: str, limit: int = 3) -> str:
    {DOC}
    found = [s for s in encyclopedia.article(title).split(". ") if keyword.lower() in s.lower()]
    return "\\n".join(found[:limit]) or f"No sentence mentions {{keyword!r}}."
'''),
    ("4.2", "only the role of the last message is checked, not its tool calls", '''
def searched_before_answering(completion):
    if not completion or completion[-1]["role"] != "assistant":
        return 0.0
    searched = any(call["name"] == "search_articles"
                   for message in completion for call in (message.get("tool_calls") or []))
    return 1.0 if searched else 0.0
'''),
    ("4.2", "a final answer taken to be any reply with text", '''
def searched_before_answering(completion):
    if not completion or completion[-1]["role"] != "assistant" or not completion[-1].get("content"):
        return 0.0
    searched = any(call["name"] == "search_articles"
                   for message in completion[:-1] for call in (message.get("tool_calls") or []))
    return 1.0 if searched else 0.0
'''),
    ("4.2", "only the first tool call of the conversation is looked at", '''
def searched_before_answering(completion):
    if not completion or completion[-1]["role"] != "assistant" or completion[-1].get("tool_calls"):
        return 0.0
    first = next((m for m in completion if m.get("tool_calls")), None)
    return 1.0 if first is not None and any(c["name"] == "search_articles" for c in first["tool_calls"]) else 0.0
'''),
    ("4.2", "any search counts, even without a final answer", '''
def searched_before_answering(completion):
    for message in completion:
        for call in message.get("tool_calls") or []:
            if call["name"] == "search_articles":
                return 1.0
    return 0.0
'''),
    ("4.3", "the model's arguments unpacked last: a forged budget wins", budget_env('''
        if tool_name == "search_articles":
            return {"budget": state["budget"], **tool_args}
        return tool_args
''')),
    ("4.3", "setdefault: the budget is injected only when the model sent none", budget_env('''
        if tool_name == "search_articles":
            tool_args.setdefault("budget", state["budget"])
        return tool_args
''')),
    ("4.3", "a copy of the budget: spending never shows in the state", budget_env('''
        if tool_name == "search_articles":
            return {**tool_args, "budget": dict(state["budget"])}
        return tool_args
''')),
    ("4.3", "the budget injected into every tool", budget_env('''
        return {**tool_args, "budget": state["budget"]}
''')),
    ("4.3", "a fresh full budget at every call", budget_env('''
        if tool_name == "search_articles":
            return {**tool_args, "budget": {"searches_left": self.max_searches}}
        return tool_args
''')),
    ("4.4", "contained, not equal: the reference anywhere inside the one short tag", HARDENED_START + """
    if len(tags) != 1 or len(tags[0].strip()) > MAX_ANSWER_CHARS:
        return 0.0
    return float(f" {normalize(answer)} " in f" {normalize(tags[0])} ")
"""),
    ("4.4", "the first tag taken when a reply has several", HARDENED_START + """
    if not tags or len(tags[0].strip()) > MAX_ANSWER_CHARS:
        return 0.0
    return float(normalize(tags[0]) == normalize(answer))
"""),
    ("4.4", "the last tag taken when a reply has several", HARDENED_START + """
    if not tags or len(tags[-1].strip()) > MAX_ANSWER_CHARS:
        return 0.0
    return float(normalize(tags[-1]) == normalize(answer))
"""),
    ("4.4", "no length cap: normalize hides a tag padded with punctuation", HARDENED_START + """
    if len(tags) != 1:
        return 0.0
    return float(normalize(tags[0]) == normalize(answer))
"""),
    ("4.4", "the length cap measured after normalize", HARDENED_START + """
    if len(tags) != 1 or len(normalize(tags[0])) > MAX_ANSWER_CHARS:
        return 0.0
    return float(normalize(tags[0]) == normalize(answer))
"""),
    ("4.4", "a final reply that also calls a tool is accepted", """
def hardened_answer_correct(completion, answer):
    if not completion or completion[-1]["role"] != "assistant":
        return 0.0
    text = completion[-1].get("content") or ""
    tags = re.findall(r"<answer>(.*?)</answer>", text, flags=re.DOTALL)
    if len(tags) != 1 or len(tags[0].strip()) > MAX_ANSWER_CHARS:
        return 0.0
    return float(normalize(tags[0]) == normalize(answer))
"""),
    ("4.4", "lesson 02's XMLParser: it looks back through earlier replies and takes their first tag", """
def hardened_answer_correct(completion, answer):
    parsed = vf.XMLParser(["answer"], answer_field="answer").parse_answer(completion)
    if parsed is None or len(parsed) > MAX_ANSWER_CHARS:
        return 0.0
    return float(normalize(parsed) == normalize(answer))
"""),
    ("4.4", "no normalize: only case and surrounding spaces are ignored", HARDENED_START + """
    if len(tags) != 1 or len(tags[0].strip()) > MAX_ANSWER_CHARS:
        return 0.0
    return float(tags[0].strip().lower() == answer.strip().lower())
"""),
    ("4.4", "no re.DOTALL: a tag over several lines is missed", """
def hardened_answer_correct(completion, answer):
    if not completion or completion[-1]["role"] != "assistant" or completion[-1].get("tool_calls"):
        return 0.0
    tags = re.findall(r"<answer>(.*?)</answer>", completion[-1].get("content") or "")
    if len(tags) != 1 or len(tags[0].strip()) > MAX_ANSWER_CHARS:
        return 0.0
    return float(normalize(tags[0]) == normalize(answer))
"""),
    ("4.4", "the whole reply must be the tag: text around it is refused", """
def hardened_answer_correct(completion, answer):
    if not completion or completion[-1]["role"] != "assistant" or completion[-1].get("tool_calls"):
        return 0.0
    match = re.fullmatch(r"\\s*<answer>(.*?)</answer>\\s*", completion[-1].get("content") or "", flags=re.DOTALL)
    if match is None or len(match.group(1).strip()) > MAX_ANSWER_CHARS:
        return 0.0
    return float(normalize(match.group(1)) == normalize(answer))
"""),
]

RIGHT = [
    ("4.1", "a loop that stops at limit, with a generator over the sentences", f'''
def find_sentences(title: str, keyword: str, limit: int = 3) -> str:
    {DOC}
    wanted = keyword.casefold()
    kept = []
    for sentence in re.split(r"(?<=[.!?])\\s+", encyclopedia.article(title)):
        if len(kept) == limit:
            break
        if wanted in sentence.casefold():
            kept.append(sentence)
    if kept:
        return "\\n".join(kept)
    return "No sentence of " + title + " contains the keyword " + repr(keyword) + "."
'''),
    ("4.2", "attribute access on the message objects, any() over earlier replies", '''
def searched_before_answering(completion):
    if len(completion) == 0:
        return 0.0
    final = completion[-1]
    if final.role != "assistant" or final.tool_calls:
        return 0.0
    earlier = [call.name for m in completion[:-1] if m.role == "assistant" for call in (m.tool_calls or [])]
    return float("search_articles" in earlier)
'''),
    ("4.3", "the model's dict updated in place with the injected budget", budget_env('''
        if tool_name != "search_articles":
            return tool_args
        tool_args["budget"] = state["budget"]
        return tool_args
''')),
    ("4.4", "string methods instead of a regex, attribute access on the messages", """
def hardened_answer_correct(completion, answer):
    if len(completion) == 0:
        return 0.0
    final = completion[-1]
    if final.role != "assistant" or final.tool_calls:
        return 0.0
    text = final.content if isinstance(final.content, str) else ""
    start, end = text.find("<answer>"), text.find("</answer>")
    if text.count("<answer>") != 1 or text.count("</answer>") != 1 or end < start:
        return 0.0
    inside = text[start + len("<answer>"):end]
    if len(inside.strip()) > MAX_ANSWER_CHARS:
        return 0.0
    return 1.0 if normalize(inside).split() == normalize(answer).split() else 0.0
"""),
    ("4.4", "a helper that extracts the one tag, a character class instead of re.DOTALL", """
def only_tag(text):
    found = re.findall(r"<answer>([\\s\\S]*?)</answer>", text)
    return found[0] if len(found) == 1 else None


def hardened_answer_correct(completion, answer):
    final = completion[-1] if completion else None
    if final is None or final["role"] != "assistant" or final.get("tool_calls"):
        return 0.0
    tag = only_tag(final.get("content") or "")
    return 0.0 if tag is None or len(tag.strip()) > 100 else float(normalize(tag) == normalize(answer))
"""),
]
