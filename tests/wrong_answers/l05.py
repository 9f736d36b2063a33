"""Lesson 05: winner, read_move, the basic environment's env_response."""

WRONG = [
    ("5.1", "rows only, no columns or diagonals", '''
def winner(board):
    for r in range(3):
        a, b, c = board[3 * r : 3 * r + 3]
        if a != "." and a == b == c:
            return a
    return None
'''),
    ("5.1", "three empty cells count as a line", '''
def winner(board):
    for a, b, c in LINES:
        if board[a] == board[b] == board[c]:
            return board[a]
    return None
'''),
    ("5.1", "False instead of None when nobody has won", '''
def winner(board):
    for a, b, c in LINES:
        if board[a] != "." and board[a] == board[b] == board[c]:
            return board[a]
    return False
'''),
    ("5.1", "only the first line holding a mark is checked", '''
def winner(board):
    for a, b, c in LINES:
        if board[a] != ".":
            return board[a] if board[a] == board[b] == board[c] else None
    return None
'''),
    ("5.2", "a lenient membership test: '01' is a substring of '012345678'", '''
def read_move(text, board):
    tags = re.findall(r"<move>(.*?)</move>", text or "", flags=re.DOTALL)
    if len(tags) != 1:
        return None
    value = tags[0].strip()
    if not value or value not in "012345678":
        return None
    cell = int(value)
    return cell if cell <= 8 and board[cell] == "." else None
'''),
    ("5.2", "int() with a try: signs, spaces and other digits get through", '''
def read_move(text, board):
    tags = re.findall(r"<move>(.*?)</move>", text or "", flags=re.DOTALL)
    if len(tags) != 1:
        return None
    try:
        cell = int(tags[0])
    except ValueError:
        return None
    return cell if 0 <= cell <= 8 and board[cell] == "." else None
'''),
    ("5.2", "case-insensitive tags", '''
def read_move(text, board):
    tags = re.findall(r"<move>(.*?)</move>", text or "", flags=re.DOTALL | re.IGNORECASE)
    if len(tags) != 1 or not re.fullmatch(r"[0-8]", tags[0].strip()):
        return None
    cell = int(tags[0].strip())
    return cell if board[cell] == "." else None
'''),
    ("5.2", "the first of several <move> tags is accepted", '''
def read_move(text, board):
    found = re.search(r"<move>(.*?)</move>", text or "", flags=re.DOTALL)
    if not found or not found.group(1).strip().isdigit():
        return None
    cell = int(found.group(1).strip())
    return cell if 0 <= cell <= 8 and board[cell] == "." else None
'''),
    ("5.2", "isdigit() lets non-ASCII digits through", '''
def read_move(text, board):
    tags = re.findall(r"<move>(.*?)</move>", text or "", flags=re.DOTALL)
    if len(tags) != 1 or not tags[0].strip().isdigit():
        return None
    cell = int(tags[0].strip())
    return cell if 0 <= cell <= 8 and board[cell] == "." else None
'''),
    ("5.2", "an occupied cell is accepted", '''
def read_move(text, board):
    tags = re.findall(r"<move>(.*?)</move>", text or "", flags=re.DOTALL)
    if len(tags) != 1 or not re.fullmatch(r"[0-8]", tags[0].strip()):
        return None
    return int(tags[0].strip())
'''),
]

RIGHT = [
    ("5.1", "checks each line by counting marks", '''
def winner(board):
    for line in LINES:
        marks = {board[i] for i in line}
        if len(marks) == 1 and "." not in marks:
            return marks.pop()
    return None
'''),
    ("5.2", "a parser without regular expressions for the digit", '''
def read_move(text, board):
    if text is None or text.count("<move>") != 1 or text.count("</move>") != 1:
        return None
    start, end = text.index("<move>") + len("<move>"), text.index("</move>")
    value = text[start:end].strip()
    if len(value) != 1 or value not in "012345678":
        return None
    return int(value) if board[int(value)] == "." else None
'''),
]

