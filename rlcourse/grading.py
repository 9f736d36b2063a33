"""Grading of the lessons' exercises.

Two entry points:

* :func:`check` — called in a notebook as ``check("5.1")``. It finds the grader(s)
  ``test_ex5_1_*`` in ``tests/lessons/test_l05_*.py``, runs them on the notebook's *live* definitions in a
  worker thread with a timeout, prints a verdict and returns True/False.
* :func:`load_notebook` — executes a notebook's ``setup`` and ``exercise`` cells in a fresh namespace
  (no kernel) and returns that namespace; the ``nb`` fixture of ``tests/conftest.py`` uses it, so one
  ``pytest`` run checks every grader on ``solutions/`` (must pass) and ``lessons/`` (must raise
  NotImplementedError).

A grader is a plain function ``def test_exN_K_what(nb): ...`` whose ``nb`` argument is a namespace
whose attributes are the notebook's globals (``nb.reverse_text(...)``). Graders may also ask for
``tmp_path`` (a fresh temporary directory); ``pytest.mark.parametrize`` marks are honoured.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import inspect
import itertools
import linecache
import re
import signal
import sys
import tempfile
import threading
import time
import traceback
import types
from pathlib import Path
from typing import Any, Callable
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
GRADERS_DIR = ROOT / "tests" / "lessons"  # the lesson graders, tests/lessons/test_lNN_*.py
GRADING_TAGS = ("setup", "exercise")
_EXERCISE_RE = re.compile(r"^\s*(\d+)\.(\d+)\s*$")
_STUB_RE = re.compile(r"Exercise (\d+\.\d+)")
_counter = itertools.count()


# ---------------------------------------------------------------------------------------------
# Namespaces
# ---------------------------------------------------------------------------------------------


class NamespaceView:
    """Attribute access to a dict of globals (a notebook's live namespace).

    Reads go to the dict, so a grader sees the learner's latest definitions. Writes (a grader
    replacing a helper) go to an overlay and never touch the learner's namespace.
    """

    def __init__(self, namespace: dict[str, Any]):
        object.__setattr__(self, "_namespace", namespace)
        object.__setattr__(self, "_overlay", {})

    def __getattr__(self, name: str) -> Any:
        overlay = object.__getattribute__(self, "_overlay")
        if name in overlay:
            return overlay[name]
        namespace = object.__getattribute__(self, "_namespace")
        try:
            return namespace[name]
        except KeyError:
            raise AttributeError(
                f"the notebook defines no {name!r}: run the cell that defines it (and the setup cells above it)"
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        object.__getattribute__(self, "_overlay")[name] = value

    def __dir__(self):
        return sorted(set(object.__getattribute__(self, "_namespace")) | set(object.__getattribute__(self, "_overlay")))

    def __repr__(self) -> str:
        return f"<notebook namespace with {len(object.__getattribute__(self, '_namespace'))} names>"


def notebook_cells(path: str | Path, tags=GRADING_TAGS) -> list[tuple[int, str]]:
    """(index, source) of the code cells of ``path`` that carry one of ``tags``, in notebook order."""
    import nbformat

    notebook = nbformat.read(str(path), as_version=4)
    cells = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and set(cell.get("metadata", {}).get("tags", [])) & set(tags):
            cells.append((index, cell.source))
    return cells


def load_notebook(path: str | Path, tags=GRADING_TAGS) -> types.SimpleNamespace:
    """Execute the ``setup`` and ``exercise`` cells of a notebook in a fresh namespace; return it.

    The cells run as plain Python (no kernel, no IPython magics) in a module registered in
    ``sys.modules`` (so dataclasses and pickling behave), with tracebacks that name the notebook and
    the cell. The result is a ``SimpleNamespace`` of the cells' globals.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no notebook at {path}")
    module_name = f"_notebook_{re.sub(r'[^0-9a-zA-Z_]', '_', path.stem)}_{next(_counter)}"
    module = types.ModuleType(module_name, f"setup and exercise cells of {path}")
    module.__file__ = str(path)
    sys.modules[module_name] = module
    for index, source in notebook_cells(path, tags):
        filename = f"{path.parent.name}/{path.name} (cell {index})"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        try:
            code = compile(source, filename, "exec")
        except SyntaxError as exc:
            raise SyntaxError(f"{filename} is not plain Python (setup/exercise cells may hold no IPython "
                              f"magics): {exc.msg}", (filename, exc.lineno, exc.offset, exc.text)) from None
        exec(code, module.__dict__)
    return types.SimpleNamespace(**{k: v for k, v in module.__dict__.items() if k != "__builtins__"})


