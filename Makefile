# Two commands do everything: `make book` and `make test` (see README.md).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
JB := $(VENV)/bin/jupyter-book
NOTEBOOKS := $(shell find notebooks -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' | sort)
# Labs set their own thread counts where a result depends on them; keep the env honest.
export PYTHONHASHSEED := 0
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1
# Idle OpenMP threads sleep instead of spinning: on a busy 2-core machine spinning threads of
# torch/LightGBM slow each other down many times over. Results do not depend on it.
export OMP_WAIT_POLICY := PASSIVE

.PHONY: setup book test test-lax unit lint nbval execute lab clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

book: setup
	$(JB) build . -n -W --keep-going

lint: setup
	$(PY) -m ruff check utils tests
	$(PY) -m ruff format --check utils tests

unit: setup
	$(PY) -m pytest tests -q

nbval: setup
	$(PY) -m pytest -q -p no:cacheprovider --nbval --nbval-sanitize-with tests/sanitize.cfg $(NOTEBOOKS)

test: lint unit nbval book

test-lax: setup
	$(PY) -m ruff check utils tests
	$(PY) -m pytest tests -q
	$(PY) -m pytest -q -p no:cacheprovider --nbval-lax $(NOTEBOOKS)
	$(JB) build . -n -W --keep-going

execute: setup
	for nb in $(NOTEBOOKS); do \
	  echo "== $$nb"; \
	  $(PY) -m jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=900 "$$nb" || exit 1; \
	done

lab: setup
	$(VENV)/bin/jupyter lab

clean:
	rm -rf _build .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
