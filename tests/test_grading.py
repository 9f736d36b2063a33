"""The grading machinery: lessons/ generation, exercise <-> grader bookkeeping, check()."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import time
from pathlib import Path

import nbformat
import pytest

from rlcourse.grading import check, load_notebook

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
EXERCISE_TAG = re.compile(r"^ex(\d+)_(\d+)$")
GRADER_NAME = re.compile(r"^test_ex(\d+)_(\d+)_\w+$")


def load_tool():
    spec = importlib.util.spec_from_file_location("make_lessons", ROOT / "tools" / "make_lessons.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_lessons = load_tool()


# ---------------------------------------------------------------------------------------------
# The repository's lessons
# ---------------------------------------------------------------------------------------------


def test_lessons_are_up_to_date(capsys):
    code = make_lessons.main(["--check"])
    assert code == 0, capsys.readouterr().out + "\n(run `make lessons` after editing solutions/)"


def exercise_tags(path: Path) -> list[str]:
    tags = []
    for cell in nbformat.read(str(path), as_version=4).cells:
        tags += [f"{int(m.group(1))}.{int(m.group(2))}" for m in map(EXERCISE_TAG.match, cell.metadata.get("tags", [])) if m]
    return tags


@pytest.mark.parametrize("solution", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_every_exercise_has_a_grader_and_a_check_cell_and_every_grader_an_exercise(solution):
    lesson = int(solution.stem[:2])
    tests = ROOT / "tests" / "lessons" / f"test_l{solution.stem}.py"
    exercises = exercise_tags(solution)
    assert len(exercises) == len(set(exercises)), f"{solution.name}: an exN_K tag is used twice: {exercises}"
    assert all(e.split(".")[0] == str(lesson) for e in exercises), f"{solution.name}: exercise numbers {exercises}"
    if not exercises:
        assert not tests.exists(), f"{tests.name} grades a notebook without exercises"
        return
    assert tests.exists(), f"{solution.name} has exercises {exercises} but no {tests.relative_to(ROOT)}"
    source = tests.read_text(encoding="utf-8")
    graders = re.findall(r"^def (test_ex\w+)\(", source, flags=re.M)
    badly_named = [g for g in graders if not GRADER_NAME.match(g)]
    assert not badly_named, f"{tests.name}: grader names must look like test_exN_K_what: {badly_named}"
    graded = {"{}.{}".format(*map(int, GRADER_NAME.match(g).groups())) for g in graders}
    missing = [e for e in exercises if e not in graded]
    assert not missing, f"{solution.name}: exercises {missing} have no grader test_exN_K_* in {tests.name}"
    orphans = sorted(graded - set(exercises))
    assert not orphans, f"{tests.name}: graders for {orphans}, which {solution.name} does not have"
    # every exercise cell is followed by its check cell
    cells = nbformat.read(str(solution), as_version=4).cells
    for exercise in exercises:
        at = next(i for i, c in enumerate(cells) if f"ex{exercise.replace('.', '_')}" in c.metadata.get("tags", []))
        later = [c.source for c in cells[at + 1:] if c.cell_type == "code"]
        assert any(re.search(rf"check\(\s*[\"']{re.escape(exercise)}[\"']", s) for s in later), \
            f"{solution.name}: no check(\"{exercise}\") cell after exercise {exercise}"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_setup_and_exercise_cells_are_plain_python_definitions(solution):
    namespace = load_notebook(solution)  # compiles and runs them without a kernel
    assert callable(getattr(namespace, "check", None)), f"{solution.name}: the setup cells must import check"


# ---------------------------------------------------------------------------------------------
# Stub generation
# ---------------------------------------------------------------------------------------------


EXERCISE_SOURCE = '''def reverse(text):
    """Return text backwards."""
    ### BEGIN SOLUTION
    return text[::-1]
    ### END SOLUTION


class Walker:
    def step(self, x):
        if x > 0:
            ### BEGIN SOLUTION
            return x - 1
            ### END SOLUTION
        return 0'''


def write_notebook(path: Path, cells) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = cells
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))
    return path


def demo_solution(root: Path, answer: str = "return 2 * x") -> Path:
    setup = nbformat.v4.new_code_cell("from rlcourse.grading import check\nimport asyncio\n"
                                      "from rlcourse.clients import run_coroutine", metadata={"tags": ["setup"]})
    setup.outputs = [nbformat.v4.new_output("stream", text="noise\n")]
    setup.execution_count = 3
    exercise = nbformat.v4.new_code_cell(
        f'def double(x):\n    """Twice x."""\n    ### BEGIN SOLUTION\n    {answer}\n    ### END SOLUTION\n\n'
        'def slow():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION',
        metadata={"tags": ["exercise", "ex98_1"], "collapsed": True, "scrolled": True})
    return write_notebook(root / "solutions" / "98_demo.ipynb", [
        nbformat.v4.new_markdown_cell("# Demo\n\nGoals."),
        setup,
        exercise,
        nbformat.v4.new_code_cell('check("98.1")'),
        nbformat.v4.new_code_cell("print('the answer is', double(2))", metadata={"tags": ["solution-only"]}),
        nbformat.v4.new_markdown_cell("## Recap"),
    ])


def test_stub_source_replaces_each_block_at_its_indentation():
    stub = make_lessons.stub_source(EXERCISE_SOURCE, "2.1", "test")
    assert stub == '''def reverse(text):
    """Return text backwards."""
    raise NotImplementedError("Exercise 2.1")


class Walker:
    def step(self, x):
        if x > 0:
            raise NotImplementedError("Exercise 2.1")
        return 0'''
    compile(stub, "stub", "exec")
    assert "[::-1]" not in stub and "x - 1" not in stub


@pytest.mark.parametrize("source, problem", [
    ("def f():\n    return 1", "needs a ### BEGIN SOLUTION"),
    ("def f():\n    ### BEGIN SOLUTION\n    return 1", "never closed"),
    ("def f():\n    return 1\n    ### END SOLUTION", "without a BEGIN"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside another"),
])
def test_stub_source_refuses_broken_markers(source, problem):
    with pytest.raises(make_lessons.LessonError, match=problem):
        make_lessons.stub_source(source, "2.1", "test")


def test_make_lesson_clears_outputs_drops_solution_only_and_is_deterministic(tmp_path):
    solution = demo_solution(tmp_path)
    text = make_lessons.make_lesson(solution)
    assert text == make_lessons.make_lesson(solution)
    lesson = nbformat.reads(text, as_version=4)
    nbformat.validate(lesson)
    sources = [c.source for c in lesson.cells]
    assert len(lesson.cells) == 5 and not any("the answer is" in s for s in sources)
    assert all(c.outputs == [] and c.execution_count is None for c in lesson.cells if c.cell_type == "code")
    exercise = lesson.cells[2]
    assert exercise.metadata == {"tags": ["exercise", "ex98_1"]}
    assert 'def double(x):\n    """Twice x."""\n    raise NotImplementedError("Exercise 98.1")' in exercise.source
    assert "2 * x" not in text
    assert set(lesson.metadata) == {"kernelspec", "language_info", "rlcourse"}
    ids = [c.id for c in nbformat.read(str(solution), as_version=4).cells]
    assert [c.id for c in lesson.cells] == ids[:4] + ids[5:]


def test_make_lesson_refuses_markers_outside_exercise_cells(tmp_path):
    path = write_notebook(tmp_path / "solutions" / "97_x.ipynb", [
        nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION")])
    with pytest.raises(make_lessons.LessonError, match="not tagged 'exercise'"):
        make_lessons.make_lesson(path)


# ---------------------------------------------------------------------------------------------
# Never losing a learner's work
# ---------------------------------------------------------------------------------------------


def test_regenerating_backs_up_an_edited_lesson_and_not_a_pristine_one(tmp_path, capsys):
    root = tmp_path
    demo_solution(root)
    assert make_lessons.main(["--root", str(root)]) == 0
    lesson = root / "lessons" / "98_demo.ipynb"
    backups = root / "lessons" / "backups"
    assert make_lessons.main(["--root", str(root), "--check"]) == 0

    # the solution changes; the learner has not touched the lesson: overwritten, no backup
    demo_solution(root, answer="return x + x")
    assert make_lessons.main(["--root", str(root), "--check"]) == 1
    make_lessons.main(["--root", str(root)])
    assert not backups.exists()

    # the learner answers the exercise; then the solution changes again
    notebook = nbformat.read(str(lesson), as_version=4)
    notebook.cells[2].source = notebook.cells[2].source.replace('raise NotImplementedError("Exercise 98.1")',
                                                                "return x * 2", 1)
    nbformat.write(notebook, str(lesson))
    mine = lesson.read_text()
    demo_solution(root, answer="return 2 * x  # again")
    capsys.readouterr()
    make_lessons.main(["--root", str(root)])
    saved = list(backups.glob("98_demo.*.ipynb"))
    assert len(saved) == 1 and saved[0].read_text() == mine
    assert "backed up" in capsys.readouterr().out
    assert "return x * 2" not in lesson.read_text()

    # a lesson that was only run (outputs, no edits) also counts as the learner's work
    notebook = nbformat.read(str(lesson), as_version=4)
    notebook.cells[3].outputs = [nbformat.v4.new_output("stream", text="✅ Exercise 98.1 passed\n")]
    nbformat.write(notebook, str(lesson))
    demo_solution(root)
    make_lessons.main(["--root", str(root)])
    assert len(list(backups.glob("98_demo.*.ipynb"))) == 2


def test_reset_backs_up_and_restores_the_stub(tmp_path):
    demo_solution(tmp_path)
    make_lessons.main(["--root", str(tmp_path)])
    lesson = tmp_path / "lessons" / "98_demo.ipynb"
    stub = lesson.read_text()
    lesson.write_text(stub.replace('raise NotImplementedError(\\"Exercise 98.1\\")', "return 0", 1))
    mine = lesson.read_text()
    assert mine != stub
    assert make_lessons.main(["--root", str(tmp_path), "--reset", "98"]) == 0
    assert lesson.read_text() == stub
    saved = list((tmp_path / "lessons" / "backups").glob("98_demo.*.ipynb"))
    assert [p.read_text() for p in saved] == [mine]
    with pytest.raises(SystemExit, match="no single lesson"):
        make_lessons.main(["--root", str(tmp_path), "--reset", "42"])


# ---------------------------------------------------------------------------------------------
# check()
# ---------------------------------------------------------------------------------------------

GRADERS = '''
import pytest

from rlcourse.clients import run_coroutine


def test_ex98_1_doubles(nb):
    got = nb.double(3)
    assert got == 6, f"double(3) should be 6, got {got}"


@pytest.mark.parametrize("x", [0, 5])
def test_ex98_1_doubles_more(nb, x, tmp_path):
    assert tmp_path.is_dir()
    assert run_coroutine(nb.asyncio.sleep(0, result=nb.double(x))) == 2 * x


def test_ex98_2_finishes(nb):
    nb.slow()
'''


@pytest.fixture
def course(tmp_path):
    """A tiny course: one solution notebook, its generated lesson and its graders."""
    demo_solution(tmp_path)
    make_lessons.main(["--root", str(tmp_path)])
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_l98_demo.py").write_text(GRADERS)
    return tmp_path


def verdict(capsys) -> str:
    return capsys.readouterr().out.strip()


def test_check_passes_a_solution_and_fails_a_wrong_answer(course, capsys):
    namespace = vars(load_notebook(course / "solutions" / "98_demo.ipynb"))
    assert check("98.1", namespace=namespace, tests_dir=course / "tests") is True
    assert verdict(capsys).startswith("✅ Exercise 98.1 passed")

    namespace["double"] = lambda x: x + 2
    assert check("98.1", namespace=namespace, tests_dir=course / "tests") is False
    out = verdict(capsys)
    assert out.startswith("❌ Exercise 98.1 failed: double(3) should be 6, got 5"), out

    def double(x):
        return x["oops"]
    namespace["double"] = double
    assert check("98.1", namespace=namespace, tests_dir=course / "tests") is False
    assert "your code raised TypeError" in verdict(capsys)


def test_check_says_not_solved_on_the_stub(course, capsys):
    namespace = vars(load_notebook(course / "lessons" / "98_demo.ipynb"))
    assert check("98.1", namespace=namespace, tests_dir=course / "tests") is False
    out = verdict(capsys)
    assert out.startswith("⏳ Exercise 98.1 not solved yet") and "NotImplementedError" in out


def test_check_reads_the_callers_globals_and_picks_up_edited_graders(course, capsys):
    namespace = vars(load_notebook(course / "solutions" / "98_demo.ipynb"))
    code = compile(f"result = check('98.1', tests_dir={str(course / 'tests')!r})", "cell", "exec")
    exec(code, namespace)
    assert namespace["result"] is True
    graders = course / "tests" / "test_l98_demo.py"
    graders.write_text(GRADERS.replace("== 6", "== 7"))
    exec(code, namespace)
    assert namespace["result"] is False and "double(3) should be 6" in verdict(capsys)


def test_check_stops_an_infinite_loop(course, capsys):
    namespace = vars(load_notebook(course / "solutions" / "98_demo.ipynb"))
    exec("def slow():\n    n = 0\n    while True:\n        n += 1", namespace)
    start = time.monotonic()
    assert check("98.2", timeout=1, namespace=namespace, tests_dir=course / "tests") is False
    assert time.monotonic() - start < 10
    out = verdict(capsys)
    assert "took longer than 1 s" in out and "infinite loop" in out and "still running" not in out


def test_check_works_inside_a_running_event_loop(course, capsys):
    """As in Jupyter, where the kernel's event loop is running when a cell calls check()."""
    namespace = vars(load_notebook(course / "solutions" / "98_demo.ipynb"))

    async def cell():
        return check("98.1", namespace=namespace, tests_dir=course / "tests")

    assert asyncio.run(cell()) is True


def test_check_explains_bad_names(course, capsys):
    assert check("98.9", namespace={}, tests_dir=course / "tests") is False
    assert "no grader named test_ex98_9_*" in verdict(capsys)
    assert check("97.1", namespace={}, tests_dir=course / "tests") is False
    assert "could not load its grader" in verdict(capsys)
    with pytest.raises(ValueError, match="like '5.1'"):
        check("five", namespace={})


def test_load_notebook_runs_setup_and_exercise_cells_only(course):
    namespace = load_notebook(course / "solutions" / "98_demo.ipynb")
    assert namespace.double(4) == 8 and callable(namespace.check)
    notebook = json.loads((course / "solutions" / "98_demo.ipynb").read_text())
    assert any("the answer is" in "".join(c["source"]) for c in notebook["cells"])  # not executed
