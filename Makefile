# Quick start: `make run` (install + run on the bundled sample), `make test` (install + tests).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run test bench clean-cache

setup: $(STAMP)

$(STAMP): requirements.txt scripts/system_packages.sh
	./scripts/system_packages.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

run: setup
	$(PY) main.py

test: setup
	$(PY) -m pytest -q tests

bench: setup
	$(PY) main.py bench

clean-cache:
	rm -rf $${XDG_CACHE_HOME:-$$HOME/.cache}/talking-head
