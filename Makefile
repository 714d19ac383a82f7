# Quick start: `make run` (install + run on the bundled sample), `make test` (install + tests).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

EVAL_STAMP := $(VENV)/.installed-eval
RAY_STAMP := $(VENV)/.installed-ray

.PHONY: setup eval-setup ray-setup run test bench clean-cache

setup: $(STAMP)

# Optional: the identity model of `main.py eval` (dlib); the tests use it too.
eval-setup: $(EVAL_STAMP)

$(EVAL_STAMP): $(STAMP) requirements-eval.txt
	$(PY) -m pip install --quiet -r requirements-eval.txt
	touch $(EVAL_STAMP)

# Optional: Ray, for `main.py batch --ray ADDRESS`; the tests use it too.
ray-setup: $(RAY_STAMP)

$(RAY_STAMP): $(STAMP) requirements-ray.txt
	$(PY) -m pip install --quiet -r requirements-ray.txt
	touch $(RAY_STAMP)

$(STAMP): requirements.txt scripts/system_packages.sh scripts/fetch_matting_model.py
	./scripts/system_packages.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) scripts/fetch_matting_model.py
	touch $(STAMP)

run: setup
	$(PY) main.py

test: setup eval-setup ray-setup
	$(PY) -m pytest -q tests

bench: setup
	$(PY) main.py bench

clean-cache:
	rm -rf $${XDG_CACHE_HOME:-$$HOME/.cache}/talking-head
