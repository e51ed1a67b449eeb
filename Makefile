# sanctions-watch: every target runs from ./.venv, which `make install` builds once.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
# The desk shows Urdu: Chromium needs a font with the Urdu letters (ے, ہ, ڈ ...).
URDU_FONT := /usr/share/fonts/truetype/scheherazade/Scheherazade-Regular.ttf

.PHONY: install run test demo bench lint eval eval-extraction clean

install: $(STAMP)

# Rebuilt only when pyproject.toml changes, so `make install` is a no-op when up to date.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/pipeline run

test: install $(CHROMIUM) $(URDU_FONT)
	$(BIN)/pytest -q

# The browser tests drive Debian's Chromium (a test tool's own browser download cannot work here).
$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

$(URDU_FONT):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-sil-scheherazade

demo: install
	$(BIN)/python -m demo

bench: install
	$(BIN)/python -m bench

eval: install
	$(BIN)/python -m pipeline.tools.evaluate

eval-extraction: install
	$(BIN)/python -m pipeline.tools.eval_extraction

lint: install
	$(BIN)/ruff check pipeline storage tests bench demo
	$(BIN)/ruff format --check pipeline storage tests bench demo
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo --no-cache
	$(BIN)/pytest -q -p no:cacheprovider tests/test_layout.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
