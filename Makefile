# Two commands do all the set-up on a fresh machine:
#   make demo   - a simulated gateway, an embedded broker and the bridge together (no hardware, no broker)
#   make test   - the whole test suite against a real Mosquitto and the simulator (a test whose
#                 integration rig is not installed skips, naming the target below that installs it)
#   make test-integration - installs the rigs (pinned, cached in ~/.cache/pw2mqtt-rigs) and
#                 runs their tests: test-ha (Home Assistant), test-nodered (Node-RED), test-container
#                 (podman), test-cluster (PostgreSQL)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-integration test-ha test-nodered test-container test-cluster lint bench bench-smoke \
        broker venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[demo]' --group dev
	touch $@

demo: $(STAMP)
	$(BIN)/pw2mqtt demo

# Three workers, each taking whole test files: most tests wait on timers, not the CPU.
test: $(STAMP) broker
	$(BIN)/pytest -n 3 --dist loadfile

# The tests of one rig: those that ask `tests.rigs.missing("RIG")` (wherever they are in tests/).
rig_tests = $(or $(shell grep -rlF --include='*.py' 'rigs.missing("$(1)")' tests),$(error no test uses the $(1) rig))

test-integration: test-ha test-nodered test-container test-cluster

test-ha: $(STAMP)  # Home Assistant in a cached venv (needs CPython 3.13), and Mosquitto
	scripts/install-ha.sh
	$(BIN)/pytest $(call rig_tests,ha)

test-nodered: $(STAMP)  # node-red from npm in the cache (and Node.js from Debian if missing)
	scripts/install-nodered.sh
	$(BIN)/pytest $(call rig_tests,nodered)

test-container: $(STAMP) broker  # podman, buildah, runc and debootstrap from Debian
	scripts/install-podman.sh
	$(BIN)/pytest $(call rig_tests,container)

test-cluster: $(STAMP)  # PostgreSQL from Debian; each test starts a server of its own in /tmp
	scripts/install-postgres.sh
	$(BIN)/pytest tests/cluster

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
