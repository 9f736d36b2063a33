"""Graders of lesson 03 (multi-turn environment: double check)."""

import pytest
import verifiers as vf
from datasets import Dataset

import double_check
from helpers import build, call, replies, rollouts

PROBLEMS = double_check.make_problems(3, seed=0, split="eval")


def problems() -> Dataset:
    return Dataset.from_list(PROBLEMS)


def text_of(message) -> str:
    content = message.get("content")
    return content if isinstance(content, str) else ""


# ----------------------------------------------------------------------------- Exercise 3.1


def test_ex3_1_env_response(nb):
    env = build(nb.AskAgainEnv, eval_dataset=problems(), system_prompt=double_check.SYSTEM_PROMPT, max_turns=3)
    state = {"first_answer": None, "trajectory": [{}], "answer": "12"}
    messages = [{"role": "user", "content": "Compute 3 * 4."},
                vf.AssistantMessage(content="3 times 4 is \\boxed{12}.")]
    out = call(env.env_response, messages, state)
    assert isinstance(out, list) and len(out) == 1, (
        f"env_response should return a list holding one message, got {out!r}")
    assert out[0]["role"] == "user" and text_of(out[0]) == nb.FOLLOW_UP, (
        f"env_response should return [vf.UserMessage(content=FOLLOW_UP)], got {out!r}")
    assert state["first_answer"] == "12", (
        f'after the first reply "3 times 4 is \\boxed{{12}}." state["first_answer"] should be "12", '
        f'got {state["first_answer"]!r}')
    messages += [out[0], vf.AssistantMessage(content="Hmm, \\boxed{13}.")]
    state["trajectory"].append({})
    out = call(env.env_response, messages, state)
    assert state["first_answer"] == "12", (
        f'state["first_answer"] must keep the FIRST answer; a later reply changed it to {state["first_answer"]!r}')
    assert text_of(out[0]) == nb.FOLLOW_UP, "env_response should ask FOLLOW_UP after every reply"

    rows = rollouts(env, replies("I get \\boxed{5}.", "No: \\boxed{6}.", "\\boxed{7}"), state_columns=["first_answer"])
    for row in rows:
        roles = [m["role"] for m in row["completion"]]
        assert roles == ["assistant", "user", "assistant", "user", "assistant"], (
            f"with max_turns=3 a rollout should alternate model replies and your follow-ups, got roles {roles}")
        asked = {text_of(m) for m in row["completion"] if m["role"] == "user"}
        assert asked == {nb.FOLLOW_UP}, f"every environment turn should be {nb.FOLLOW_UP!r}, got {asked}"
        assert row["first_answer"] == "5", f'state["first_answer"] should be "5" after the rollout, got {row["first_answer"]!r}'
    rows = rollouts(env, replies("I do not know."), state_columns=["first_answer"])
    assert all(row["first_answer"] == "" for row in rows), (
        'a first reply without \\boxed{} should leave state["first_answer"] == "" '
        f'(what extract_boxed_answer returns), got {[row["first_answer"] for row in rows]}')
    rows = rollouts(env, replies("I do not know.", "Then \\boxed{6}.", "\\boxed{7}"), state_columns=["first_answer"])
    assert all(row["first_answer"] == "" for row in rows), (
        'a first reply without \\boxed{} records "" as the first answer, and later replies must not replace it; got '
        f'{[row["first_answer"] for row in rows]}. "" is a recorded answer: test `is None`, not `not state["first_answer"]`')


def test_ex3_1_first_answer_is_the_last_boxed_of_the_first_reply(nb):
    env = build(nb.AskAgainEnv, eval_dataset=problems(), system_prompt=double_check.SYSTEM_PROMPT, max_turns=3)
    state = {"first_answer": None, "trajectory": [{}], "answer": "12"}
    reply = "First I wrote \\boxed{11}, but 3 times 4 is \\boxed{12}."
    messages = [{"role": "user", "content": "Compute 3 * 4."}, vf.AssistantMessage(content=reply)]
    call(env.env_response, messages, state)
    expected = double_check.extract_boxed_answer(reply, strict=True)
    assert state["first_answer"] == expected, (
        f'the first answer is the content of the LAST \\boxed{{}} of the first reply, as extract_boxed_answer(text, '
        f'strict=True) returns it: {expected!r} for {reply!r}, got {state["first_answer"]!r}')


