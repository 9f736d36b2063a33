"""Lesson 09: group_advantages, cispo_loss, check_batch."""

WRONG = [
    # ---- 9.1 group_advantages --------------------------------------------------------------------
    ("9.1", "one mean for the whole batch instead of one per group", '''
def group_advantages(rewards, group_size, scale_by_std=False):
    if len(rewards) % group_size:
        raise ValueError("the rewards do not split into whole groups")
    mean = statistics.fmean(rewards)
    advantages = [r - mean for r in rewards]
    if scale_by_std:
        std = statistics.pstdev(rewards)
        advantages = [a / std if std > 0 else 0.0 for a in advantages]
    return advantages
'''),
    ("9.1", "always divided by the group's std (scale_by_std ignored)", '''
def group_advantages(rewards, group_size, scale_by_std=False):
    if len(rewards) % group_size:
        raise ValueError("the rewards do not split into whole groups")
    advantages = []
    for start in range(0, len(rewards), group_size):
        group = rewards[start:start + group_size]
        mean, std = statistics.fmean(group), statistics.pstdev(group)
        advantages += [(r - mean) / std if std > 0 else 0.0 for r in group]
    return advantages
'''),
    ("9.1", "scaled but not centred: reward / std", '''
def group_advantages(rewards, group_size, scale_by_std=False):
    if len(rewards) % group_size:
        raise ValueError("the rewards do not split into whole groups")
    advantages = []
    for start in range(0, len(rewards), group_size):
        group = rewards[start:start + group_size]
        mean, std = statistics.fmean(group), statistics.pstdev(group)
        if scale_by_std:
            advantages += [r / std if std > 0 else 0.0 for r in group]
        else:
            advantages += [r - mean for r in group]
    return advantages
'''),
    ("9.1", "the sample std (n - 1) instead of the population std", '''
def group_advantages(rewards, group_size, scale_by_std=False):
    if len(rewards) % group_size:
        raise ValueError("the rewards do not split into whole groups")
    advantages = []
    for start in range(0, len(rewards), group_size):
        group = rewards[start:start + group_size]
        mean = statistics.fmean(group)
        centred = [r - mean for r in group]
        if scale_by_std:
            std = statistics.stdev(group)
            centred = [a / std if std > 0 else 0.0 for a in centred]
        advantages += centred
    return advantages
'''),
    ("9.1", "the rewards are centred in place", '''
def group_advantages(rewards, group_size, scale_by_std=False):
    if len(rewards) % group_size:
        raise ValueError("the rewards do not split into whole groups")
    for start in range(0, len(rewards), group_size):
        group = rewards[start:start + group_size]
        mean, std = statistics.fmean(group), statistics.pstdev(group)
        for i in range(start, start + group_size):
            rewards[i] -= mean
            if scale_by_std:
                rewards[i] = rewards[i] / std if std > 0 else 0.0
    return rewards
'''),
    ("9.1", "a group size of 0 or below is not refused (ZeroDivisionError, or no groups at all)", '''
def group_advantages(rewards, group_size, scale_by_std=False):
    if len(rewards) % group_size != 0:
        raise ValueError(f"{len(rewards)} rewards do not split into groups of {group_size}")
    advantages = []
    for start in range(0, len(rewards), group_size):
        group = rewards[start:start + group_size]
        mean = statistics.fmean(group)
        centred = [r - mean for r in group]
        if scale_by_std:
            std = statistics.pstdev(group)
            centred = [a / std if std else 0.0 for a in centred]
        advantages.extend(centred)
    return advantages
'''),
    ("9.1", "std computed by hand: rounding makes an equal group's std 1e-17, not 0", '''
def group_advantages(rewards, group_size, scale_by_std=False):
    if group_size < 1 or len(rewards) % group_size:
        raise ValueError("the rewards do not split into whole groups")
    out = []
    for start in range(0, len(rewards), group_size):
        group = rewards[start:start + group_size]
        mean = sum(group) / len(group)
        std = (sum((r - mean) ** 2 for r in group) / len(group)) ** 0.5
        for r in group:
            if scale_by_std:
                out.append((r - mean) / std if std != 0 else 0.0)
            else:
                out.append(r - mean)
    return out
'''),
    # ---- 9.2 cispo_loss --------------------------------------------------------------------------
    ("9.2", "the clipped weight is not detached", '''
def cispo_loss(logprobs, old_logprobs, advantages, mask, clip_low=0.2, clip_high=0.28):
    weight = torch.exp(logprobs - old_logprobs).clamp(1 - clip_low, 1 + clip_high)
    return -(weight * advantages.unsqueeze(-1) * logprobs * mask).sum() / mask.sum()
'''),
    ("9.2", "PPO-style clipping (min of ratio*A and clip(ratio)*A)", '''
def cispo_loss(logprobs, old_logprobs, advantages, mask, clip_low=0.2, clip_high=0.28):
    ratio = torch.exp(logprobs - old_logprobs)
    a = advantages.unsqueeze(-1)
    per_token = torch.minimum(ratio * a, ratio.clamp(1 - clip_low, 1 + clip_high) * a)
    return -(per_token * mask).sum() / mask.sum()
'''),
    ("9.2", "the mask is forgotten in the numerator", '''
def cispo_loss(logprobs, old_logprobs, advantages, mask, clip_low=0.2, clip_high=0.28):
    weight = torch.exp(logprobs - old_logprobs).clamp(1 - clip_low, 1 + clip_high).detach()
    return -(weight * advantages.unsqueeze(-1) * logprobs).sum() / mask.sum()
'''),
    ("9.2", "averaged over every token, masked or not (dividing by the wrong count)", '''
def cispo_loss(logprobs, old_logprobs, advantages, mask, clip_low=0.2, clip_high=0.28):
    weight = torch.exp(logprobs - old_logprobs).clamp(1 - clip_low, 1 + clip_high).detach()
    return -(weight * advantages.unsqueeze(-1) * logprobs * mask).mean()
'''),
    ("9.2", "clip range swapped: [1 - clip_high, 1 + clip_low]", '''
def cispo_loss(logprobs, old_logprobs, advantages, mask, clip_low=0.2, clip_high=0.28):
    weight = torch.exp(logprobs - old_logprobs).clamp(1 - clip_high, 1 + clip_low).detach()
    return -(weight * advantages.unsqueeze(-1) * logprobs * mask).sum() / mask.sum()
'''),
    # ---- 9.3 check_batch -------------------------------------------------------------------------
    ("9.3", "num_groups=0 slips through a falsy test (if num_groups and ...)", '''
def check_batch(batch_size, rollouts_per_example, num_groups=None):
    for name, value in (("batch_size", batch_size), ("rollouts_per_example", rollouts_per_example)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an int, got {value!r}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if rollouts_per_example < 2:
        raise ValueError(f"rollouts_per_example {rollouts_per_example} must be at least 2")
    if batch_size % rollouts_per_example:
        raise ValueError(f"batch_size {batch_size} is not a multiple of rollouts_per_example {rollouts_per_example}")
    groups = batch_size // rollouts_per_example
    if num_groups and num_groups != groups:
        raise ValueError(f"num_groups {num_groups} should be {groups}")
    return groups
'''),
    ("9.3", "only batch_size is type-checked (a float rollouts_per_example passes)", '''
def check_batch(batch_size, rollouts_per_example, num_groups=None):
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise ValueError(f"batch_size must be an int, got {batch_size!r}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if rollouts_per_example < 2:
        raise ValueError(f"rollouts_per_example {rollouts_per_example} must be at least 2")
    if batch_size % rollouts_per_example:
        raise ValueError(f"batch_size {batch_size} is not a multiple of rollouts_per_example {rollouts_per_example}")
    groups = int(batch_size // rollouts_per_example)
    if num_groups is not None and num_groups != groups:
        raise ValueError(f"num_groups {num_groups} should be {groups}")
    return groups
'''),
    ("9.3", "rollouts_per_example of 1 accepted (< 1 instead of < 2)", '''
def check_batch(batch_size, rollouts_per_example, num_groups=None):
    for name, value in (("batch_size", batch_size), ("rollouts_per_example", rollouts_per_example)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an int, got {value!r}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if rollouts_per_example < 1:
        raise ValueError(f"rollouts_per_example {rollouts_per_example} must be positive")
    if batch_size % rollouts_per_example:
        raise ValueError(f"batch_size {batch_size} is not a multiple of rollouts_per_example {rollouts_per_example}")
    groups = batch_size // rollouts_per_example
    if num_groups is not None and num_groups != groups:
        raise ValueError(f"num_groups {num_groups} should be {groups}")
    return groups
'''),
    ("9.3", "batch_size 0 accepted (< 0 instead of <= 0)", '''
def check_batch(batch_size, rollouts_per_example, num_groups=None):
    for name, value in (("batch_size", batch_size), ("rollouts_per_example", rollouts_per_example)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an int, got {value!r}")
    if batch_size < 0:
        raise ValueError(f"batch_size must not be negative, got {batch_size}")
    if rollouts_per_example < 2:
        raise ValueError(f"rollouts_per_example {rollouts_per_example} must be at least 2")
    if batch_size % rollouts_per_example:
        raise ValueError(f"batch_size {batch_size} is not a multiple of rollouts_per_example {rollouts_per_example}")
    groups = batch_size // rollouts_per_example
    if num_groups is not None and num_groups != groups:
        raise ValueError(f"num_groups {num_groups} should be {groups}")
    return groups
'''),
]

