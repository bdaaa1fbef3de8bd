# Two commands do all the set-up on a fresh machine:
#   make demo   - a simulated gateway, an embedded broker and the bridge together (no hardware, no broker)
#   make test   - the whole test suite against a real Mosquitto and the simulator
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench bench-smoke broker venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[demo]' --group dev
	touch $@

demo: $(STAMP)
	$(BIN)/pw2mqtt demo

test: $(STAMP) broker
	$(BIN)/pytest

bench: $(STAMP) broker
	$(BIN)/python -m bench

bench-smoke: $(STAMP) broker
	$(BIN)/python -m bench --smoke

broker:  # Mosquitto, for the tests and the benchmark (installed when missing)
	scripts/install-mosquitto.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict pw2mqtt bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
