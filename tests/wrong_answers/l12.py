"""Lesson 12: read_cell, threat_cells / is_fork, rename_environment."""

_THREATS = '''
def threat_cells(board, mark):
    return [cell for cell in legal_moves(board) if winner(play(board, cell, mark)) == mark]
'''

_RENAME_HEAD = '''
def rename_environment(pyproject_text, old_id, new_id):
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", new_id):
        raise ValueError(f"{new_id!r} is not a lowercase module name")
    table, renamed, out = None, False, []
    for line in pyproject_text.splitlines(keepends=True):
        header = re.match(r"\\s*\\[([^\\[\\]]+)\\]", line)
        if header:
            table = header.group(1).strip()
'''

_RENAME_TAIL = '''
        out.append(line)
    if not renamed:
        raise ValueError(f"the [project] name is not {old_id!r}")
    return "".join(out)
'''

WRONG = [
    # ---- 12.1 read_cell --------------------------------------------------------------------------
    ("12.1", "str.isdigit() lets non-ASCII digits through", '''
def read_cell(text, board):
    typed = text.strip()
    if len(typed) != 1 or not typed.isdigit() or int(typed) > 8:
        raise ValueError(f"{typed!r} is not a cell from 0 to 8")
    cell = int(typed)
    if board[cell] != ".":
        raise ValueError(f"cell {cell} is already taken")
    return cell
'''),
    ("12.1", "a lenient membership test: any substring of '012345678' is accepted", '''
def read_cell(text, board):
    typed = text.strip()
    if not typed or typed not in "012345678":
        raise ValueError(f"{typed!r} is not a cell: type one digit from 0 to 8")
    cell = int(typed[-1])
    if board[cell] != ".":
        raise ValueError(f"cell {cell} is already taken")
    return cell
'''),
    ("12.1", "int() with a range check (accepts '+4', '04', full-width digits)", '''
def read_cell(text, board):
    try:
        cell = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not 0 <= cell <= 8:
        raise ValueError(f"{cell} is not a cell from 0 to 8")
    if board[cell] != ".":
        raise ValueError(f"cell {cell} is already taken")
    return cell
'''),
    ("12.1", "re.match without an end anchor ('44' reads as 4)", '''
def read_cell(text, board):
    found = re.match(r"\\s*([0-8])", text)
    if not found:
        raise ValueError(f"{text!r} is not a cell from 0 to 8")
    cell = int(found.group(1))
    if board[cell] != ".":
        raise ValueError(f"cell {cell} is already taken")
    return cell
'''),
    ("12.1", "the taken-cell message does not name the cell", '''
def read_cell(text, board):
    typed = text.strip()
    if len(typed) != 1 or not "0" <= typed <= "8":
        raise ValueError("type one digit from 0 to 8")
    if board[int(typed)] != ".":
        raise ValueError("that cell is already taken")
    return int(typed)
'''),
    # ---- 12.2 threat_cells / is_fork -------------------------------------------------------------
    ("12.2", "a fork counted as two threat LINES (two lines sharing one winning cell is no fork)", _THREATS + '''
from tictactoe import LINES

def is_fork(board, cell, mark):
    after = play(board, cell, mark)
    if winner(after) == mark:
        return False
    lines = [line for line in LINES if [after[i] for i in line].count(mark) == 2
             and [after[i] for i in line].count(".") == 1]
    return len(lines) >= 2
'''),
    ("12.2", "a move that wins at once also counts as a fork", _THREATS + '''
def is_fork(board, cell, mark):
    return len(threat_cells(play(board, cell, mark), mark)) >= 2
'''),
    ("12.2", "threat_cells lists a cell once per line it completes", '''
from tictactoe import LINES

def threat_cells(board, mark):
    cells = []
    for line in LINES:
        marks = [board[i] for i in line]
        if marks.count(mark) == 2 and marks.count(".") == 1:
            cells.append(line[marks.index(".")])
    return sorted(cells)


def is_fork(board, cell, mark):
    after = play(board, cell, mark)
    return winner(after) != mark and len(set(threat_cells(after, mark))) >= 2
'''),
    ("12.2", "threats counted before the move is played", _THREATS + '''
def is_fork(board, cell, mark):
    return winner(play(board, cell, mark)) != mark and len(threat_cells(board, mark)) >= 2
'''),
    # ---- 12.3 rename_environment -----------------------------------------------------------------
    ("12.3", "text.replace(old_id, new_id) everywhere", '''
def rename_environment(pyproject_text, old_id, new_id):
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", new_id):
        raise ValueError(f"{new_id!r} is not a lowercase module name")
    if f'"{old_id}"' not in pyproject_text:
        raise ValueError(f"the [project] name is not {old_id!r}")
    return pyproject_text.replace(old_id, new_id)
'''),
    ("12.3", "every 'name =' line renamed, whatever its table", _RENAME_HEAD + '''
        elif re.match(rf'\\s*name\\s*=\\s*"{re.escape(old_id)}"', line):
            line = line.replace(f'"{old_id}"', f'"{new_id}"', 1)
            renamed = True
        elif table == "tool.setuptools" and re.match(r"\\s*py-modules\\s*=", line):
            line = re.sub(rf'"{re.escape(old_id)}"', f'"{new_id}"', line)
''' + _RENAME_TAIL),
    ("12.3", "the first name = \"old_id\" line of the file is renamed, whatever its table", '''
def rename_environment(pyproject_text, old_id, new_id):
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", new_id):
        raise ValueError(f"{new_id!r} is not a lowercase module name")
    text, n = re.subn(rf'(?m)^(\\s*name\\s*=\\s*)"{re.escape(old_id)}"', rf'\\g<1>"{new_id}"', pyproject_text, count=1)
    if n == 0:
        raise ValueError(f"the [project] name is not {old_id!r}")
    return re.sub(r'(?m)^(\\s*py-modules\\s*=.*)$', lambda m: m.group(1).replace(f'"{old_id}"', f'"{new_id}"'), text)
'''),
    ("12.3", "the name matched as a prefix (no closing quote: old id 'tic' matches 'tictactoe')", _RENAME_HEAD + '''
        elif table == "project" and re.match(rf'\\s*name\\s*=\\s*"{re.escape(old_id)}', line):
            line = line.replace(f'"{old_id}', f'"{new_id}', 1)
            renamed = True
        elif table == "tool.setuptools" and re.match(r"\\s*py-modules\\s*=", line):
            line = re.sub(rf'"{re.escape(old_id)}"', f'"{new_id}"', line)
''' + _RENAME_TAIL),
    ("12.3", "py-modules renamed without quotes (tictactoe_helpers becomes my_tictactoe_helpers)", _RENAME_HEAD + '''
        elif table == "project" and re.match(rf'\\s*name\\s*=\\s*"{re.escape(old_id)}"', line):
            line = line.replace(f'"{old_id}"', f'"{new_id}"', 1)
            renamed = True
        elif table == "tool.setuptools" and re.match(r"\\s*py-modules\\s*=", line):
            line = line.replace(old_id, new_id)
''' + _RENAME_TAIL),
    ("12.3", "the new id checked with re.match (no end anchor: 'my-env' passes)", '''
def rename_environment(pyproject_text, old_id, new_id):
    if not re.match(r"[a-z_][a-z0-9_]*", new_id):
        raise ValueError(f"{new_id!r} is not a lowercase module name")
    table, renamed, out = None, False, []
    for line in pyproject_text.splitlines(keepends=True):
        header = re.match(r"\\s*\\[([^\\[\\]]+)\\]", line)
        if header:
            table = header.group(1).strip()
        elif table == "project" and re.match(rf'\\s*name\\s*=\\s*"{re.escape(old_id)}"', line):
            line = line.replace(f'"{old_id}"', f'"{new_id}"', 1)
            renamed = True
        elif table == "tool.setuptools" and re.match(r"\\s*py-modules\\s*=", line):
            line = re.sub(rf'"{re.escape(old_id)}"', f'"{new_id}"', line)
''' + _RENAME_TAIL),
    ("12.3", "the new id checked with isidentifier() and islower()", '''
def rename_environment(pyproject_text, old_id, new_id):
    if not (new_id.isidentifier() and new_id.islower()):
        raise ValueError(f"{new_id!r} is not a lowercase module name")
    table, renamed, out = None, False, []
    for line in pyproject_text.splitlines(keepends=True):
        header = re.match(r"\\s*\\[([^\\[\\]]+)\\]", line)
        if header:
            table = header.group(1).strip()
        elif table == "project" and re.match(rf'\\s*name\\s*=\\s*"{re.escape(old_id)}"', line):
            line = line.replace(f'"{old_id}"', f'"{new_id}"', 1)
            renamed = True
        elif table == "tool.setuptools" and re.match(r"\\s*py-modules\\s*=", line):
            line = re.sub(rf'"{re.escape(old_id)}"', f'"{new_id}"', line)
''' + _RENAME_TAIL),
]

