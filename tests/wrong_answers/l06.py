"""Lesson 06: game_value, opponent_move, turn_rng, difficulty_schedule."""

WRONG = [
    ("6.1", "no minus sign: the opponent's value counted as the player's", '''
@lru_cache(maxsize=None)
def game_value(board, player):
    won = winner(board)
    if won is not None:
        return 1 if won == player else -1
    if "." not in board:
        return 0
    return max(game_value(play(board, m, player), other(player)) for m in legal_moves(board))
'''),
    ("6.1", "a full board is a draw even when its last move made a line", '''
@lru_cache(maxsize=None)
def game_value(board, player):
    if "." not in board:
        return 0
    won = winner(board)
    if won is not None:
        return 1 if won == player else -1
    return max(-game_value(play(board, m, player), other(player)) for m in legal_moves(board))
'''),
    ("6.1", "values from X's side whoever is to move", '''
@lru_cache(maxsize=None)
def game_value(board, player):
    won = winner(board)
    if won is not None:
        return 1 if won == "X" else -1
    if "." not in board:
        return 0
    return max(-game_value(play(board, m, player), other(player)) for m in legal_moves(board))
'''),
    ("6.1", "the player to move puts the opponent's mark", '''
@lru_cache(maxsize=None)
def game_value(board, player):
    won = winner(board)
    if won is not None:
        return 1 if won == player else -1
    if "." not in board:
        return 0
    return max(-game_value(play(board, m, other(player)), other(player)) for m in legal_moves(board))
'''),
    ("6.2", "the best move drawn from the module-level random", '''
def opponent_move(board, rng, random_move_prob):
    if rng.random() < random_move_prob:
        return rng.choice(legal_moves(board))
    return random.choice(best_replies(board, "O"))
'''),
    ("6.2", "the random move drawn from the module-level random", '''
def opponent_move(board, rng, random_move_prob):
    if rng.random() < random_move_prob:
        return random.choice(legal_moves(board))
    return rng.choice(best_replies(board, "O"))
'''),
    ("6.2", "the module-level random decides when to play at random", '''
def opponent_move(board, rng, random_move_prob):
    if random.random() < random_move_prob:
        return rng.choice(legal_moves(board))
    return rng.choice(best_replies(board, "O"))
'''),
    ("6.2", "always the first best move (the biased-minimax trap)", '''
def opponent_move(board, rng, random_move_prob):
    if rng.random() < random_move_prob:
        return rng.choice(legal_moves(board))
    return best_replies(board, "O")[0]
'''),
    ("6.2", "the random move never hits a best move", '''
def opponent_move(board, rng, random_move_prob):
    best = best_replies(board, "O")
    if rng.random() < random_move_prob:
        others = [m for m in legal_moves(board) if m not in best]
        return rng.choice(others or best)
    return rng.choice(best)
'''),
    ("6.2", "the comparison reversed: plays at random with probability 1 - p", '''
def opponent_move(board, rng, random_move_prob):
    if rng.random() > random_move_prob:
        return rng.choice(legal_moves(board))
    return rng.choice(best_replies(board, "O"))
'''),
    ("6.3", "seeded with hash(): other numbers in another process", '''
def turn_rng(example_seed, board):
    return random.Random(hash((example_seed, board)))
'''),
    ("6.3", "seed plus a number computed from the board: different pairs collide", '''
def turn_rng(example_seed, board):
    code = sum(3 ** i * ".XO".index(c) for i, c in enumerate(board))
    return random.Random(example_seed + code)
'''),
    ("6.3", "the board ignored", '''
def turn_rng(example_seed, board):
    return random.Random(example_seed)
'''),
    ("6.3", "the count of marks instead of the board", '''
def turn_rng(example_seed, board):
    return random.Random(f"{example_seed}:{board.count('X')}:{board.count('O')}")
'''),
    ("6.3", "seeded by the global random state", '''
def turn_rng(example_seed, board):
    return random.Random(f"{example_seed}:{board}:{random.random()}")
'''),
    ("6.4", "the slices in the same order in every block", '''
def difficulty_schedule(num_examples, num_groups, low, high, seed=0):
    rng = random.Random(seed)
    width = (high - low) / num_groups
    return [low + width * (i % num_groups + rng.random()) for i in range(num_examples)]
'''),
    ("6.4", "the order shuffled with the module-level random", '''
def difficulty_schedule(num_examples, num_groups, low, high, seed=0):
    rng = random.Random(seed)
    width = (high - low) / num_groups
    values = []
    for start in range(0, num_examples, num_groups):
        order = list(range(num_groups))
        random.shuffle(order)
        for k in order[: num_examples - start]:
            values.append(low + width * (k + rng.random()))
    return values
'''),
    ("6.4", "every value at the middle of its slice", '''
def difficulty_schedule(num_examples, num_groups, low, high, seed=0):
    rng = random.Random(seed)
    width = (high - low) / num_groups
    values = []
    for start in range(0, num_examples, num_groups):
        order = list(range(num_groups))
        rng.shuffle(order)
        values += [low + width * (k + 0.5) for k in order[: num_examples - start]]
    return values
'''),
    ("6.4", "the last, shorter block draws its slices independently", '''
def difficulty_schedule(num_examples, num_groups, low, high, seed=0):
    rng = random.Random(seed)
    width = (high - low) / num_groups
    values = []
    for start in range(0, num_examples - num_examples % num_groups, num_groups):
        order = list(range(num_groups))
        rng.shuffle(order)
        values += [low + width * (k + rng.random()) for k in order]
    while len(values) < num_examples:
        values.append(low + width * (rng.randrange(num_groups) + rng.random()))
    return values
'''),
    ("6.4", "the generator re-created in every block: every block alike", '''
def difficulty_schedule(num_examples, num_groups, low, high, seed=0):
    width = (high - low) / num_groups
    values = []
    for start in range(0, num_examples, num_groups):
        rng = random.Random(seed)
        order = list(range(num_groups))
        rng.shuffle(order)
        values += [low + width * (k + rng.random()) for k in order[: num_examples - start]]
    return values
'''),
]

