# The course's commands. Each target creates .venv and installs the pinned stack on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup demo tour test lab serve bench clean lessons reset-lesson

$(STAMP): requirements.txt pyproject.toml $(wildcard envs/*/pyproject.toml)
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] in ((3,11),(3,12),(3,13)), "Python 3.11-3.13 needed, found " + sys.version' 
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

setup: $(STAMP) ## install everything into .venv

STORY ?= strong
demo: setup ## the whole story offline: teacher data -> SFT -> RL -> evaluation -> audit (outputs/pipeline); STORY=talk for the talk's arc
	$(PY) -m rlcourse.pipeline --story $(STORY)

tour: setup ## evaluate the scripted stand-in policies on every environment (one minute)
	$(PY) -m rlcourse.tour

test: setup ## run the whole test suite, graders and solution notebooks (quick mode) included
	COURSE_QUICK=1 $(PY) -m pytest -q --durations=30

lessons: setup ## write lessons/ from solutions/ (backs up a lesson you edited first)
	$(PY) tools/make_lessons.py

reset-lesson: setup ## restore one lesson's stub version, e.g. make reset-lesson LESSON=05 (your file is backed up)
	@test -n "$(LESSON)" || (echo "usage: make reset-lesson LESSON=05" && exit 2)
	$(PY) tools/make_lessons.py --reset $(LESSON)

lab: setup ## open the course in JupyterLab
	$(VENV)/bin/jupyter lab

serve: setup ## run the local OpenAI-compatible server on 127.0.0.1:8000
	$(PY) -m rlcourse.server --port 8000

bench: setup ## measure games/s, environment time share, server requests/s, batched vs one-at-a-time generation, an RL step's generation
	$(PY) benchmarks/bench_tictactoe.py
	$(PY) benchmarks/bench_generation.py
	$(PY) benchmarks/bench_rl_sequences.py
	$(PY) benchmarks/bench_rl_generation.py

clean:
	rm -rf $(VENV) outputs .pytest_cache
