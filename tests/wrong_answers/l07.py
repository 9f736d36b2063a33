"""Lesson 07: outcome_counts, wilson, two_proportion_test, paired_record."""

WRONG = [
    # ---- 7.1 outcome_counts ----------------------------------------------------------------------
    ("7.1", "only outcome 'loss' counts as a loss (unfinished games are lost)", '''
def outcome_counts(rows):
    counts = {"win": 0, "draw": 0, "loss": 0, "invalid": 0}
    for row in rows:
        if row.get("outcome") in counts:
            counts[row["outcome"]] += 1
        if row.get("invalid_moves", 0) > 0 or row.get("error"):
            counts["invalid"] += 1
    return counts
'''),
    ("7.1", "a game with an error keeps the outcome it reports", '''
def outcome_counts(rows):
    counts = {"win": 0, "draw": 0, "loss": 0, "invalid": 0}
    for row in rows:
        outcome = row.get("outcome")
        counts[outcome if outcome in ("win", "draw") else "loss"] += 1
        if row.get("invalid_moves", 0) > 0 or row.get("error"):
            counts["invalid"] += 1
    return counts
'''),
    ("7.1", "a failed call (error) is not counted as an invalid-move game", '''
def outcome_counts(rows):
    counts = {"win": 0, "draw": 0, "loss": 0, "invalid": 0}
    for row in rows:
        outcome = None if row.get("error") else row.get("outcome")
        counts[outcome if outcome in ("win", "draw") else "loss"] += 1
        if row.get("invalid_moves", 0) > 0:
            counts["invalid"] += 1
    return counts
'''),
    ("7.1", "invalid counts invalid moves, not games with one", '''
def outcome_counts(rows):
    counts = {"win": 0, "draw": 0, "loss": 0, "invalid": 0}
    for row in rows:
        outcome = None if row.get("error") else row.get("outcome")
        counts[outcome if outcome in ("win", "draw") else "loss"] += 1
        counts["invalid"] += row.get("invalid_moves", 0) + (1 if row.get("error") else 0)
    return counts
'''),
    ("7.1", "invalid only from two invalid moves on (> 1)", '''
def outcome_counts(rows):
    counts = {"win": 0, "draw": 0, "loss": 0, "invalid": 0}
    for row in rows:
        outcome = None if row.get("error") else row.get("outcome")
        counts[outcome if outcome in ("win", "draw") else "loss"] += 1
        if row.get("invalid_moves", 0) > 1 or row.get("error"):
            counts["invalid"] += 1
    return counts
'''),
    # ---- 7.2 wilson ------------------------------------------------------------------------------
    ("7.2", "the normal (Wald) interval instead of Wilson's", '''
def wilson(successes, n, z=1.96):
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError("bad counts")
    p = successes / n
    half = z * math.sqrt(p * (1 - p) / n)
    return max(0.0, p - half), min(1.0, p + half)
'''),
    ("7.2", "z*z/n in the centre instead of z*z/(2n)", '''
def wilson(successes, n, z=1.96):
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError("bad counts")
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / n) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)
'''),
    ("7.2", "z is fixed at 1.96 whatever the argument", '''
def wilson(successes, n, z=1.96):
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError("bad counts")
    z = 1.96
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)
'''),
    ("7.2", "successes above n are not refused", '''
def wilson(successes, n, z=1.96):
    if n <= 0 or successes < 0:
        raise ValueError("bad counts")
    p = min(successes / n, 1.0)
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)
'''),
    ("7.2", "the ends are not kept inside [0, 1]", '''
def wilson(successes, n, z=1.96):
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError("bad counts")
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half
'''),
    # ---- 7.3 two_proportion_test -----------------------------------------------------------------
    ("7.3", "each sample's own rate in the spread (unpooled)", '''
def two_proportion_test(k1, n1, k2, n2):
    p1, p2 = k1 / n1, k2 / n2
    spread = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    if spread == 0:
        return 0.0, 1.0
    z = (p1 - p2) / spread
    return z, math.erfc(abs(z) / math.sqrt(2))
'''),
    ("7.3", "the one-sided p-value", '''
def two_proportion_test(k1, n1, k2, n2):
    pooled = (k1 + k2) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if spread == 0:
        return 0.0, 1.0
    z = (k1 / n1 - k2 / n2) / spread
    return z, math.erfc(abs(z) / math.sqrt(2)) / 2
'''),
    ("7.3", "only a pooled rate of 0 is special (both at 100% divides by 0)", '''
def two_proportion_test(k1, n1, k2, n2):
    if k1 + k2 == 0:
        return 0.0, 1.0
    pooled = (k1 + k2) / (n1 + n2)
    z = (k1 / n1 - k2 / n2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return z, math.erfc(abs(z) / math.sqrt(2))
'''),
    ("7.3", "no abs(): a negative z gives a p-value above 1", '''
def two_proportion_test(k1, n1, k2, n2):
    pooled = (k1 + k2) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if spread == 0:
        return 0.0, 1.0
    z = (k1 / n1 - k2 / n2) / spread
    return z, math.erfc(z / math.sqrt(2))
'''),
    # ---- 7.4 paired_record -----------------------------------------------------------------------
    ("7.4", "games matched by position in the lists, not by example_id", '''
def paired_record(rows_a, rows_b, outcome="win"):
    only_a = only_b = same = 0
    for ra, rb in zip(rows_a, rows_b):
        a, b = ra.get("outcome") == outcome, rb.get("outcome") == outcome
        only_a += a and not b
        only_b += b and not a
        same += a == b
    return only_a, only_b, same
'''),
    ("7.4", "'same' counts every game of A, not only the games both played", '''
def paired_record(rows_a, rows_b, outcome="win"):
    a = {row["example_id"]: row.get("outcome") == outcome for row in rows_a}
    b = {row["example_id"]: row.get("outcome") == outcome for row in rows_b}
    common = a.keys() & b.keys()
    only_a = sum(a[i] and not b[i] for i in common)
    only_b = sum(b[i] and not a[i] for i in common)
    return only_a, only_b, len(rows_a) - only_a - only_b
'''),
    ("7.4", "a game missing from B counts as not reaching the outcome there", '''
def paired_record(rows_a, rows_b, outcome="win"):
    a = {row["example_id"]: row.get("outcome") == outcome for row in rows_a}
    b = {row["example_id"]: row.get("outcome") == outcome for row in rows_b}
    only_a = only_b = same = 0
    for i in a.keys() | b.keys():
        x, y = a.get(i, False), b.get(i, False)
        only_a += x and not y
        only_b += y and not x
        same += x == y
    return only_a, only_b, same
'''),
    ("7.4", "'same' counts only the games both ended with the outcome", '''
def paired_record(rows_a, rows_b, outcome="win"):
    a = {row["example_id"]: row.get("outcome") == outcome for row in rows_a}
    b = {row["example_id"]: row.get("outcome") == outcome for row in rows_b}
    common = a.keys() & b.keys()
    only_a = sum(a[i] and not b[i] for i in common)
    only_b = sum(b[i] and not a[i] for i in common)
    return only_a, only_b, sum(a[i] and b[i] for i in common)
'''),
]

