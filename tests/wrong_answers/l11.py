"""Lesson 11: unseen_share, tie_statistics / looks_biased, spread, ppo_clip_loss."""

WRONG = [
    # ---- 11.1 unseen_share -----------------------------------------------------------------------
    ("11.1", "distinct boards instead of decisions", '''
def unseen_share(positions, games):
    boards = {board for game in games for board, _ in game.x_moves}
    if not boards:
        raise ValueError("no X decision")
    return sum(board not in positions for board in boards) / len(boards)
'''),
    ("11.1", "divided by the number of games, not of decisions", '''
def unseen_share(positions, games):
    if not games:
        raise ValueError("no games")
    unseen = sum(board not in positions for game in games for board, _ in game.x_moves)
    return unseen / len(games)
'''),
    ("11.1", "the share of SEEN decisions", '''
def unseen_share(positions, games):
    boards = [board for game in games for board, _ in game.x_moves]
    if not boards:
        raise ValueError("no X decision")
    return sum(board in positions for board in boards) / len(boards)
'''),
    ("11.1", "no decision at all returns 0.0 instead of raising", '''
def unseen_share(positions, games):
    boards = [board for game in games for board, _ in game.x_moves]
    return sum(board not in positions for board in boards) / len(boards) if boards else 0.0
'''),
    ("11.1", "games without an X decision raise only when there are no games", '''
def unseen_share(positions, games):
    if len(games) == 0:
        raise ValueError("no games to measure")
    boards = [board for game in games for board, _ in game.x_moves]
    return sum(board not in positions for board in boards) / max(len(boards), 1)
'''),
    # ---- 11.2 tie_statistics / looks_biased ------------------------------------------------------
    ("11.2", "a move outside the best moves is counted as a tie", '''
def tie_statistics(observations):
    stats = {"ties": 0, "first": 0, "expected": 0.0, "variance": 0.0}
    for board, move in observations:
        best = ttt.best_moves(board, "O")
        if len(best) < 2:
            continue
        q = 1 / len(best)
        stats["ties"] += 1
        stats["first"] += move == best[0]
        stats["expected"] += q
        stats["variance"] += q * (1 - q)
    return stats


def looks_biased(observations, z_threshold=3.0):
    s = tie_statistics(observations)
    return s["variance"] > 0 and (s["first"] - s["expected"]) / math.sqrt(s["variance"]) > z_threshold
'''),
    ("11.2", "a forced move (one best move) is counted as a tie", '''
def tie_statistics(observations):
    stats = {"ties": 0, "first": 0, "expected": 0.0, "variance": 0.0}
    for board, move in observations:
        best = ttt.best_moves(board, "O")
        if move not in best:
            continue
        q = 1 / len(best)
        stats["ties"] += 1
        stats["first"] += move == best[0]
        stats["expected"] += q
        stats["variance"] += q * (1 - q)
    return stats


def looks_biased(observations, z_threshold=3.0):
    s = tie_statistics(observations)
    return s["variance"] > 0 and (s["first"] - s["expected"]) / math.sqrt(s["variance"]) > z_threshold
'''),
    ("11.2", "the z-score divides by the variance, not its square root", '''
def tie_statistics(observations):
    stats = {"ties": 0, "first": 0, "expected": 0.0, "variance": 0.0}
    for board, move in observations:
        best = ttt.best_moves(board, "O")
        if len(best) >= 2 and move in best:
            q = 1 / len(best)
            stats["ties"] += 1
            stats["first"] += move == best[0]
            stats["expected"] += q
            stats["variance"] += q * (1 - q)
    return stats


def looks_biased(observations, z_threshold=3.0):
    s = tie_statistics(observations)
    if not s["ties"]:
        return False
    return (s["first"] - s["expected"]) / s["variance"] > z_threshold
'''),
    ("11.2", "the threshold argument is ignored (always 3)", '''
def tie_statistics(observations):
    stats = {"ties": 0, "first": 0, "expected": 0.0, "variance": 0.0}
    for board, move in observations:
        best = ttt.best_moves(board, "O")
        if len(best) >= 2 and move in best:
            q = 1 / len(best)
            stats["ties"] += 1
            stats["first"] += move == best[0]
            stats["expected"] += q
            stats["variance"] += q * (1 - q)
    return stats


def looks_biased(observations, z_threshold=3.0):
    s = tie_statistics(observations)
    if s["variance"] == 0:
        return False
    return (s["first"] - s["expected"]) / math.sqrt(s["variance"]) > 3.0
'''),
    ("11.2", "best moves of X instead of O", '''
def tie_statistics(observations):
    stats = {"ties": 0, "first": 0, "expected": 0.0, "variance": 0.0}
    for board, move in observations:
        best = ttt.best_moves(board, "X")
        if len(best) >= 2 and move in best:
            q = 1 / len(best)
            stats["ties"] += 1
            stats["first"] += move == best[0]
            stats["expected"] += q
            stats["variance"] += q * (1 - q)
    return stats


def looks_biased(observations, z_threshold=3.0):
    s = tie_statistics(observations)
    return s["variance"] > 0 and (s["first"] - s["expected"]) / math.sqrt(s["variance"]) > z_threshold
'''),
    # ---- 11.3 spread -----------------------------------------------------------------------------
    ("11.3", "the population std (dividing by n) instead of the sample std", '''
def spread(values):
    values = list(values)
    if len(values) < 2:
        raise ValueError("need two values")
    return {"mean": statistics.fmean(values), "std": statistics.pstdev(values), "low": min(values), "high": max(values)}
'''),
    ("11.3", "a single value is accepted (only an empty list refused)", '''
def spread(values):
    values = list(values)
    if not values:
        raise ValueError("no values")
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "std": std, "low": min(values), "high": max(values)}
'''),
    ("11.3", "low and high from the first and last values (not sorted)", '''
def spread(values):
    values = list(values)
    if len(values) < 2:
        raise ValueError("need two values")
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values), "low": values[0], "high": values[-1]}
'''),
    # ---- 11.4 ppo_clip_loss -----------------------------------------------------------------------
    ("11.4", "CISPO's loss (detached clipped weight times log-prob)", '''
def ppo_clip_loss(logprobs, old_logprobs, advantages, mask, clip_low=0.2, clip_high=0.28):
    weight = torch.exp(logprobs - old_logprobs).clamp(1 - clip_low, 1 + clip_high).detach()
    return -(weight * advantages.unsqueeze(-1) * logprobs * mask).sum() / mask.sum()
'''),
    ("11.4", "max instead of min", '''
def ppo_clip_loss(logprobs, old_logprobs, advantages, mask, clip_low=0.2, clip_high=0.28):
    ratio = torch.exp(logprobs - old_logprobs)
    a = advantages.unsqueeze(-1)
    return -(torch.maximum(ratio * a, ratio.clamp(1 - clip_low, 1 + clip_high) * a) * mask).sum() / mask.sum()
'''),
    ("11.4", "only the clipped term (no gradient outside the range on either side)", '''
def ppo_clip_loss(logprobs, old_logprobs, advantages, mask, clip_low=0.2, clip_high=0.28):
    ratio = torch.exp(logprobs - old_logprobs)
    return -(ratio.clamp(1 - clip_low, 1 + clip_high) * advantages.unsqueeze(-1) * mask).sum() / mask.sum()
'''),
    ("11.4", "the min taken over the ratios, then times the advantage (wrong when A < 0)", '''
def ppo_clip_loss(logprobs, old_logprobs, advantages, mask, clip_low=0.2, clip_high=0.28):
    ratio = torch.exp(logprobs - old_logprobs)
    clipped = ratio.clamp(1 - clip_low, 1 + clip_high)
    return -(torch.minimum(ratio, clipped) * advantages.unsqueeze(-1) * mask).sum() / mask.sum()
'''),
    ("11.4", "one clip width on both sides (clip_low used for the upper bound)", '''
def ppo_clip_loss(logprobs, old_logprobs, advantages, mask, clip_low=0.2, clip_high=0.28):
    ratio = torch.exp(logprobs - old_logprobs)
    a = advantages.unsqueeze(-1)
    return -(torch.minimum(ratio * a, ratio.clamp(1 - clip_low, 1 + clip_low) * a) * mask).sum() / mask.sum()
'''),
    ("11.4", "the log-ratio used as the ratio", '''
def ppo_clip_loss(logprobs, old_logprobs, advantages, mask, clip_low=0.2, clip_high=0.28):
    ratio = logprobs - old_logprobs
    a = advantages.unsqueeze(-1)
    return -(torch.minimum(ratio * a, ratio.clamp(1 - clip_low, 1 + clip_high) * a) * mask).sum() / mask.sum()
'''),
    ("11.4", "averaged over every position, masked or not", '''
def ppo_clip_loss(logprobs, old_logprobs, advantages, mask, clip_low=0.2, clip_high=0.28):
    ratio = torch.exp(logprobs - old_logprobs)
    a = advantages.unsqueeze(-1)
    return -(torch.minimum(ratio * a, ratio.clamp(1 - clip_low, 1 + clip_high) * a) * mask).mean()
'''),
    ("11.4", "the ratio detached (no gradient at all)", '''
def ppo_clip_loss(logprobs, old_logprobs, advantages, mask, clip_low=0.2, clip_high=0.28):
    ratio = torch.exp(logprobs - old_logprobs).detach()
    a = advantages.unsqueeze(-1)
    per_token = torch.minimum(ratio * a, ratio.clamp(1 - clip_low, 1 + clip_high) * a)
    return -(per_token * mask).sum() / mask.sum() + 0 * logprobs.sum()
'''),
]

