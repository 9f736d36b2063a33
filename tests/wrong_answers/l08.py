"""Lesson 08: keep_game, seq_len_for, assistant_mask."""

WRONG = [
    # ---- 8.1 keep_game ---------------------------------------------------------------------------
    ("8.1", "a failed call (error) is not checked", '''
def keep_game(row):
    if row.get("outcome") not in ("win", "draw") or row.get("invalid_moves", 0):
        return False
    replies = [m for m in row["completion"] if m["role"] == "assistant"]
    return bool(replies) and all(follows_format(message_text(m), "full") for m in replies)
'''),
    ("8.1", "every game that was not lost is kept (unfinished ones too)", '''
def keep_game(row):
    if row.get("error") or row.get("outcome") == "loss" or row.get("invalid_moves", 0):
        return False
    replies = [m for m in row["completion"] if m["role"] == "assistant"]
    return bool(replies) and all(follows_format(message_text(m), "full") for m in replies)
'''),
    ("8.1", "only the last reply's format is checked", '''
def keep_game(row):
    if row.get("error") or row.get("outcome") not in ("win", "draw") or row.get("invalid_moves", 0):
        return False
    replies = [m for m in row["completion"] if m["role"] == "assistant"]
    return bool(replies) and follows_format(message_text(replies[-1]), "full")
'''),
    ("8.1", "format checked by looking for the tags (substrings)", '''
def keep_game(row):
    if row.get("error") or row.get("outcome") not in ("win", "draw") or row.get("invalid_moves", 0):
        return False
    replies = [message_text(m) for m in row["completion"] if m["role"] == "assistant"]
    return bool(replies) and all("<think>" in r and "</think>" in r and "<move>" in r and "</move>" in r
                                 for r in replies)
'''),
    ("8.1", "a game without any reply is kept (all() of nothing is True)", '''
def keep_game(row):
    if row.get("error") or row.get("outcome") not in ("win", "draw") or row.get("invalid_moves", 0):
        return False
    return all(follows_format(message_text(m), "full") for m in row["completion"] if m["role"] == "assistant")
'''),
    ("8.1", "one invalid move is tolerated (> 1)", '''
def keep_game(row):
    if row.get("error") or row.get("outcome") not in ("win", "draw") or row.get("invalid_moves", 0) > 1:
        return False
    replies = [m for m in row["completion"] if m["role"] == "assistant"]
    return bool(replies) and all(follows_format(message_text(m), "full") for m in replies)
'''),
    # ---- 8.2 seq_len_for -------------------------------------------------------------------------
    ("8.2", "int(share * n) instead of math.ceil", '''
def seq_len_for(lengths, share):
    ordered = sorted(lengths)
    k = max(1, int(share * len(ordered)))
    return ordered[k - 1]
'''),
    ("8.2", "off by one: the (k+1)-th smallest length", '''
def seq_len_for(lengths, share):
    ordered = sorted(lengths)
    k = math.ceil(share * len(ordered))
    return ordered[min(k, len(ordered) - 1)]
'''),
    ("8.2", "a strictly larger share than asked (> instead of >=)", '''
def seq_len_for(lengths, share):
    for candidate in sorted(set(lengths)):
        if data.share_within(lengths, candidate) > share:
            return candidate
    return max(lengths)
'''),
    ("8.2", "the share over distinct lengths (dividing by the wrong count)", '''
def seq_len_for(lengths, share):
    distinct = sorted(set(lengths))
    for i, candidate in enumerate(distinct):
        if (i + 1) / len(distinct) >= share:
            return candidate
    return distinct[-1]
'''),
    # ---- 8.3 assistant_mask ----------------------------------------------------------------------
    ("8.3", "the <|assistant|> marker is learned too", '''
def assistant_mask(tokenizer, messages):
    last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=0)
    mask = []
    for i, message in enumerate(messages):
        if message["role"] != "system" and i < last_user:
            continue
        ids = tokenizer(tokenizer.apply_chat_template([message], tokenize=False), add_special_tokens=False)["input_ids"]
        mask += [int(message["role"] == "assistant")] * len(ids)
    return mask
'''),
    ("8.3", "the closing <|end|> is not learned", '''
def assistant_mask(tokenizer, messages):
    last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=0)
    mask = []
    for i, message in enumerate(messages):
        if message["role"] != "system" and i < last_user:
            continue
        ids = tokenizer(tokenizer.apply_chat_template([message], tokenize=False), add_special_tokens=False)["input_ids"]
        if message["role"] == "assistant":
            mask += [0] + [1] * (len(ids) - 2) + [0]
        else:
            mask += [0] * len(ids)
    return mask
'''),
    ("8.3", "every message rendered, not only those the template shows", '''
def assistant_mask(tokenizer, messages):
    mask = []
    for message in messages:
        ids = tokenizer(tokenizer.apply_chat_template([message], tokenize=False), add_special_tokens=False)["input_ids"]
        mask += [0] + [1] * (len(ids) - 1) if message["role"] == "assistant" else [0] * len(ids)
    return mask
'''),
    ("8.3", "the content tokenized on its own: no role marker, no <|end|>", '''
def assistant_mask(tokenizer, messages):
    last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=0)
    mask = []
    for message in messages[last_user:]:
        if message["role"] == "system":
            continue
        ids = tokenizer(message["content"], add_special_tokens=False)["input_ids"]
        mask += [int(message["role"] == "assistant")] * len(ids)
    return mask
'''),
    ("8.3", "from the message after the last user message on: the board is dropped", '''
def assistant_mask(tokenizer, messages):
    last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=-1)
    mask = []
    for message in messages[last_user + 1:]:
        ids = tokenizer(tokenizer.apply_chat_template([message], tokenize=False), add_special_tokens=False)["input_ids"]
        mask += [0] + [1] * (len(ids) - 1) if message["role"] == "assistant" else [0] * len(ids)
    return mask
'''),
    ("8.3", "without a user message nothing is kept", '''
def assistant_mask(tokenizer, messages):
    last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=len(messages))
    mask = []
    for i, message in enumerate(messages):
        if message["role"] != "system" and i < last_user:
            continue
        ids = tokenizer(tokenizer.apply_chat_template([message], tokenize=False), add_special_tokens=False)["input_ids"]
        mask += [0] + [1] * (len(ids) - 1) if message["role"] == "assistant" else [0] * len(ids)
    return mask
'''),
]

