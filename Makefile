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

.PHONY: setup book test test-fast unit lint nbval execute lab clean check-site flashcards

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

# Labs under nbval: every cell runs and its asserts must hold; glued values are compared with the
# committed ones within the bands of tests/glue_tolerances.toml (tests/labcheck.py); only cells
# tagged `nbval` (deterministic text) are compared byte for byte. Labs run NBVAL_WORKERS at a time,
# each whole lab on one worker (--dist loadfile).
NBVAL_WORKERS ?= 2
NBVAL := $(PY) -m pytest -q -p no:cacheprovider -p tests.labcheck --nbval-lax \
	--nbval-sanitize-with tests/sanitize.cfg -n $(NBVAL_WORKERS) --dist loadfile
nbval: setup
	$(NBVAL) $(or $(LABS),$(NOTEBOOKS))

test: lint unit nbval book check-site

# Every built page opened in headless Chromium with the network blocked (utils/site/check.py):
# console errors, images, typeset math, unresolved references, internal links and anchors.
# Screenshots of each part's first page and of every lab go to _build/screenshots/ for review.
check-site: setup
	$(PY) -m utils.site.check _build/html --screenshots _build/screenshots

# The chapters' drills as an Anki deck; BOOK_URL is where the built site lives (links on cards).
BOOK_URL ?= file://$(CURDIR)/_build/html
flashcards: setup
	$(PY) -m utils.site.drills flashcards --out _build/flashcards.csv --base-url "$(BOOK_URL)"

# The inner loop: lint, unit tests and only the labs changed since origin/main (or, without that
# remote, since HEAD), or the ones given as LABS="notebooks/a.ipynb ...".
CHANGED_LABS = $(shell base=$$(git merge-base HEAD origin/main 2>/dev/null || echo HEAD); \
	{ git diff --name-only $$base -- notebooks; git ls-files --others --exclude-standard notebooks; } \
	| grep -E '\.ipynb$$' | grep -v '/\.' | sort -u | while read -r f; do [ -f "$$f" ] && echo "$$f"; done)
test-fast: lint unit
	@labs="$(or $(LABS),$(CHANGED_LABS))"; \
	if [ -z "$$labs" ]; then echo "test-fast: no lab changed; give LABS=... to run some"; \
	else echo "test-fast: $$labs"; $(NBVAL) $$labs; fi

# `make execute LABS="notebooks/a.ipynb notebooks/b.ipynb"` re-runs only those labs. Each run holds
# a machine-wide lock, so two labs never execute at once and their recorded cell times stay honest.
LAB_LOCK ?= /tmp/mlsd-execute.lock
execute: setup
	for nb in $(or $(LABS),$(NOTEBOOKS)); do \
	  echo "== $$nb"; \
	  flock $(LAB_LOCK) $(PY) -m jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=900 "$$nb" || exit 1; \
	done

lab: setup
	$(VENV)/bin/jupyter lab

clean:
	rm -rf _build .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