RIGHT = [
    ("6.1", "explicit loop over the moves, best value kept in a variable", '''
@lru_cache(maxsize=None)
def game_value(board, player):
    if winner(board) == other(player):
        return -1
    free = legal_moves(board)
    if not free:
        return 0
    best = -1
    for m in free:
        best = max(best, -game_value(play(board, m, player), other(player)))
        if best == 1:
            break
    return best
'''),
    ("6.2", "an index drawn with rng.randrange, and the random move chosen among the empty cells", '''
def opponent_move(board, rng, random_move_prob):
    if random_move_prob > 0 and rng.random() < random_move_prob:
        empty = [i for i, c in enumerate(board) if c == "."]
        return empty[rng.randrange(len(empty))]
    best = best_replies(board, "O")
    return best[rng.randrange(len(best))]
'''),
    ("6.3", "a SHA-256 digest of the pair as an integer seed", '''
import hashlib

def turn_rng(example_seed, board):
    digest = hashlib.sha256(f"{example_seed}|{board}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))
'''),
    ("6.3", "an injective integer: seed * 3**9 + the board read in base 3", '''
def turn_rng(example_seed, board):
    code = 0
    for c in board:
        code = 3 * code + ".XO".index(c)
    return random.Random(example_seed * 3 ** 9 + code)
'''),
    ("6.4", "full shuffled blocks, then cut to num_examples", '''
def difficulty_schedule(num_examples, num_groups, low, high, seed=0):
    rng = random.Random(seed)
    width = (high - low) / num_groups
    values = []
    while len(values) < num_examples:
        for k in rng.sample(range(num_groups), num_groups):
            values.append(low + k * width + rng.random() * width)
    return values[:num_examples]
'''),
]