# ---------------------------------------------------------------------------------------------
# Finding graders
# ---------------------------------------------------------------------------------------------


def parse_exercise(exercise: str) -> tuple[int, int]:
    """``"5.1"`` -> ``(5, 1)``."""
    match = _EXERCISE_RE.match(str(exercise))
    if not match:
        raise ValueError(f"an exercise is named like '5.1' (lesson 5, exercise 1), got {exercise!r}")
    return int(match.group(1)), int(match.group(2))


def grader_file(lesson: int, tests_dir: str | Path | None = None) -> Path:
    """``tests/lessons/test_lNN_*.py`` of a lesson (``tests_dir``: the folder holding the graders)."""
    tests_dir = Path(tests_dir) if tests_dir is not None else GRADERS_DIR
    found = sorted(tests_dir.glob(f"test_l{lesson:02d}_*.py"))
    if not found:
        raise FileNotFoundError(f"no grader file test_l{lesson:02d}_*.py in {tests_dir}")
    if len(found) > 1:
        raise RuntimeError(f"more than one grader file for lesson {lesson}: {[p.name for p in found]}")
    return found[0]


def import_fresh(path: Path) -> types.ModuleType:
    """Import a test module from its file, fresh on every call (an edited grader is picked up)."""
    name = f"_graders_{path.stem}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    # graders import helpers from their folder and from the tests folder above it (tests/helpers.py),
    # as under pytest, where tests/conftest.py puts tests/ on sys.path
    added = [str(folder) for folder in (path.parent, path.parent.parent) if str(folder) not in sys.path]
    sys.path[:0] = added
    try:
        spec.loader.exec_module(module)
    finally:
        for folder in added:
            sys.path.remove(folder)
    return module


def graders_for(module: types.ModuleType, lesson: int, number: int) -> list[tuple[str, Callable]]:
    prefix = f"test_ex{lesson}_{number}_"
    return [(name, fn) for name, fn in vars(module).items()
            if name.startswith(prefix) and inspect.isfunction(fn)]


def _parametrizations(fn: Callable) -> list[tuple[str, dict[str, Any]]]:
    """(id, kwargs) for each case of a grader's ``pytest.mark.parametrize`` marks (one empty case if none)."""
    cases: list[tuple[str, dict[str, Any]]] = [("", {})]
    for mark in reversed(getattr(fn, "pytestmark", [])):
        if getattr(mark, "name", "") != "parametrize":
            continue
        argnames, argvalues = mark.args[0], mark.args[1]
        names = [n.strip() for n in argnames.split(",")] if isinstance(argnames, str) else list(argnames)
        expanded = []
        for case_id, kwargs in cases:
            for i, param in enumerate(argvalues):
                if hasattr(param, "values") and hasattr(param, "marks"):  # pytest.param(...)
                    values = tuple(param.values)
                elif len(names) == 1:
                    values = (param,)
                else:
                    values = tuple(param)
                expanded.append((f"{case_id}-{i}" if case_id else str(i), dict(kwargs, **dict(zip(names, values)))))
        cases = expanded
    return cases


# ---------------------------------------------------------------------------------------------
# Running graders
# ---------------------------------------------------------------------------------------------


class GraderTimeout(Exception):
    """Raised inside a grader thread that ran past its time limit."""


def _stop_thread(thread: threading.Thread) -> bool:
    """Ask a thread to stop by raising GraderTimeout in it (works at the next Python bytecode)."""
    if not thread.is_alive() or thread.ident is None:
        return True
    done = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(GraderTimeout))
    if done > 1:  # should not happen; undo
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), None)
        return False
    thread.join(2.0)
    return not thread.is_alive()


def _call_with_fixtures(fn: Callable, nb: Any, extra: dict[str, Any]) -> None:
    params = inspect.signature(fn).parameters
    kwargs = dict(extra)
    with tempfile.TemporaryDirectory(prefix="rlcourse-grader-") as tmp:
        for name in params:
            if name in kwargs:
                continue
            if name == "nb":
                kwargs[name] = nb
            elif name == "tmp_path":
                kwargs[name] = Path(tmp)
            else:
                raise TypeError(f"grader {fn.__name__} asks for the fixture {name!r}; check() provides only "
                                "nb and tmp_path")
        fn(**kwargs)


_real_signal = signal.signal


def _signal_from_any_thread(signum, handler):
    if threading.current_thread() is threading.main_thread():
        return _real_signal(signum, handler)
    return signal.getsignal(signum)