# BasicTicTacToeEnv as the lesson gives it, with BODY standing for the learner's env_response body.
BASIC_ENV = r'''
class BasicTicTacToeEnv(vf.MultiTurnEnv):
    async def setup_state(self, state):
        state["board"] = EMPTY_BOARD
        state["outcome"] = None
        state["invalid_moves"] = 0
        state["rng"] = random.Random(state["info"]["seed"])
        return state

    def finish(self, state, outcome, text):
        state["outcome"] = outcome
        reply = [vf.UserMessage(content=text)]
        state["final_env_response"] = reply
        return reply

    async def env_response(self, messages, state, **kwargs):
BODY
'''

# The solution's body with three holes: how an invalid move is detected (IS_INVALID), what it does
# (ON_INVALID), and how O picks its cell on ``board`` (OPPONENT).
BODY = r'''
        board = state["board"]
        cell = read_move(message_text(messages[-1]), board)
        if IS_INVALID:
            ON_INVALID
        board = play(board, cell, "X")
        state["board"] = board
        if winner(board) == "X":
            return self.finish(state, "win", f"You took cell {cell} and won!\n\n{render_board(board)}")
        if "." not in board:
            return self.finish(state, "draw", f"You took cell {cell}: draw.\n\n{render_board(board)}")
        reply = OPPONENT
        board = play(board, reply, "O")
        state["board"] = board
        if winner(board) == "O":
            return self.finish(state, "loss", f"O took cell {reply} and won.\n\n{render_board(board)}")
        return [vf.UserMessage(content=turn_message(board, cell, reply))]
'''

LOSE = r'''state["invalid_moves"] += 1
            return self.finish(state, "loss", "Invalid move. You lose.\n\n" + render_board(board))'''


def basic_env(opponent='state["rng"].choice(legal_moves(board))', is_invalid="cell is None", on_invalid=LOSE,
              body=None) -> str:
    """BasicTicTacToeEnv whose env_response is the solution's with one hole filled otherwise (or ``body``)."""
    if body is None:
        body = BODY.replace("IS_INVALID", is_invalid).replace("ON_INVALID", on_invalid).replace("OPPONENT", opponent)
    return BASIC_ENV.replace("BODY", body)


