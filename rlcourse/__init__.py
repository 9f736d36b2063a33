"""Support package of the course: local server, scripted policies, tiny models, evaluation, training,
grading helpers.

Where things live (the game's rules are in the ``tictactoe`` environment package, envs/tictactoe):

* ``server`` (the local OpenAI-compatible server, ``LocalServer``), ``clients`` (``InProcessClient``,
  ``run_coroutine``), ``policies`` (what answers a model id), ``scripted`` (the scripted stand-ins:
  the teacher, random, minimax players);
* tiny models: ``chat_template`` (tokenizer and chat template), ``tinylm`` (create, save, load),
  ``generation`` (batched generation), ``tiny_policy`` (a tiny model served as a policy);
* ``evaluation`` (run an environment against a model, statistics, tables), ``audit`` (every game a
  greedy policy can meet), ``play`` (play against a model);
* training: ``data`` (SFT data), ``sft``, ``advantages`` (GRPO's group advantage), ``rl`` (the
  CISPO loss and the RL trainer), ``pipeline`` (``make demo``: the whole SFT -> RL story);
* ``grading`` (lesson graders), ``postmortem`` (lesson 11's table policy), ``tour`` (``make tour``).
"""

import os


def quick_mode() -> bool:
    """True when ``COURSE_QUICK=1``: notebooks and the demo play fewer games and train fewer steps."""
    return os.environ.get("COURSE_QUICK", "") == "1"
