"""Scripted stand-in policies: hand-written Python, clearly not language models.

They let every environment run offline and give the course fixed reference players:

=========================  =====================================================================
``scripted/ttt-random``     a random free cell
``scripted/ttt-minimax``    a perfect player (uniform among the best moves)
``scripted/ttt-heuristic``  the "teacher": win, else block, else centre, else a corner, else an edge;
                            it never looks two moves ahead, so it falls for forks
``scripted/ttt-careless``   the heuristic teacher with slips: on a turn where it cannot win at once,
                            one move in ten is a random free cell (as strong as the talk's teacher)
``scripted/reverse-noisy``  reverses the text, with a few slips now and then
``scripted/math-second-guess``  solves the arithmetic, sometimes wrongly, and sometimes abandons
                            a correct answer when asked "Are you sure?"
``scripted/tool-caller``    search, read the top article, answer with its best-matching sentence
``scripted/fuzz``           garbage of every kind, for robustness tests
=========================  =====================================================================
"""

from __future__ import annotations

import ast
import json
import operator
import random
import re

from tictactoe import best_moves, legal_moves, message_text, other, parse_board, play, winner

from rlcourse.policies import Reply

# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def last_message(messages: list[dict], role: str) -> dict | None:
    for message in reversed(messages):
        if message.get("role") == role:
            return message
    return None


def last_text(messages: list[dict], role: str) -> str:
    message = last_message(messages, role)
    return message_text(message) if message is not None else ""


def wants_think(messages: list[dict]) -> bool:
    """True when the system prompt asks for <think> tags."""
    system = next((m for m in messages if m.get("role") in ("system", "developer")), None)
    return system is not None and "<think>" in message_text(system)


def ttt_reply(messages: list[dict], thought: str, cell: int) -> Reply:
    if wants_think(messages):
        return Reply(content=f"<think>{thought}</think>\n<move>{cell}</move>")
    return Reply(content=f"<move>{cell}</move>")


def current_board(messages: list[dict]) -> str | None:
    return parse_board(last_text(messages, "user"))


NO_BOARD = Reply(content="I cannot find a Tic-Tac-Toe board in the last message.")

# --------------------------------------------------------------------------------------------
# Tic-Tac-Toe players (always X)
# --------------------------------------------------------------------------------------------


def ttt_random(messages, tools, rng: random.Random) -> Reply:
    board = current_board(messages)
    if board is None or not legal_moves(board):
        return NO_BOARD
    return ttt_reply(messages, "I pick a free cell at random.", rng.choice(legal_moves(board)))


def ttt_minimax(messages, tools, rng: random.Random) -> Reply:
    board = current_board(messages)
    if board is None or not legal_moves(board) or winner(board):
        return NO_BOARD
    moves = best_moves(board, "X")
    return ttt_reply(messages, f"Perfect play allows {moves}; I pick one.", rng.choice(moves))


def winning_cells(board: str, mark: str) -> list[int]:
    """Cells where ``mark`` would complete a line right now."""
    return [m for m in legal_moves(board) if winner(play(board, m, mark)) == mark]


def free_cells(board: str) -> str:
    """How the teachers' reasons start: "Free: 0 2 5." (the free cells, read off the board)."""
    return "Free: " + " ".join(str(c) for c in legal_moves(board)) + "."


def teacher_move(board: str, rng: random.Random, mark: str = "X") -> tuple[int, str]:
    """The heuristic teacher's move and a short reason. One-ply lookahead only: no fork defence.

    The reason starts by listing the free cells: a tiny model that imitates it reads the board before
    it picks a move, which makes its moves valid far more often (a chain of thought fitted to the task).
    """
    free = free_cells(board)
    wins = winning_cells(board, mark)
    if wins:
        return wins[0], f"{free} I can complete a line at {wins[0]}."
    threats = winning_cells(board, other(mark))
    if threats:
        return threats[0], f"{free} {other(mark)} threatens to win at {threats[0]}, so I block it."
    if board[4] == ".":
        return 4, f"{free} No threats. The centre is free, so I take it."
    corners = [c for c in (0, 2, 6, 8) if board[c] == "."]
    if corners:
        cell = rng.choice(corners)
        return cell, f"{free} No threats. I take the corner {cell}."
    cell = rng.choice(legal_moves(board))
    return cell, f"{free} No threats. I take the edge {cell}."


SLIP_PROB = 0.1


