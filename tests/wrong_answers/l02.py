"""Lesson 02: lcs_ratio, reversal_reward, make_env (reverse text)."""

WRONG = [
    ("2.1", "compares position by position", '''
def lcs_ratio(answer, target):
    if not answer and not target:
        return 1.0
    same = sum(a == t for a, t in zip(answer, target))
    return 2 * same / (len(answer) + len(target))
'''),
    ("2.1", "difflib's SequenceMatcher ratio (not the LCS)", '''
import difflib

def lcs_ratio(answer, target):
    if not answer and not target:
        return 1.0
    return difflib.SequenceMatcher(None, answer, target).ratio()
'''),
    ("2.1", "longest common substring (contiguous) instead of subsequence", '''
def lcs_ratio(answer, target):
    if not answer and not target:
        return 1.0
    best = 0
    previous = [0] * (len(target) + 1)
    for a_char in answer:
        current = [0]
        for j, t_char in enumerate(target):
            current.append(previous[j] + 1 if a_char == t_char else 0)
        best = max(best, max(current))
        previous = current
    return 2 * best / (len(answer) + len(target))
'''),
    ("2.1", "the mismatch case reads the wrong neighbour (previous[j])", '''
def lcs_ratio(answer, target):
    if not answer and not target:
        return 1.0
    previous = [0] * (len(target) + 1)
    for a_char in answer:
        current = [0]
        for j, t_char in enumerate(target):
            if a_char == t_char:
                current.append(previous[j] + 1)
            else:
                current.append(max(previous[j], current[j]))
        previous = current
    return 2 * previous[-1] / (len(answer) + len(target))
'''),
    ("2.1", "divides by the longer length instead of the sum", '''
def lcs_ratio(answer, target):
    if not answer and not target:
        return 1.0
    previous = [0] * (len(target) + 1)
    for a_char in answer:
        current = [0]
        for j, t_char in enumerate(target):
            current.append(previous[j] + 1 if a_char == t_char else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1] / max(len(answer), len(target))
'''),
    ("2.1", "any empty string scores 0.0, two empty strings too", '''
def lcs_ratio(answer, target):
    if not answer or not target:
        return 0.0
    previous = [0] * (len(target) + 1)
    for a_char in answer:
        current = [0]
        for j, t_char in enumerate(target):
            current.append(previous[j] + 1 if a_char == t_char else max(previous[j + 1], current[j]))
        previous = current
    return 2 * previous[-1] / (len(answer) + len(target))
'''),
    ("2.2", "reverses the answer again before comparing", '''
def reversal_reward(completion, answer):
    parsed = parser.parse_answer(completion)
    if parsed is None:
        return 0.0
    return lcs_ratio(parsed, answer[::-1])
'''),
    ("2.2", "the whole reply is compared when the tag is missing", '''
def reversal_reward(completion, answer):
    parsed = parser.parse_answer(completion)
    if parsed is None:
        parsed = completion[-1]["content"] if completion else ""
    return lcs_ratio(parsed, answer)
'''),
    ("2.2", "exact match instead of partial credit", '''
def reversal_reward(completion, answer):
    parsed = parser.parse_answer(completion)
    return 1.0 if parsed is not None and parsed.strip() == answer else 0.0
'''),
    ("2.2", "a hand-written regex without stripping the spaces", '''
import re

def reversal_reward(completion, answer):
    if not completion:
        return 0.0
    found = re.search(r"<reversed_text>\\n?(.*?)\\n?</reversed_text>", completion[-1]["content"] or "", re.DOTALL)
    return lcs_ratio(found.group(1), answer) if found else 0.0
'''),
    ("2.3", "the splits swapped: the first rows train, the rest evaluate", '''
def make_env(texts, num_eval=20):
    rows = [{"question": text, "answer": text[::-1]} for text in texts]
    rubric = vf.Rubric(funcs=[reversal_reward, parser.get_format_reward_func()], weights=[1.0, 0.2], parser=parser)
    return vf.SingleTurnEnv(dataset=Dataset.from_list(rows[:num_eval]), eval_dataset=Dataset.from_list(rows[num_eval:]),
                            system_prompt=SYSTEM_PROMPT, parser=parser, rubric=rubric)
'''),
    ("2.3", "the weights in the wrong order", '''
def make_env(texts, num_eval=20):
    rows = [{"question": text, "answer": text[::-1]} for text in texts]
    rubric = vf.Rubric(funcs=[reversal_reward, parser.get_format_reward_func()], weights=[0.2, 1.0], parser=parser)
    return vf.SingleTurnEnv(dataset=Dataset.from_list(rows[num_eval:]), eval_dataset=Dataset.from_list(rows[:num_eval]),
                            system_prompt=SYSTEM_PROMPT, parser=parser, rubric=rubric)
'''),
    ("2.3", "the answer is the passage itself, not reversed", '''
def make_env(texts, num_eval=20):
    rows = [{"question": text, "answer": text} for text in texts]
    rubric = vf.Rubric(funcs=[reversal_reward, parser.get_format_reward_func()], weights=[1.0, 0.2], parser=parser)
    return vf.SingleTurnEnv(dataset=Dataset.from_list(rows[num_eval:]), eval_dataset=Dataset.from_list(rows[:num_eval]),
                            system_prompt=SYSTEM_PROMPT, parser=parser, rubric=rubric)
'''),
    ("2.3", "the format reward left out of the rubric", '''
def make_env(texts, num_eval=20):
    rows = [{"question": text, "answer": text[::-1]} for text in texts]
    rubric = vf.Rubric(funcs=[reversal_reward], weights=[1.0], parser=parser)
    return vf.SingleTurnEnv(dataset=Dataset.from_list(rows[num_eval:]), eval_dataset=Dataset.from_list(rows[:num_eval]),
                            system_prompt=SYSTEM_PROMPT, parser=parser, rubric=rubric)
'''),
    ("2.3", "the eval rows are also kept in the train split", '''
def make_env(texts, num_eval=20):
    rows = [{"question": text, "answer": text[::-1]} for text in texts]
    rubric = vf.Rubric(funcs=[reversal_reward, parser.get_format_reward_func()], weights=[1.0, 0.2], parser=parser)
    return vf.SingleTurnEnv(dataset=Dataset.from_list(rows), eval_dataset=Dataset.from_list(rows[:num_eval]),
                            system_prompt=SYSTEM_PROMPT, parser=parser, rubric=rubric)
'''),
]