RIGHT = [
    ("12.1", "a regular expression on the whole text", '''
def read_cell(text, board):
    found = re.fullmatch(r"\\s*([0-8])\\s*", text)
    if found is None:
        raise ValueError(f"{text.strip()!r} is not a cell number: type one digit from 0 to 8")
    cell = int(found.group(1))
    if board[cell] != ".":
        raise ValueError(f"cell {cell} is taken ({board[cell]} is there); choose a free one")
    return cell
'''),
    ("12.2", "threat cells from the lines; a fork when the new board has two distinct ones", '''
from tictactoe import LINES

def threat_cells(board, mark):
    cells = set()
    for line in LINES:
        values = [board[i] for i in line]
        if values.count(mark) == 2 and values.count(".") == 1:
            cells.add(line[values.index(".")])
    return sorted(cells)


def is_fork(board, cell, mark):
    after = play(board, cell, mark)
    if any(all(after[i] == mark for i in line) for line in LINES):
        return False
    return len(threat_cells(after, mark)) > 1
'''),
    ("12.3", "a regular expression per table section", '''
def rename_environment(pyproject_text, old_id, new_id):
    if re.fullmatch(r"[a-z_][a-z0-9_]*", new_id) is None:
        raise ValueError(f"new_id {new_id!r} must be a lowercase Python module name")
    parts = re.split(r"(?m)^(?=\\s*\\[)", pyproject_text)
    found = False
    for i, part in enumerate(parts):
        head = re.match(r"\\s*\\[([^\\[\\]]+)\\]", part)
        name = head.group(1).strip() if head else None
        if name == "project":
            part, n = re.subn(rf'(?m)^(\\s*name\\s*=\\s*)"{re.escape(old_id)}"', rf'\\g<1>"{new_id}"', part, count=1)
            found = found or n == 1
        elif name == "tool.setuptools":
            part = re.sub(rf'(?m)^(\\s*py-modules\\s*=.*)$',
                          lambda m: m.group(1).replace(f'"{old_id}"', f'"{new_id}"'), part)
        parts[i] = part
    if not found:
        raise ValueError(f"the [project] name is not {old_id!r}")
    return "".join(parts)
'''),
]