def careless_move(board: str, rng: random.Random, mark: str = "X") -> tuple[int, str]:
    """The heuristic teacher's move, except for slips: where it cannot win at once, with probability
    ``SLIP_PROB`` it plays a random free cell instead.

    A stand-in for the talk's teacher (gpt-5-mini: 90% wins against the random opponent, 76% draws
    against the optimal one); measured over 4,000 games each, this one wins 89% and draws 77%.
    Its data teach a student the format and passable play, and leave RL something to do.
    """
    if not winning_cells(board, mark) and rng.random() < SLIP_PROB:
        cell = rng.choice(legal_moves(board))
        return cell, f"{free_cells(board)} I take {cell}."
    return teacher_move(board, rng, mark)


def teacher_reply(messages: list[dict], rng: random.Random, move=teacher_move) -> Reply:
    """The reply of a teacher whose ``move(board, rng)`` gives a cell and a reason."""
    board = current_board(messages)
    if board is None or not legal_moves(board) or winner(board):
        return NO_BOARD
    cell, thought = move(board, rng)
    return ttt_reply(messages, thought, cell)


def ttt_careless(messages, tools, rng: random.Random) -> Reply:
    return teacher_reply(messages, rng, careless_move)


def ttt_heuristic(messages, tools, rng: random.Random) -> Reply:
    return teacher_reply(messages, rng, teacher_move)


# --------------------------------------------------------------------------------------------
# Reverse text
# --------------------------------------------------------------------------------------------


def corrupt(text: str, rng: random.Random, slips: int) -> str:
    chars = list(text)
    for _ in range(slips):
        if len(chars) < 2:
            break
        i = rng.randrange(len(chars) - 1)
        action = rng.choice(("swap", "drop", "double"))
        if action == "swap":
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        elif action == "drop":
            del chars[i]
        else:
            chars.insert(i, chars[i])
    return "".join(chars)


def reverse_noisy(messages, tools, rng: random.Random) -> Reply:
    """Reverse the last user message; 40% of replies carry 1-6 slips, 10% forget the tags."""
    reversed_text = last_text(messages, "user")[::-1]
    if rng.random() < 0.4:
        reversed_text = corrupt(reversed_text, rng, rng.randint(1, 6))
    if rng.random() < 0.1:
        return Reply(content=reversed_text)
    return Reply(content=f"<reversed_text>\n{reversed_text}\n</reversed_text>")


# --------------------------------------------------------------------------------------------
# Arithmetic with second thoughts
# --------------------------------------------------------------------------------------------

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}
_EXPR_RE = re.compile(r"[-+*() 0-9]*\d[-+*() 0-9]*")
_BOXED_RE = re.compile(r"\\boxed\{(-?\d+)\}")


