# Two set-up commands, both safe to run again:
#   make demo   create .venv, install, run the demo on the built-in synthetic dataset
#   make test   create .venv, install, run the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[train,dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/flower-edge demo --out artifacts/demo

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check flower_edge tests

clean:
	rm -rf $(VENV) build *.egg-info
