"""Write lessons/ from solutions/: answers become stubs, outputs are cleared.

    python tools/make_lessons.py            # (re)generate every lesson       (make lessons)
    python tools/make_lessons.py --check    # exit 1 if lessons/ is out of date
    python tools/make_lessons.py --reset 05 # back up lesson 05 and restore its stub (make reset-lesson LESSON=05)

Rules (see the grading convention):
* code cells tagged ``exercise`` (and ``exN_K``): every block from a ``### BEGIN SOLUTION`` line to a
  ``### END SOLUTION`` line becomes ``raise NotImplementedError("Exercise N.K")`` at the marker's
  indentation;
* cells tagged ``solution-only`` are dropped;
* outputs and execution counts are cleared; cell metadata keeps only ``tags``; notebook metadata is a
  fixed minimal set, so the output depends on the solutions' sources only (deterministic).

A learner's work is never lost: each generated lesson records, in its metadata, a hash of what was
generated. A lesson whose cells differ from that record (edited, or run so that it has outputs) is
copied to ``lessons/backups/<name>.<timestamp>.ipynb`` before it is overwritten.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
BEGIN_RE = re.compile(r"^(\s*)### BEGIN SOLUTION\s*$")
END_RE = re.compile(r"^\s*### END SOLUTION\s*$")
EXERCISE_TAG_RE = re.compile(r"^ex(\d+)_(\d+)$")
NOTEBOOK_METADATA = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


class LessonError(ValueError):
    """A solution notebook breaks the convention (markers, tags)."""


def stub_source(source: str, exercise: str, where: str) -> str:
    """Replace each BEGIN/END SOLUTION block of ``source`` with a NotImplementedError line."""
    out: list[str] = []
    inside = False
    blocks = 0
    for number, line in enumerate(source.splitlines(), 1):
        begin = BEGIN_RE.match(line)
        if begin:
            if inside:
                raise LessonError(f"{where}: line {number}: BEGIN SOLUTION inside another solution block")
            inside, blocks = True, blocks + 1
            out.append(f'{begin.group(1)}raise NotImplementedError("Exercise {exercise}")')
        elif END_RE.match(line):
            if not inside:
                raise LessonError(f"{where}: line {number}: END SOLUTION without a BEGIN SOLUTION")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise LessonError(f"{where}: BEGIN SOLUTION is never closed by END SOLUTION")
    if blocks == 0:
        raise LessonError(f"{where}: an exercise cell needs a ### BEGIN SOLUTION / ### END SOLUTION block")
    return "\n".join(out)


def exercise_of(tags: list[str], where: str) -> str:
    found = [m for m in (EXERCISE_TAG_RE.match(t) for t in tags) if m]
    if len(found) != 1:
        raise LessonError(f"{where}: an exercise cell needs exactly one exN_K tag, found tags {tags}")
    return f"{int(found[0].group(1))}.{int(found[0].group(2))}"


def content_hash(notebook) -> str:
    """A hash of what a learner can change: cell types, sources and outputs."""
    cells = [{"type": c.cell_type, "source": c.source, "outputs": c.get("outputs", [])} for c in notebook.cells]
    return hashlib.sha256(json.dumps(cells, sort_keys=True).encode()).hexdigest()[:16]


def make_lesson(solution_path: Path) -> str:
    """The lesson notebook generated from a solution notebook, as the text to write."""
    solution = nbformat.read(str(solution_path), as_version=4)
    # nbformat invents random ids for cells that have none; take ids from the file itself, so the
    # output is the same on every run.
    raw_ids = [c.get("id") for c in json.loads(solution_path.read_text(encoding="utf-8")).get("cells", [])]
    lesson = nbformat.v4.new_notebook()
    lesson.metadata = json.loads(json.dumps(NOTEBOOK_METADATA))
    for index, cell in enumerate(solution.cells):
        tags = list(cell.get("metadata", {}).get("tags", []))
        where = f"{solution_path.name} cell {index}"
        if "solution-only" in tags:
            continue
        source = cell.source
        has_marker = any(BEGIN_RE.match(l) or END_RE.match(l) for l in source.splitlines())
        if "exercise" in tags:
            if cell.cell_type != "code":
                raise LessonError(f"{where}: only code cells can be tagged exercise")
            source = stub_source(source, exercise_of(tags, where), where)
        elif has_marker:
            raise LessonError(f"{where}: solution markers in a cell not tagged 'exercise'")
        elif any(EXERCISE_TAG_RE.match(t) for t in tags):
            raise LessonError(f"{where}: tagged {tags} but not 'exercise'")
        metadata = {"tags": tags} if tags else {}
        cell_id = (raw_ids[index] if index < len(raw_ids) else None) or f"cell-{index}"
        if cell.cell_type == "code":
            new = nbformat.v4.new_code_cell(source, metadata=metadata)
        elif cell.cell_type == "markdown":
            new = nbformat.v4.new_markdown_cell(source, metadata=metadata)
            if cell.get("attachments"):
                new.attachments = cell.attachments
        else:
            new = nbformat.v4.new_raw_cell(source, metadata=metadata)
        new.id = cell_id
        lesson.cells.append(new)
    lesson.metadata["rlcourse"] = {
        "generated_from": f"solutions/{solution_path.name}",
        "note": "Generated by `make lessons`; your edits are backed up to lessons/backups/ before it overwrites them.",
        "generated_hash": content_hash(lesson),
    }
    nbformat.validate(lesson)
    return nbformat.writes(lesson) + "\n"


def is_pristine(path: Path) -> bool:
    """True if the lesson at ``path`` is exactly as some run of this script wrote it (no learner work)."""
    try:
        notebook = nbformat.read(str(path), as_version=4)
    except Exception:
        return False
    recorded = notebook.metadata.get("rlcourse", {}).get("generated_hash")
    return recorded is not None and recorded == content_hash(notebook)


def backup(path: Path, backups: Path) -> Path:
    backups.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = backups / f"{path.stem}.{stamp}{path.suffix}"
    n = 1
    while target.exists():
        target = backups / f"{path.stem}.{stamp}-{n}{path.suffix}"
        n += 1
    shutil.copy2(path, target)
    return target


def write_lesson(solution_path: Path, lessons: Path, force_backup: bool = False, say=print) -> str:
    """Write one lesson; back up the existing file first if it holds learner work. Returns what happened."""
    text = make_lesson(solution_path)
    target = lessons / solution_path.name
    if target.exists():
        current = target.read_text(encoding="utf-8")
        if current == text and not force_backup:
            return "unchanged"
        if current != text and (force_backup or not is_pristine(target)):
            saved = backup(target, lessons / "backups")
            say(f"backed up your {target.relative_to(lessons.parent)} to {saved.relative_to(lessons.parent)}")
    lessons.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return "written"


def out_of_date(solutions: Path, lessons: Path) -> list[str]:
    problems = []
    names = set()
    for solution_path in sorted(solutions.glob("*.ipynb")):
        names.add(solution_path.name)
        target = lessons / solution_path.name
        if not target.exists():
            problems.append(f"lessons/{solution_path.name} is missing")
        elif target.read_text(encoding="utf-8") != make_lesson(solution_path):
            problems.append(f"lessons/{solution_path.name} differs from what solutions/{solution_path.name} generates")
    for lesson_path in sorted(lessons.glob("*.ipynb")):
        if lesson_path.name not in names:
            problems.append(f"lessons/{lesson_path.name} has no solutions/{lesson_path.name}")
    return problems


def find_lesson(solutions: Path, lesson: str) -> Path:
    key = lesson.strip().removesuffix(".ipynb")
    if key.isdigit():
        key = f"{int(key):02d}"
    found = sorted(p for p in solutions.glob("*.ipynb") if p.stem == key or p.stem.startswith(f"{key}_"))
    if len(found) != 1:
        names = ", ".join(p.stem for p in sorted(solutions.glob("*.ipynb")))
        raise SystemExit(f"no single lesson matches {lesson!r}; lessons: {names}")
    return found[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if lessons/ is out of date; write nothing")
    parser.add_argument("--reset", metavar="LESSON", help="back up one lesson (e.g. 05) and restore its stub version")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    solutions, lessons = args.root / "solutions", args.root / "lessons"
    try:
        if args.check:
            problems = out_of_date(solutions, lessons)
            for problem in problems:
                print(problem)
            if problems:
                print("run `make lessons` to regenerate lessons/ from solutions/")
                return 1
            print(f"lessons/ is up to date ({len(list(solutions.glob('*.ipynb')))} notebooks)")
            return 0
        if args.reset:
            solution_path = find_lesson(solutions, args.reset)
            write_lesson(solution_path, lessons, force_backup=True)
            print(f"restored lessons/{solution_path.name} to its stub version")
            return 0
        counts = {"written": 0, "unchanged": 0}
        for solution_path in sorted(solutions.glob("*.ipynb")):
            counts[write_lesson(solution_path, lessons)] += 1
        for lesson_path in sorted(lessons.glob("*.ipynb")):
            if not (solutions / lesson_path.name).exists():
                print(f"note: lessons/{lesson_path.name} has no solution; left as it is")
        print(f"lessons/: {counts['written']} written, {counts['unchanged']} unchanged")
        return 0
    except LessonError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