# ----------------------------------------------------------------------------- Exercise 3.2


def test_ex3_2_stop_after_two_answers(nb):
    env = build(nb.DoubleCheckEnv, eval_dataset=problems(), system_prompt=double_check.SYSTEM_PROMPT, max_turns=10)
    for steps, expected in [(0, False), (1, False), (2, True), (3, True)]:
        got = call(env.answered_twice, {"trajectory": [{}] * steps, "first_answer": None})
        assert bool(got) is expected, (
            f"answered_twice should be {expected} when the model has replied {steps} time(s) "
            f"(len(state['trajectory']) == {steps}), got {got!r}")
    rows = rollouts(env, "scripted/math-second-guess", rollouts_per_example=2)
    for row in rows:
        roles = [m["role"] for m in row["completion"]]
        assert roles == ["assistant", "user", "assistant"], (
            f"even with max_turns=10 a rollout should stop after the second answer; got roles {roles}")
        assert row["stop_condition"] == "answered_twice", (
            f"the rollout should end because of your stop condition, not {row['stop_condition']!r}")


# ----------------------------------------------------------------------------- Exercise 3.3


def conversation(first: str, second: str | None = None, as_objects: bool = False, more: tuple = ()) -> list:
    """Model replies ``first``, ``second`` and then ``more``, each later one after "Are you sure?"; an item of
    ``more`` that is ``("user", text)`` is a user message instead (e.g. a closing message)."""
    messages = [{"role": "assistant", "content": first}]
    if second is not None:
        messages += [{"role": "user", "content": "Are you sure?"}, {"role": "assistant", "content": second}]
    for item in more:
        if isinstance(item, tuple):
            messages.append({"role": item[0], "content": item[1]})
        else:
            messages += [{"role": "user", "content": "Are you sure?"}, {"role": "assistant", "content": item}]
    if as_objects:
        kinds = {"assistant": vf.AssistantMessage, "user": vf.UserMessage}
        messages = [kinds[m["role"]](content=m["content"]) for m in messages]
    return messages


@pytest.mark.parametrize("as_objects", [False, True])
def test_ex3_3_kept_correct_answer(nb, as_objects):
    cases = [
        ("\\boxed{12}", "Yes: \\boxed{12}", 1.0, "a correct answer kept after the follow-up"),
        ("\\boxed{12}", "Let me redo it: \\boxed{13}", 0.0, "a correct answer abandoned after the follow-up"),
        ("\\boxed{11}", "Oops, \\boxed{12}", 0.0, "a wrong first answer fixed later (nothing correct was kept)"),
        ("\\boxed{11}", "\\boxed{11}", 0.0, "a wrong answer kept"),
        ("\\boxed{12}", None, 0.0, "a single answer (the model was never asked again)"),
        ("\\boxed{12}", "I am sure, \\boxed{12.0}", 1.0, "12 then 12.0 (the same number: use answer_is_correct)"),
        ("no idea", "\\boxed{12}", 0.0, "a first reply without \\boxed{}"),
    ]
    for first, second, expected, what in cases:
        got = call(nb.kept_correct_answer, conversation(first, second, as_objects), "12")
        assert got == expected, f"kept_correct_answer should be {expected} for {what}; got {got!r}"
    got = call(nb.kept_correct_answer, [], "12")
    assert got == 0.0, f"an empty completion should score 0.0, got {got!r}"
    longer = [
        ("\\boxed{12}", "\\boxed{13}", ("\\boxed{12}",), 1.0,
         "three replies 12, 13, 12: the first and the LAST reply are correct (texts[-1], not texts[1])"),
        ("\\boxed{12}", "\\boxed{12}", ("\\boxed{13}",), 0.0, "three replies 12, 12, 13: the last reply is wrong"),
        ("\\boxed{12}", "Sure: \\boxed{12}", (("user", "Thanks, answer recorded."),), 1.0,
         "two correct replies followed by the environment's closing message: the last REPLY is the model's, not "
         "the closing message"),
        ("\\boxed{12}", None, (("user", "Are you sure?"),), 0.0,
         "one reply, then a follow-up the model never answered: it replied only once (count the model's replies, "
         "not the messages)"),
    ]
    for first, second, more, expected, what in longer:
        got = call(nb.kept_correct_answer, conversation(first, second, as_objects, more), "12")
        assert got == expected, f"kept_correct_answer should be {expected} for {what}; got {got!r}"
