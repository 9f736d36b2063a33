"""Plausible wrong answers (and correct alternatives) for every exercise, one module per lesson.

Each module ``lNN.py`` defines two lists of ``(exercise, description, source)``:

- ``WRONG``: code a learner could plausibly write that is wrong; its grader must reject it;
- ``RIGHT``: correct answers written differently from the solution; its grader must accept them.

``source`` redefines the exercise's names (a function, a class); ``tests/test_wrong_answers.py``
runs it in a copy of the solution notebook's namespace and grades it with ``check``, the same call
a learner's notebook makes.
"""
