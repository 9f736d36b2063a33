"""Lesson 10: entropy_at_temperature, audit_policy, fork_cells.

On forks: the lesson uses the standard definition (a move that does not win at once and leaves two or
more DISTINCT winning cells). Counting threat LINES is a plausible wrong answer: it differs on some cells.
"""

WRONG = [
    # ---- 10.1 entropy_at_temperature -------------------------------------------------------------
    ("10.1", "only temperature == 0 refused (a negative temperature is accepted)", '''
def entropy_at_temperature(logits, temperature):
    if temperature == 0:
        raise ValueError("temperature 0 is greedy decoding")
    logp = torch.log_softmax(torch.as_tensor(logits, dtype=torch.float64) / temperature, dim=-1)
    return float(-(logp.exp() * logp).sum())
'''),
    ("10.1", "log(softmax(...)) in two steps (nan for large logits)", '''
def entropy_at_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    p = torch.softmax(torch.as_tensor(logits, dtype=torch.float64) / temperature, dim=-1)
    return float(-(p * torch.log(p)).sum())
'''),
    ("10.1", "entropy in bits (log2) instead of nats", '''
def entropy_at_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    logp = torch.log_softmax(torch.as_tensor(logits, dtype=torch.float64) / temperature, dim=-1)
    return float(-(logp.exp() * logp).sum() / math.log(2))
'''),
    ("10.1", "logits multiplied by the temperature", '''
def entropy_at_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    logp = torch.log_softmax(torch.as_tensor(logits, dtype=torch.float64) * temperature, dim=-1)
    return float(-(logp.exp() * logp).sum())
'''),
    # ---- 10.2 audit_policy -----------------------------------------------------------------------
    ("10.2", "only the games X starts (O's nine openings forgotten)", '''
def audit_policy(policy):
    counts = {"lines": 0, "wins": 0, "draws": 0, "losses": 0, "invalid": 0}

    def end(kind):
        counts[kind] += 1
        counts["lines"] += 1

    def explore(board):
        cell = policy(board)
        if cell not in legal_moves(board):
            return end("invalid")
        board = play(board, cell, "X")
        if winner(board) == "X":
            return end("wins")
        if "." not in board:
            return end("draws")
        for reply in legal_moves(board):
            after = play(board, reply, "O")
            if winner(after) == "O":
                end("losses")
            elif "." not in after:
                end("draws")
            else:
                explore(after)

    explore(EMPTY_BOARD)
    return counts
'''),
    ("10.2", "a full board is checked before the win (a winning last move counts as a draw)", '''
def audit_policy(policy):
    counts = {"lines": 0, "wins": 0, "draws": 0, "losses": 0, "invalid": 0}

    def end(kind):
        counts[kind] += 1
        counts["lines"] += 1

    def explore(board):
        cell = policy(board)
        if cell not in legal_moves(board):
            return end("invalid")
        board = play(board, cell, "X")
        if "." not in board:
            return end("draws")
        if winner(board) == "X":
            return end("wins")
        for reply in legal_moves(board):
            after = play(board, reply, "O")
            if "." not in after:
                end("draws")
            elif winner(after) == "O":
                end("losses")
            else:
                explore(after)

    explore(EMPTY_BOARD)
    for cell in range(9):
        explore(play(EMPTY_BOARD, cell, "O"))
    return counts
'''),
    ("10.2", "any cell 0-8 accepted as a move (an occupied cell is not invalid)", '''
def audit_policy(policy):
    counts = {"lines": 0, "wins": 0, "draws": 0, "losses": 0, "invalid": 0}

    def end(kind):
        counts[kind] += 1
        counts["lines"] += 1

    def explore(board):
        cell = policy(board)
        if cell not in range(9):
            return end("invalid")
        board = board[:cell] + "X" + board[cell + 1:]
        if winner(board) == "X":
            return end("wins")
        if "." not in board:
            return end("draws")
        for reply in legal_moves(board):
            after = play(board, reply, "O")
            if winner(after) == "O":
                end("losses")
            elif "." not in after:
                end("draws")
            else:
                explore(after)

    explore(EMPTY_BOARD)
    for cell in range(9):
        explore(play(EMPTY_BOARD, cell, "O"))
    return counts
'''),
    # ---- 10.3 fork_cells -------------------------------------------------------------------------
    ("10.3", "a line with two marks counts as a threat even when the opponent holds its third cell", '''
def fork_cells(board, mark):
    cells = []
    for cell in legal_moves(board):
        after = play(board, cell, mark)
        if sum([after[i] for i in line].count(mark) == 2 for line in LINES) >= 2:
            cells.append(cell)
    return cells
'''),
    ("10.3", "threats counted on the board before the move", '''
def fork_cells(board, mark):
    cells = []
    for cell in legal_moves(board):
        threats = 0
        for line in LINES:
            marks = [board[i] for i in line]
            if marks.count(mark) == 2 and marks.count(".") == 1:
                threats += 1
        if threats >= 2:
            cells.append(cell)
    return cells
'''),
    ("10.3", "only threats on lines through the cell just played", '''
def fork_cells(board, mark):
    cells = []
    for cell in legal_moves(board):
        after = play(board, cell, mark)
        threats = 0
        for line in LINES:
            marks = [after[i] for i in line]
            if cell in line and marks.count(mark) == 2 and marks.count(".") == 1:
                threats += 1
        if threats >= 2:
            cells.append(cell)
    return cells
'''),
    ("10.3", "one threat is enough (>= 1)", '''
def fork_cells(board, mark):
    cells = []
    for cell in legal_moves(board):
        after = play(board, cell, mark)
        threats = [line for line in LINES
                   if [after[i] for i in line].count(mark) == 2 and [after[i] for i in line].count(".") == 1]
        if threats:
            cells.append(cell)
    return cells
'''),
    ("10.3", "threat lines counted with sum() over LINES (two lines may share one winning cell; a win counted as a fork)", '''
def fork_cells(board, mark):
    def threats(b):
        return sum(1 for line in LINES if sorted(b[i] for i in line) == sorted([mark, mark, "."]))

    return sorted(cell for cell in legal_moves(board) if threats(play(board, cell, mark)) >= 2)
'''),
    ("10.3", "distinct winning cells counted, but a move that wins at once counted as a fork too", '''
def fork_cells(board, mark):
    def wins(b):
        return [c for c in legal_moves(b) if winner(play(b, c, mark)) == mark]

    return [cell for cell in legal_moves(board) if len(wins(play(board, cell, mark))) >= 2]
'''),
]

