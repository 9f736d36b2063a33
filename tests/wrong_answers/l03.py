"""Lesson 03: AskAgainEnv.env_response, DoubleCheckEnv.answered_twice, kept_correct_answer."""

WRONG = [
    ("3.1", "a falsy test: an empty first answer is overwritten by a later reply", '''
class AskAgainEnv(vf.MultiTurnEnv):
    async def setup_state(self, state):
        state["first_answer"] = None
        return await super().setup_state(state)

    async def env_response(self, messages, state, **kwargs):
        if not state["first_answer"]:
            state["first_answer"] = extract_boxed_answer(messages[-1]["content"] or "", strict=True)
        return [vf.UserMessage(content=FOLLOW_UP)]
'''),
    ("3.1", "every reply overwrites the first answer", '''
class AskAgainEnv(vf.MultiTurnEnv):
    async def setup_state(self, state):
        state["first_answer"] = None
        return await super().setup_state(state)

    async def env_response(self, messages, state, **kwargs):
        state["first_answer"] = extract_boxed_answer(messages[-1]["content"] or "", strict=True)
        return [vf.UserMessage(content=FOLLOW_UP)]
'''),
    ("3.1", "a regex keeps the first \\\\boxed{} of the reply, not the last", '''
import re

class AskAgainEnv(vf.MultiTurnEnv):
    async def setup_state(self, state):
        state["first_answer"] = None
        return await super().setup_state(state)

    async def env_response(self, messages, state, **kwargs):
        if state["first_answer"] is None:
            found = re.search(r"\\\\boxed\\{([^}]*)\\}", messages[-1]["content"] or "")
            state["first_answer"] = found.group(1) if found else ""
        return [vf.UserMessage(content=FOLLOW_UP)]
'''),
    ("3.1", "non-strict extraction keeps the whole text when there is no \\\\boxed{}", '''
class AskAgainEnv(vf.MultiTurnEnv):
    async def setup_state(self, state):
        state["first_answer"] = None
        return await super().setup_state(state)

    async def env_response(self, messages, state, **kwargs):
        if state["first_answer"] is None:
            state["first_answer"] = extract_boxed_answer(messages[-1]["content"] or "")
        return [vf.UserMessage(content=FOLLOW_UP)]
'''),
    ("3.1", "the first answer kept on the environment object, shared by all rollouts", '''
class AskAgainEnv(vf.MultiTurnEnv):
    recorded = None

    async def setup_state(self, state):
        state["first_answer"] = None
        return await super().setup_state(state)

    async def env_response(self, messages, state, **kwargs):
        if self.recorded is None:
            self.recorded = extract_boxed_answer(messages[-1]["content"] or "", strict=True)
        state["first_answer"] = self.recorded
        return [vf.UserMessage(content=FOLLOW_UP)]
'''),
    ("3.2", "`== 2`: a rollout past two replies never stops", '''
class DoubleCheckEnv(AskAgainEnv):
    @vf.stop
    async def answered_twice(self, state):
        return len(state["trajectory"]) == 2
'''),
    ("3.2", "off by one: stops after three replies", '''
class DoubleCheckEnv(AskAgainEnv):
    @vf.stop
    async def answered_twice(self, state):
        return len(state["trajectory"]) > 2
'''),
    ("3.2", "stops once a first answer is recorded", '''
class DoubleCheckEnv(AskAgainEnv):
    @vf.stop
    async def answered_twice(self, state):
        return state["first_answer"] is not None
'''),
    ("3.2", "the @vf.stop decorator left out", '''
class DoubleCheckEnv(AskAgainEnv):
    async def answered_twice(self, state):
        return len(state["trajectory"]) >= 2
'''),
    ("3.3", "the second reply instead of the last one", '''
def kept_correct_answer(completion, answer):
    texts = assistant_texts(completion)
    if len(texts) < 2:
        return 0.0
    return float(answer_is_correct(texts[0], answer) and answer_is_correct(texts[1], answer))
'''),
    ("3.3", "the last message of the completion, whoever sent it", '''
def kept_correct_answer(completion, answer):
    if len(completion) < 2:
        return 0.0
    first, last = completion[0]["content"] or "", completion[-1]["content"] or ""
    return float(answer_is_correct(first, answer) and answer_is_correct(last, answer))
'''),
    ("3.3", "counts messages, not replies: a question without a second answer passes", '''
def kept_correct_answer(completion, answer):
    texts = assistant_texts(completion)
    if len(completion) < 2:
        return 0.0
    return float(answer_is_correct(texts[0], answer) and answer_is_correct(texts[-1], answer))
'''),
    ("3.3", "compares the boxed strings exactly: a trailing .0 makes a correct answer wrong", '''
def kept_correct_answer(completion, answer):
    texts = assistant_texts(completion)
    if len(texts) < 2:
        return 0.0
    boxed = [extract_boxed_answer(t, strict=True) for t in (texts[0], texts[-1])]
    return float(boxed[0] == answer and boxed[1] == answer)
'''),
    ("3.3", "only the final reply is checked", '''
def kept_correct_answer(completion, answer):
    texts = assistant_texts(completion)
    return float(len(texts) >= 2 and answer_is_correct(texts[-1], answer))
'''),
]

RIGHT = [
    ("3.1", "records on the first model turn, read from the trajectory; a plain dict message", '''
class AskAgainEnv(vf.MultiTurnEnv):
    async def setup_state(self, state):
        state["first_answer"] = None
        return await super().setup_state(state)

    async def env_response(self, messages, state, **kwargs):
        if len(state["trajectory"]) == 1:
            text = messages[-1].get("content")
            state["first_answer"] = extract_boxed_answer(text if isinstance(text, str) else "", strict=True)
        return [{"role": "user", "content": FOLLOW_UP}]
'''),
    ("3.2", "`> 1` on the number of steps", '''
class DoubleCheckEnv(AskAgainEnv):
    @vf.stop
    async def answered_twice(self, state):
        model_replies = state["trajectory"]
        return len(model_replies) > 1
'''),
    ("3.3", "all() over the first and the last reply", '''
def kept_correct_answer(completion, answer):
    replies = [m.get("content") or "" for m in completion if m.get("role") == "assistant"]
    if len(replies) <= 1:
        return 0.0
    return 1.0 if all(answer_is_correct(t, answer) for t in (replies[0], replies[-1])) else 0.0
'''),
]