RIGHT = [
    ("11.1", "a counting loop", '''
def unseen_share(positions, games):
    total = unseen = 0
    for game in games:
        for board, _cell in game.x_moves:
            total += 1
            if board not in positions:
                unseen += 1
    if total == 0:
        raise ValueError("the games contain no X decision")
    return unseen / total
'''),
    ("11.2", "statistics gathered in a list of 1/k, verdict from the z-score", '''
def tie_statistics(observations):
    chances, firsts = [], 0
    for board, move in observations:
        best = ttt.best_moves(board, "O")
        if len(best) > 1 and move in best:
            chances.append(1 / len(best))
            firsts += int(move == min(best))
    return {"ties": len(chances), "first": firsts, "expected": sum(chances),
            "variance": sum(q * (1 - q) for q in chances)}


def looks_biased(observations, z_threshold=3.0):
    stats = tie_statistics(observations)
    if stats["ties"] == 0:
        return False
    z = (stats["first"] - stats["expected"]) / stats["variance"] ** 0.5
    return bool(z > z_threshold)
'''),
    ("11.3", "mean and std by hand", '''
def spread(values):
    xs = [float(v) for v in values]
    n = len(xs)
    if n < 2:
        raise ValueError("one run has no spread: give at least two values")
    mean = sum(xs) / n
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    return {"mean": mean, "std": std, "low": min(xs), "high": max(xs)}
'''),
    ("11.4", "the two cases written out with torch.where", '''
def ppo_clip_loss(logprobs, old_logprobs, advantages, mask, clip_low=0.2, clip_high=0.28):
    ratio = torch.exp(logprobs - old_logprobs)
    a = advantages[:, None].expand_as(ratio)
    capped = torch.where(a > 0, torch.clamp(ratio, max=1 + clip_high), torch.clamp(ratio, min=1 - clip_low))
    objective = capped * a
    return -(objective * mask).sum() / mask.sum()
'''),
    ("11.4", "the negated objective with a max", '''
def ppo_clip_loss(logprobs, old_logprobs, advantages, mask, clip_low=0.2, clip_high=0.28):
    ratio = (logprobs - old_logprobs).exp()
    adv = advantages.reshape(-1, 1)
    per_token = torch.max(-ratio * adv, -torch.clamp(ratio, 1 - clip_low, 1 + clip_high) * adv)
    return (per_token * mask).sum() / mask.sum()
'''),
]