RIGHT = [
    ("2.1", "the full (len+1) x (len+1) table", '''
def lcs_ratio(answer, target):
    total = len(answer) + len(target)
    if total == 0:
        return 1.0
    table = [[0] * (len(target) + 1) for _ in range(len(answer) + 1)]
    for i in range(1, len(answer) + 1):
        for j in range(1, len(target) + 1):
            if answer[i - 1] == target[j - 1]:
                table[i][j] = table[i - 1][j - 1] + 1
            else:
                table[i][j] = max(table[i - 1][j], table[i][j - 1])
    return 2 * table[-1][-1] / total
'''),
    ("2.2", "the last reply read with a regex and stripped", '''
import re

def reversal_reward(completion, answer):
    replies = [m for m in completion if m["role"] == "assistant"]
    if not replies:
        return 0.0
    found = re.search(r"<reversed_text>(.*?)</reversed_text>", replies[-1]["content"] or "", re.DOTALL)
    if found is None:
        return 0.0
    return lcs_ratio(found.group(1).strip(), answer)
'''),
    ("2.3", "the datasets built with from_dict and weights named in a dict", '''
def make_env(texts, num_eval=20):
    eval_texts, train_texts = texts[:num_eval], texts[num_eval:]
    split = lambda ts: Dataset.from_dict({"question": list(ts), "answer": [t[::-1] for t in ts]})
    weights = {reversal_reward: 1.0, parser.get_format_reward_func(): 0.2}
    rubric = vf.Rubric(funcs=list(weights), weights=list(weights.values()), parser=parser)
    return vf.SingleTurnEnv(dataset=split(train_texts), eval_dataset=split(eval_texts), system_prompt=SYSTEM_PROMPT,
                            parser=parser, rubric=rubric)
'''),
]