def evaluate_arithmetic(expression: str) -> int:
    """Integer value of an expression made of integers, + - * and parentheses (no eval())."""

    def walk(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        raise ValueError(f"unsupported expression: {expression!r}")

    return walk(ast.parse(expression.strip(), mode="eval").body)


def math_second_guess(messages, tools, rng: random.Random) -> Reply:
    """First answer right 75% of the time; asked again, it drops a right answer 30% of the time and
    fixes a wrong one 50% of the time."""
    first_question = next((message_text(m) for m in messages if m.get("role") == "user"), "")
    candidates = sorted(_EXPR_RE.findall(first_question), key=len, reverse=True)
    try:
        truth = evaluate_arithmetic(candidates[0])
    except (IndexError, ValueError, SyntaxError):
        return Reply(content="I could not find an arithmetic expression to compute.")
    previous = _BOXED_RE.findall(last_text(messages, "assistant"))
    if not previous:  # first answer
        answer = truth if rng.random() < 0.75 else truth + rng.choice((-10, -2, -1, 1, 2, 10))
        return Reply(content=f"Working it out step by step, the result is \\boxed{{{answer}}}.")
    before = int(previous[-1])
    if before == truth:
        if rng.random() < 0.3:
            changed = truth + rng.choice((-1, 1, 2))
            return Reply(content=f"Hmm, let me redo it... I now get \\boxed{{{changed}}}.")
        return Reply(content=f"Yes, I checked again: \\boxed{{{truth}}}.")
    if rng.random() < 0.5:
        return Reply(content=f"Good catch, I made a slip. The correct result is \\boxed{{{truth}}}.")
    return Reply(content=f"Yes, I am sure: \\boxed{{{before}}}.")


# --------------------------------------------------------------------------------------------
# Tool calling
# --------------------------------------------------------------------------------------------

_WORD_RE = re.compile(r"[a-z0-9]+")
_STOP = {"the", "a", "an", "of", "in", "on", "what", "which", "who", "is", "was", "did", "does", "how",
         "many", "to", "and", "for", "by", "with", "that", "it", "its", "as", "at", "be", "are", "from"}


def content_words(text: str) -> set[str]:
    return {w for w in _WORD_RE.findall(text.lower()) if w not in _STOP}


def tool_name_containing(tools: list[dict] | None, word: str) -> str | None:
    for tool in tools or []:
        name = tool.get("function", tool).get("name", "")
        if word in name:
            return name
    return None


def tool_caller(messages, tools, rng: random.Random) -> Reply:
    """search -> read the first hit -> answer with the article sentence that best overlaps the question."""
    question = next((message_text(m) for m in messages if m.get("role") == "user"), "")
    search, read = tool_name_containing(tools, "search"), tool_name_containing(tools, "read")
    last = messages[-1]
    if last.get("role") == "user":
        if search is None:
            return Reply(content="I have no search tool, so I cannot look this up.")
        return Reply(tool_calls=[{"name": search, "arguments": json.dumps({"query": question})}])
    result = message_text(last) if last.get("role") == "tool" else ""
    titles = re.findall(r"^\d+\. (.+)$", result, flags=re.MULTILINE)
    if titles and read is not None:
        return Reply(tool_calls=[{"name": read, "arguments": json.dumps({"title": titles[0].strip()})}])
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", result) if s.strip()]
    if not sentences:
        return Reply(content="I could not find the answer.")
    wanted = content_words(question)
    best = max(sentences, key=lambda s: len(wanted & content_words(s)))
    return Reply(content=f"Answer: {best}")


# --------------------------------------------------------------------------------------------
# Fuzz: every kind of bad output
# --------------------------------------------------------------------------------------------

GARBAGE_TEXTS = [
    "", "   \n\t ", "<move>4</move><move>5</move>", "<move>4.0</move>", "<move>-1</move>", "<move>9</move>",
    "<move>\uff11</move>", "<move>\u0664</move>", "<move></move>", "<move>4", "move 4", "4", "<think></think>",
    "<think><move>3</move></think>", "<think>ok</think><move>7</move> and more", "<MOVE>2</MOVE>",
    "\u2603\u2764\ufe0f \U0001F600 \u202e reversed", "\x00\x01\x02", "<reversed_text></reversed_text>",
    "\\boxed{}", "\\boxed{\\frac{1}{0}}", "<move>" + "9" * 400 + "</move>",
]


def fuzz_text(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.05:
        return rng.choice("xyz<>/ \n") * 100_000
    if kind < 0.35:
        return f"<think>{rng.choice(['', 'hmm', 'x' * 50])}</think><move>{rng.randrange(-2, 12)}</move>"
    if kind < 0.45:
        return "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(1, 200)))
    return rng.choice(GARBAGE_TEXTS)


def fuzz(messages, tools, rng: random.Random) -> Reply:
    """Random garbage; when tools are offered, also broken tool calls."""
    if tools and rng.random() < 0.5:
        names = [tool.get("function", tool).get("name", "") for tool in tools] + ["no_such_tool", "", "\u2603"]
        arguments = rng.choice(['{"query": "go"}', '{"title": "Chess"}', "{not json", "[1, 2]", '"text"', "",
                                '{"query": 7}', '{"title": null}', "{}", '{"query": "' + "q" * 5000 + '"}'])
        calls = [{"name": rng.choice(names), "arguments": arguments} for _ in range(rng.randint(1, 3))]
        return Reply(tool_calls=calls)
    return Reply(content=fuzz_text(rng))


SCRIPTED = {
    "scripted/ttt-random": (ttt_random, "Scripted stand-in (not a language model): random free cell."),
    "scripted/ttt-minimax": (ttt_minimax, "Scripted stand-in (not a language model): perfect minimax play."),
    "scripted/ttt-heuristic": (ttt_heuristic, "Scripted stand-in (not a language model): the heuristic teacher."),
    "scripted/ttt-careless": (ttt_careless, "Scripted stand-in (not a language model): the teacher with slips."),
    "scripted/reverse-noisy": (reverse_noisy, "Scripted stand-in (not a language model): reverses text with slips."),
    "scripted/math-second-guess": (math_second_guess, "Scripted stand-in (not a language model): arithmetic with doubts."),
    "scripted/tool-caller": (tool_caller, "Scripted stand-in (not a language model): search, read, answer."),
    "scripted/fuzz": (fuzz, "Scripted stand-in (not a language model): garbage for robustness tests."),
}
