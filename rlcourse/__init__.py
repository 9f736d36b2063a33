"""Support package of the course: local server, scripted policies, tiny models, evaluation, training,
grading helpers."""

import os


def quick_mode() -> bool:
    """True when ``COURSE_QUICK=1``: notebooks and the demo play fewer games and train fewer steps."""
    return os.environ.get("COURSE_QUICK", "") == "1"
