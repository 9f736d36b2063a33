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