RIGHT = [
    ("7.1", "a Counter over normalised outcomes", '''
from collections import Counter

def outcome_counts(rows):
    outcomes = Counter()
    invalid = 0
    for row in rows:
        failed = bool(row.get("error"))
        result = row.get("outcome")
        outcomes["loss" if failed or result not in ("win", "draw") else result] += 1
        invalid += failed or (row.get("invalid_moves") or 0) > 0
    return {"win": outcomes["win"], "draw": outcomes["draw"], "loss": outcomes["loss"], "invalid": invalid}
'''),
    ("7.2", "the closed form (k + z^2/2) / (n + z^2)", '''
def wilson(successes, n, z=1.96):
    if not (isinstance(n, int) and n > 0):
        raise ValueError("n must be a positive count")
    if successes < 0 or successes > n:
        raise ValueError("successes must lie in [0, n]")
    z2 = z ** 2
    centre = (successes + z2 / 2) / (n + z2)
    half = z * math.sqrt(successes * (n - successes) / n + z2 / 4) / (n + z2)
    return max(0.0, centre - half), min(1.0, centre + half)
'''),
    ("7.3", "statistics.NormalDist for the p-value", '''
from statistics import NormalDist

def two_proportion_test(k1, n1, k2, n2):
    pooled = (k1 + k2) / (n1 + n2)
    if pooled in (0.0, 1.0):
        return 0.0, 1.0
    z = (k1 / n1 - k2 / n2) / (pooled * (1 - pooled) * (1 / n1 + 1 / n2)) ** 0.5
    return z, 2 * NormalDist().cdf(-abs(z))
'''),
    ("7.4", "a loop over A's rows with a lookup in B", '''
def paired_record(rows_a, rows_b, outcome="win"):
    b_outcome = {row["example_id"]: row.get("outcome") for row in rows_b}
    only_a = only_b = same = 0
    for row in rows_a:
        if row["example_id"] not in b_outcome:
            continue
        a_hit, b_hit = row.get("outcome") == outcome, b_outcome[row["example_id"]] == outcome
        if a_hit and not b_hit:
            only_a += 1
        elif b_hit and not a_hit:
            only_b += 1
        else:
            same += 1
    return only_a, only_b, same
'''),
]