RIGHT = [
    ("9.1", "groups cut with zip(*[iter(rewards)] * group_size); an equal group detected by its values", '''
def group_advantages(rewards, group_size, scale_by_std=False):
    if not isinstance(group_size, int) or group_size <= 0 or len(rewards) % group_size != 0:
        raise ValueError("the rewards must split into whole groups of group_size")
    out = []
    for group in zip(*[iter(list(rewards))] * group_size):
        mean = sum(group) / len(group)
        if not scale_by_std:
            out += [r - mean for r in group]
        elif max(group) == min(group):
            out += [0.0] * len(group)
        else:
            std = (sum((r - mean) ** 2 for r in group) / len(group)) ** 0.5
            out += [(r - mean) / std for r in group]
    return out
'''),
    ("9.2", "weight from detached log-probs, masked mean written with torch.where", '''
def cispo_loss(logprobs, old_logprobs, advantages, mask, clip_low=0.2, clip_high=0.28):
    with torch.no_grad():
        weight = torch.clamp((logprobs - old_logprobs).exp(), min=1 - clip_low, max=1 + clip_high)
    objective = weight * advantages[:, None] * logprobs
    objective = torch.where(mask.bool(), objective, torch.zeros_like(objective))
    return -objective.sum() / mask.sum()
'''),
    ("9.3", "divmod, checks in another order, other messages", '''
def check_batch(batch_size, rollouts_per_example, num_groups=None):
    if type(batch_size) is not int or type(rollouts_per_example) is not int:
        raise ValueError(f"batch_size and rollouts_per_example must be ints, got {batch_size!r} and "
                         f"{rollouts_per_example!r}")
    if rollouts_per_example < 2:
        raise ValueError(f"rollouts_per_example={rollouts_per_example}: use 2 or more rollouts per example")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}: it must be at least 1")
    groups, rest = divmod(batch_size, rollouts_per_example)
    if rest:
        raise ValueError(f"batch_size={batch_size} leaves {rest} rollouts over with rollouts_per_example="
                         f"{rollouts_per_example}: pick a multiple of {rollouts_per_example}")
    if num_groups is not None and num_groups != groups:
        raise ValueError(f"num_groups={num_groups} but batch_size={batch_size} holds {groups} groups: use {groups}")
    return groups
'''),
]