WRONG += [
    ("5.3", "O's cell drawn from the module-level random, not state['rng']",
     basic_env(opponent="random.choice(legal_moves(board))")),
    ("5.3", "O's cell drawn from one generator shared by every game",
     "_shared = random.Random(0)\n" + basic_env(opponent="_shared.choice(legal_moves(board))")),
    ("5.3", "a falsy test on the move: cell 0 counts as invalid", basic_env(is_invalid="not cell")),
    ("5.3", "O always takes the first free cell", basic_env(opponent="legal_moves(board)[0]")),
    ("5.3", "an invalid move is not counted in state['invalid_moves']",
     basic_env(on_invalid=LOSE.replace('state["invalid_moves"] += 1', "pass"))),
    ("5.3", "an invalid move asks again instead of ending the game",
     basic_env(on_invalid='state["invalid_moves"] += 1\n'
                          '            return [vf.UserMessage(content="Invalid move, try again.\\n\\n" + render_board(board))]')),
    ("5.3", "the last message names the outcome but does not show the final board", basic_env(body=r'''
        board = state["board"]
        cell = read_move(message_text(messages[-1]), board)
        if cell is None:
            state["invalid_moves"] += 1
            return self.finish(state, "loss", "Invalid move. You lose.")
        board = play(board, cell, "X")
        state["board"] = board
        if winner(board) == "X":
            return self.finish(state, "win", f"You took cell {cell} and won!")
        if "." not in board:
            return self.finish(state, "draw", "The board is full: draw.")
        reply = state["rng"].choice(legal_moves(board))
        board = play(board, reply, "O")
        state["board"] = board
        if winner(board) == "O":
            return self.finish(state, "loss", f"O took cell {reply} and won.")
        return [vf.UserMessage(content=turn_message(board, cell, reply))]
''')),
    ("5.3", "the full board is checked after O's move instead of after X's", basic_env(body=r'''
        board = state["board"]
        cell = read_move(message_text(messages[-1]), board)
        if cell is None:
            state["invalid_moves"] += 1
            return self.finish(state, "loss", "Invalid move. You lose.\n\n" + render_board(board))
        board = play(board, cell, "X")
        state["board"] = board
        if winner(board) == "X":
            return self.finish(state, "win", f"You won!\n\n{render_board(board)}")
        reply = state["rng"].choice(legal_moves(board))
        board = play(board, reply, "O")
        state["board"] = board
        if winner(board) == "O":
            return self.finish(state, "loss", f"O won.\n\n{render_board(board)}")
        if "." not in board:
            return self.finish(state, "draw", f"Draw.\n\n{render_board(board)}")
        return [vf.UserMessage(content=turn_message(board, cell, reply))]
''')),
    ("5.3", "the board is stored only at the end of a normal turn", basic_env(body=r'''
        board = state["board"]
        cell = read_move(message_text(messages[-1]), board)
        if cell is None:
            state["invalid_moves"] += 1
            return self.finish(state, "loss", "Invalid move. You lose.\n\n" + render_board(board))
        board = play(board, cell, "X")
        if winner(board) == "X":
            return self.finish(state, "win", f"You won!\n\n{render_board(board)}")
        if "." not in board:
            return self.finish(state, "draw", f"Draw.\n\n{render_board(board)}")
        reply = state["rng"].choice(legal_moves(board))
        board = play(board, reply, "O")
        if winner(board) == "O":
            return self.finish(state, "loss", f"O won.\n\n{render_board(board)}")
        state["board"] = board
        return [vf.UserMessage(content=turn_message(board, cell, reply))]
''')),
    ("5.3", "O answers before the game checks whether X has won", basic_env(body=r'''
        board = state["board"]
        cell = read_move(message_text(messages[-1]), board)
        if cell is None:
            state["invalid_moves"] += 1
            return self.finish(state, "loss", "Invalid move. You lose.\n\n" + render_board(board))
        board = play(board, cell, "X")
        reply = None
        if "." in board:
            reply = state["rng"].choice(legal_moves(board))
            board = play(board, reply, "O")
        state["board"] = board
        if winner(board) == "X":
            return self.finish(state, "win", f"You won!\n\n{render_board(board)}")
        if winner(board) == "O":
            return self.finish(state, "loss", f"O won.\n\n{render_board(board)}")
        if "." not in board:
            return self.finish(state, "draw", f"Draw.\n\n{render_board(board)}")
        return [vf.UserMessage(content=turn_message(board, cell, reply))]
''')),
]

RIGHT += [
    ("5.3", "a helper that places a mark and names the outcome; O picks among the empty cells", basic_env(body=r'''
        def place(board, cell, mark):
            board = board[:cell] + mark + board[cell + 1:]
            state["board"] = board
            if winner(board) is not None:
                return board, ("win" if mark == "X" else "loss")
            return board, ("draw" if "." not in board else None)

        cell = read_move(message_text(messages[-1]), state["board"])
        if cell is None:
            state["invalid_moves"] = state["invalid_moves"] + 1
            return self.finish(state, "loss", "That is not a valid move, so you lose.\n\n" + render_board(state["board"]))
        board, outcome = place(state["board"], cell, "X")
        if outcome:
            return self.finish(state, outcome, "Game over: " + outcome + "\n\n" + render_board(board))
        empty = [i for i, mark in enumerate(board) if mark == "."]
        reply = state["rng"].choice(empty)
        board, outcome = place(board, reply, "O")
        if outcome:
            return self.finish(state, outcome, f"O played {reply}. Game over: {outcome}\n\n" + render_board(board))
        return [vf.UserMessage(content=turn_message(board, cell, reply))]
''')),
]