@contextlib.contextmanager
def environments_buildable():
    """Inside this block a verifiers Environment can be built off the main thread.

    verifiers installs SIGINT/SIGTERM handlers when an Environment is built, which Python allows only in
    the main thread; graders run in a worker thread, where those two installations are skipped (the
    kernel keeps its own handlers).
    """
    if threading.current_thread() is threading.main_thread():
        yield
        return
    with mock.patch.object(signal, "signal", _signal_from_any_thread):
        yield


def _run_in_thread(fn: Callable[[], None], timeout: float) -> tuple[str, BaseException | None, bool]:
    """("ok" | "error" | "timeout", exception, stopped)."""
    box: dict[str, Any] = {}

    def target():
        try:
            with environments_buildable():
                fn()
            box["status"] = "ok"
        except GraderTimeout:
            box["status"] = "timeout"
        except BaseException as exc:  # reported in the caller's thread
            box["status"], box["error"] = "error", exc

    thread = threading.Thread(target=target, name="rlcourse-grader", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return "timeout", None, _stop_thread(thread)
    return box.get("status", "error"), box.get("error"), True


def _assertion_text(exc: AssertionError) -> str:
    message = str(exc).strip()
    if message:
        return message.splitlines()[0] if "\nassert " in message else message
    # A bare ``assert`` without a message: show the grader's line.
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        if frame.line and "assert" in frame.line:
            return f"this check did not hold: {frame.line.strip()}"
    return "an assertion failed"


def _learner_traceback(exc: BaseException) -> str:
    """The traceback lines outside this module and the grader file (usually the learner's cell)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if Path(f.filename).name != Path(__file__).name and "/tests/" not in f.filename
              and "/contextlib.py" not in f.filename]
    if not frames:
        return ""
    return "".join(traceback.format_list(frames[-3:]))


def check(exercise: str, timeout: float = 60, namespace: dict[str, Any] | None = None,
          tests_dir: str | Path | None = None, verbose: bool = True) -> bool:
    """Grade exercise ``"N.K"`` on the calling notebook's definitions; print a verdict, return True/False.

    ``namespace`` defaults to the caller's globals (the notebook's). ``tests_dir`` (the folder of the
    graders) defaults to the repository's ``tests/lessons/``. Each grader runs in a worker thread for at most ``timeout`` seconds.
    """
    lesson, number = parse_exercise(exercise)
    label = f"Exercise {lesson}.{number}"
    if namespace is None:
        frame = inspect.currentframe()
        namespace = frame.f_back.f_globals if frame is not None and frame.f_back is not None else {}
    say = print if verbose else (lambda *a, **k: None)
    try:
        module = import_fresh(grader_file(lesson, tests_dir))
    except Exception as exc:  # a broken grader file is the course's fault; say so plainly
        say(f"❌ {label}: could not load its grader ({type(exc).__name__}: {exc})")
        return False
    graders = graders_for(module, lesson, number)
    if not graders:
        say(f"❌ {label}: no grader named test_ex{lesson}_{number}_* in {Path(module.__file__).name}")
        return False
    nb = NamespaceView(namespace)
    failures: list[str] = []
    started = time.monotonic()
    for name, fn in graders:
        for case_id, kwargs in _parametrizations(fn):
            status, exc, stopped = _run_in_thread(lambda: _call_with_fixtures(fn, nb, kwargs), timeout)
            if status == "ok":
                continue
            if status == "timeout":
                stop_note = ("" if stopped else " It is still running in the background; restart the kernel "
                             "(Kernel > Restart) to stop it.")
                say(f"⏰ {label} failed: your code took longer than {timeout:g} s (likely an infinite loop, "
                    f"or a loop that never reaches its exit condition).{stop_note}")
                return False
            if isinstance(exc, NotImplementedError):
                stub = _STUB_RE.search(str(exc))
                if stub and stub.group(1) != f"{lesson}.{number}":
                    say(f"⏳ {label} not solved yet: it uses your answer to Exercise {stub.group(1)}, which "
                        "still raises NotImplementedError. Solve that one first.")
                else:
                    say(f"⏳ {label} not solved yet: replace the `raise NotImplementedError` line with your code, "
                        "run that cell, then run this check again.")
                return False
            if isinstance(exc, AssertionError):
                failures.append(_assertion_text(exc))
            else:
                where = _learner_traceback(exc)
                failures.append(f"your code raised {type(exc).__name__}: {exc}" + (f"\n{where.rstrip()}" if where else ""))
    if failures:
        unique = list(dict.fromkeys(failures))
        say(f"❌ {label} failed: " + "\n   ".join(unique[:3]))
        return False
    say(f"✅ {label} passed ({time.monotonic() - started:.1f} s)")
    return True
