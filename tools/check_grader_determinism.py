"""Run the graders several times under different global seeds and compare their verdicts.

Every grader (tests/lessons: solution passes, stub fails; tests/test_wrong_answers.py: the wrong answers
fail, the correct alternatives pass) must give the same verdict whatever the state of Python's, NumPy's
and torch's global generators and whatever the string-hash seed. Each run sets COURSE_TEST_SEED (see
tests/conftest.py) and PYTHONHASHSEED to a different value; the tool prints each run's counts and the
tests whose outcome changed, and exits 1 if any did.

    python tools/check_grader_determinism.py --runs 5

About 1.5 minutes per run on a 2-core machine.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GRADERS = ["tests/lessons", "tests/test_wrong_answers.py"]


def outcomes(junit_xml: Path) -> dict[str, str]:
    """{test id: passed | failed | error | skipped} from a pytest JUnit report (xfail counts as skipped)."""
    result = {}
    for case in ET.parse(junit_xml).getroot().iter("testcase"):
        kind = next((child.tag for child in case if child.tag in ("failure", "error", "skipped")), "passed")
        result[f"{case.get('classname')}::{case.get('name')}"] = {"failure": "failed"}.get(kind, kind)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(1, args.runs + 1):
            report = Path(tmp) / f"run{seed}.xml"
            env = dict(os.environ, COURSE_TEST_SEED=str(seed * 7919), PYTHONHASHSEED=str(seed), COURSE_QUICK="1")
            subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
                            *GRADERS], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, check=False)
            runs.append(outcomes(report))
            print(f"run {seed} (COURSE_TEST_SEED={seed * 7919}, PYTHONHASHSEED={seed}):",
                  dict(sorted(Counter(runs[-1].values()).items())), flush=True)
    changed = sorted(test for test in set().union(*runs) if len({run.get(test) for run in runs}) > 1)
    for test in changed:
        print("verdict changed:", test, [run.get(test) for run in runs])
    print(f"{len(runs[0])} grader tests, {len(changed)} with a verdict that changed between runs")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
