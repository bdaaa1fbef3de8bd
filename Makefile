# Two commands do all the set-up on a fresh machine:
#   make demo   - a simulated gateway, an embedded broker and the bridge together (no hardware, no broker)
#   make test   - the whole test suite against a real Mosquitto and the simulator
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench bench-smoke venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[demo]' --group dev
	touch $@

demo: $(STAMP)
	$(BIN)/pw2mqtt demo

test: $(STAMP)
	@command -v mosquitto >/dev/null 2>&1 || scripts/install-mosquitto.sh
	$(BIN)/pytest

bench: $(STAMP)
	@command -v mosquitto >/dev/null 2>&1 || scripts/install-mosquitto.sh
	$(BIN)/python -m bench

bench-smoke: $(STAMP)
	@command -v mosquitto >/dev/null 2>&1 || scripts/install-mosquitto.sh
	$(BIN)/python -m bench --smoke

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict pw2mqtt bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
