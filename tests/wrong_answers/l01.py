"""Lesson 01: rollout, discounted_return, epsilon_greedy, group_advantages."""

WRONG = [
    ("1.1", "records the state after the action", '''
def rollout(env, policy, rng):
    trajectory = []
    state, done = env.reset(), False
    while not done:
        action = policy(state, rng)
        state, reward, done = env.step(action)
        trajectory.append(Step(state, action, reward))
    return trajectory
'''),
    ("1.1", "loops until an end of the line, ignoring the step cap", '''
def rollout(env, policy, rng):
    trajectory = []
    state = env.reset()
    while 0 < state < env.size:
        action = policy(state, rng)
        next_state, reward, done = env.step(action)
        trajectory.append(Step(state, action, reward))
        state = next_state
    return trajectory
'''),
    ("1.1", "breaks on done before recording the last step", '''
def rollout(env, policy, rng):
    trajectory = []
    state = env.reset()
    while True:
        action = policy(state, rng)
        next_state, reward, done = env.step(action)
        if done:
            break
        trajectory.append(Step(state, action, reward))
        state = next_state
    return trajectory
'''),
    ("1.1", "the policy gets the random module instead of rng", '''
def rollout(env, policy, rng):
    trajectory = []
    state, done = env.reset(), False
    while not done:
        action = policy(state, random)
        next_state, reward, done = env.step(action)
        trajectory.append(Step(state, action, reward))
        state = next_state
    return trajectory
'''),
    ("1.2", "discount starts at gamma instead of 1", '''
def discounted_return(rewards, gamma=1.0):
    return sum(gamma ** (t + 1) * r for t, r in enumerate(rewards))
'''),
    ("1.2", "discounts from the end of the episode", '''
def discounted_return(rewards, gamma=1.0):
    n = len(rewards)
    return sum(gamma ** (n - 1 - t) * r for t, r in enumerate(rewards))
'''),
    ("1.2", "recursion that fails on the empty list", '''
def discounted_return(rewards, gamma=1.0):
    if len(rewards) == 1:
        return rewards[0]
    return rewards[0] + gamma * discounted_return(rewards[1:], gamma)
'''),
    ("1.3", "the module-level random decides when to explore", '''
def epsilon_greedy(estimates, epsilon, rng):
    if random.random() < epsilon:
        return rng.randrange(len(estimates))
    return max(range(len(estimates)), key=lambda i: estimates[i])
'''),
    ("1.3", "the module-level random picks the exploring arm", '''
def epsilon_greedy(estimates, epsilon, rng):
    if rng.random() < epsilon:
        return random.randrange(len(estimates))
    return max(range(len(estimates)), key=lambda i: estimates[i])
'''),
    ("1.3", "exploration never picks the best arm", '''
def epsilon_greedy(estimates, epsilon, rng):
    best = max(range(len(estimates)), key=lambda i: estimates[i])
    if rng.random() < epsilon:
        return rng.choice([i for i in range(len(estimates)) if i != best])
    return best
'''),
    ("1.3", "ties go to the last best arm", '''
def epsilon_greedy(estimates, epsilon, rng):
    if rng.random() < epsilon:
        return rng.randrange(len(estimates))
    best = max(estimates)
    return len(estimates) - 1 - estimates[::-1].index(best)
'''),
    ("1.3", "randint's upper bound is inclusive: an arm past the end", '''
def epsilon_greedy(estimates, epsilon, rng):
    if rng.random() < epsilon:
        return rng.randint(0, len(estimates))
    return estimates.index(max(estimates))
'''),
    ("1.4", "divides by the group's standard deviation too", '''
def group_advantages(rewards):
    mean = sum(rewards) / len(rewards)
    std = (sum((r - mean) ** 2 for r in rewards) / len(rewards)) ** 0.5
    return [(r - mean) / (std or 1.0) for r in rewards]
'''),
    ("1.4", "the median as the baseline", '''
def group_advantages(rewards):
    ordered = sorted(rewards)
    middle = ordered[len(ordered) // 2]
    return [r - middle for r in rewards]
'''),
    ("1.4", "modifies the input list in place", '''
def group_advantages(rewards):
    mean = sum(rewards) / len(rewards)
    for i in range(len(rewards)):
        rewards[i] -= mean
    return rewards
'''),
]

RIGHT = [
    ("1.1", "a for loop bounded by max_steps with a break on done", '''
def rollout(env, policy, rng):
    steps = []
    state = env.reset()
    for _ in range(env.max_steps):
        action = policy(state, rng)
        new_state, reward, done = env.step(action)
        steps.append(Step(state=state, action=action, reward=reward))
        if done:
            break
        state = new_state
    return steps
'''),
    ("1.2", "accumulates backwards: G = r + gamma * G", '''
def discounted_return(rewards, gamma=1.0):
    total = 0.0
    for r in reversed(rewards):
        total = r + gamma * total
    return total
'''),
    ("1.3", "list.index of the max, and rng.choice for the random arm", '''
def epsilon_greedy(estimates, epsilon, rng):
    explore = rng.random() < epsilon
    if explore:
        return rng.choice(range(len(estimates)))
    return estimates.index(max(estimates))
'''),
    ("1.4", "statistics.mean and a new list", '''
import statistics

def group_advantages(rewards):
    baseline = statistics.mean(rewards)
    return list(map(lambda r: r - baseline, rewards))
'''),
]
