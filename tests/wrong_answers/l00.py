"""Lesson 00: make_messages, reply_and_tokens."""

WRONG = [
    ("0.1", "`is not None` lets an empty system prompt through", '''
def make_messages(user_text, system_prompt=None):
    messages = []
    if system_prompt is not None:
        messages.append({"role": "system", "content": system_prompt})
    messages.append({"role": "user", "content": user_text})
    return messages
'''),
    ("0.1", "the system message comes after the user's", '''
def make_messages(user_text, system_prompt=None):
    messages = [{"role": "user", "content": user_text}]
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    return messages
'''),
    ("0.1", "a mutable default list keeps the messages of earlier calls", '''
def make_messages(user_text, system_prompt=None, messages=[]):
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    messages.append({"role": "user", "content": user_text})
    return messages
'''),
    ("0.1", "always a system message, empty when none is given", '''
def make_messages(user_text, system_prompt=None):
    return [{"role": "system", "content": system_prompt or ""}, {"role": "user", "content": user_text}]
'''),
    ("0.2", "total_tokens instead of completion_tokens", '''
def reply_and_tokens(response):
    return response.choices[0].message.content or "", response.usage.total_tokens
'''),
    ("0.2", "None content returned as is", '''
def reply_and_tokens(response):
    return response.choices[0].message.content, response.usage.completion_tokens
'''),
    ("0.2", "str() turns a missing text into 'None'", '''
def reply_and_tokens(response):
    return str(response.choices[0].message.content), response.usage.completion_tokens
'''),
    ("0.2", "the last choice instead of the first", '''
def reply_and_tokens(response):
    return response.choices[-1].message.content or "", response.usage.completion_tokens
'''),
    ("0.2", "the texts of all choices joined", '''
def reply_and_tokens(response):
    text = "".join(choice.message.content or "" for choice in response.choices)
    return text, response.usage.completion_tokens
'''),
    ("0.2", "tokens counted as words of the reply", '''
def reply_and_tokens(response):
    text = response.choices[0].message.content or ""
    return text, len(text.split())
'''),
]

RIGHT = [
    ("0.1", "a conditional list expression", '''
def make_messages(user_text, system_prompt=None):
    system = [dict(role="system", content=system_prompt)] if system_prompt else []
    return system + [dict(role="user", content=user_text)]
'''),
    ("0.2", "an explicit None test on the message", '''
def reply_and_tokens(response):
    message = response.choices[0].message
    text = "" if message.content is None else message.content
    return (text, int(response.usage.completion_tokens))
'''),
]
