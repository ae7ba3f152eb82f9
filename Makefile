# The two entry points of the README: `make demo` (set up, run the main job) and `make test` (set up, run the tests).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo adding test bench install clean

$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	$(PY) -m recurrax.native
	touch $@

$(VENV)/.test: $(VENV)/.base
	$(PY) -m pip install -q -e '.[test]'
	touch $@

$(VENV)/.bench: $(VENV)/.test
	$(PY) -m pip install -q -e '.[bench]'
	touch $@

install: $(VENV)/.base

demo: $(VENV)/.base
	$(VENV)/bin/recurrax lm fit --config configs/lm_quickstart.toml

adding: $(VENV)/.base
	$(PY) -m recurrax.demos.adding --out runs/adding

test: $(VENV)/.test
	$(PY) -m pytest -n 2 --dist loadfile -q

bench: $(VENV)/.bench
	$(PY) benchmarks/lstm_speed.py

clean:
	rm -rf $(VENV) runs