RIGHT = [
    ("10.1", "plain Python with a log-sum-exp", '''
def entropy_at_temperature(logits, temperature):
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    scaled = [float(x) / temperature for x in logits]
    top = max(scaled)
    log_z = top + math.log(sum(math.exp(x - top) for x in scaled))
    return -sum(math.exp(x - log_z) * (x - log_z) for x in scaled)
'''),
    ("10.2", "an explicit stack instead of recursion", '''
def audit_policy(policy):
    counts = {"lines": 0, "wins": 0, "draws": 0, "losses": 0, "invalid": 0}
    stack = [EMPTY_BOARD] + [play(EMPTY_BOARD, c, "O") for c in range(9)]
    while stack:
        board = stack.pop()
        cell = policy(board)
        if cell not in legal_moves(board):
            kind = "invalid"
        else:
            board = play(board, cell, "X")
            kind = "wins" if winner(board) == "X" else "draws" if "." not in board else None
        if kind:
            counts[kind] += 1
            counts["lines"] += 1
            continue
        for reply in legal_moves(board):
            after = play(board, reply, "O")
            kind = "losses" if winner(after) == "O" else "draws" if "." not in after else None
            if kind:
                counts[kind] += 1
                counts["lines"] += 1
            else:
                stack.append(after)
    return counts
'''),
    ("10.3", "the standard definition: two distinct winning cells, and not an immediate win", '''
def fork_cells(board, mark):
    def wins(b):
        return [c for c in legal_moves(b) if winner(play(b, c, mark)) == mark]

    return [cell for cell in legal_moves(board)
            if winner(play(board, cell, mark)) != mark and len(wins(play(board, cell, mark))) >= 2]
'''),
    ("10.3", "the empty cells of the threat lines, as a set, after a move that does not win", '''
def fork_cells(board, mark):
    out = []
    for cell in legal_moves(board):
        after = play(board, cell, mark)
        if winner(after) == mark:
            continue
        open_cells = {i for line in LINES for i in line
                      if after[i] == "." and [after[j] for j in line].count(mark) == 2}
        if len(open_cells) >= 2:
            out.append(cell)
    return out
'''),
]
