"""Graders of lesson 00 (set-up check): building a conversation, reading a chat.completion."""

from openai.types.chat import ChatCompletion

from rlcourse.policies import Reply
from rlcourse.server import ChatRequest, completion_body


def test_ex0_1_system_then_user(nb):
    messages = nb.make_messages("What is 2 + 2?", "Answer briefly.")
    assert isinstance(messages, list), f"make_messages should return a list, got {type(messages).__name__}"
    assert messages == [{"role": "system", "content": "Answer briefly."},
                        {"role": "user", "content": "What is 2 + 2?"}], \
        f"expected a system message then a user message, got {messages}"


def test_ex0_1_no_system_prompt(nb):
    for missing in (None, ""):
        messages = nb.make_messages("Hello", missing)
        assert messages == [{"role": "user", "content": "Hello"}], \
            f"with system_prompt={missing!r} the list should hold only the user message, got {messages}"
    assert nb.make_messages("Hi") == [{"role": "user", "content": "Hi"}], "system_prompt should default to None"


def test_ex0_1_the_server_accepts_it(nb):
    request = ChatRequest.model_validate({"model": "scripted/ttt-heuristic",
                                          "messages": nb.make_messages("Your move.", "Play well.")})
    assert [m.role for m in request.messages] == ["system", "user"]


def completion(content, completion_tokens=None, tool_calls=None, more_choices=()) -> ChatCompletion:
    """A chat.completion for ``content``; ``more_choices`` adds further choices (a request with n > 1)."""
    request = ChatRequest.model_validate({"model": "scripted/test", "messages": [{"role": "user", "content": "hi"}]})
    reply = Reply(content=content, tool_calls=tool_calls, completion_tokens=completion_tokens)
    body = completion_body(request, reply, prompt_tokens=17)
    for index, text in enumerate(more_choices, start=1):
        body["choices"].append({"index": index, "message": {"role": "assistant", "content": text},
                                "finish_reason": "stop", "logprobs": None})
    return ChatCompletion.model_validate(body)


def test_ex0_2_text_and_token_count(nb):
    result = nb.reply_and_tokens(completion("<move>4</move>", completion_tokens=6))
    assert tuple(result) == ("<move>4</move>", 6), \
        f"expected the reply text and its completion_tokens ('<move>4</move>', 6), got {result!r}"
    text, tokens = nb.reply_and_tokens(completion("I pick the centre.", completion_tokens=11))
    assert tokens == 11, f"the token count should be usage.completion_tokens (11), not {tokens}"
    assert text == "I pick the centre."


def test_ex0_2_no_text(nb):
    response = completion(None, completion_tokens=3, tool_calls=[{"name": "search", "arguments": "{}"}])
    text, tokens = nb.reply_and_tokens(response)
    assert text == "", f"a message without content should give an empty string, got {text!r}"
    assert tokens == 3


def test_ex0_2_first_choice_only(nb):
    # A request with n=3 gets three choices; the reply is the first one's text, not another's or all of them.
    response = completion("<move>4</move>", completion_tokens=18, more_choices=["<move>0</move>", "<move>8</move>"])
    text, tokens = nb.reply_and_tokens(response)
    assert text == "<move>4</move>", (
        f"with several choices, return the text of the first one, response.choices[0] ('<move>4</move>'); got {text!r}")
    assert tokens == 18, f"the token count is usage.completion_tokens (18), got {tokens!r}"
