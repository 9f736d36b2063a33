"""Support package of the course: local server, scripted policies, evaluation helpers."""