RIGHT = [
    ("8.1", "the three rules as one boolean expression", '''
def keep_game(row):
    replies = [message_text(m) for m in row.get("completion", []) if m["role"] == "assistant"]
    return (not row.get("error")
            and row.get("outcome") in {"win", "draw"}
            and not row.get("invalid_moves")
            and len(replies) > 0
            and all(follows_format(text) for text in replies))
'''),
    ("8.2", "the k-th smallest length with k = ceil(share * n)", '''
def seq_len_for(lengths, share):
    ordered = sorted(lengths)
    k = math.ceil(share * len(ordered))
    return ordered[max(k, 1) - 1]
'''),
    ("8.3", "a walk over the ids of the whole rendering: 1 from after <|assistant|> up to its <|end|>", '''
def assistant_mask(tokenizer, messages):
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    start, end = tokenizer.convert_tokens_to_ids(["<|assistant|>", "<|end|>"])
    mask, inside = [], False
    for token in ids:
        mask.append(1 if inside else 0)
        if token == start:
            inside = True
        elif token == end:
            inside = False
    return mask
'''),
    ("8.3", "system messages kept: the template renders them as nothing, so they add no tokens", '''
def assistant_mask(tokenizer, messages):
    users = [i for i, m in enumerate(messages) if m["role"] == "user"]
    shown = [m for i, m in enumerate(messages) if m["role"] == "system" or i >= (users[-1] if users else 0)]
    mask = []
    for message in shown:
        ids = tokenizer(tokenizer.apply_chat_template([message], tokenize=False), add_special_tokens=False)["input_ids"]
        mask += [0] + [1] * (len(ids) - 1) if message["role"] == "assistant" else [0] * len(ids)
    return mask
'''),
    ("8.3", "the template's own generation mask, rebuilt from the full rendering", '''
def assistant_mask(tokenizer, messages):
    out = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True,
                                        return_assistant_tokens_mask=True)
    return [int(bit) for bit in out["assistant_masks"]]
'''),
]
