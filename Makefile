# Two commands for people: `make run` and `make test`. Everything they need is installed here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstall whenever the dependency list changes.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock requirements-dev.lock | cksum | cut -d' ' -f1)
UV_VERSION := 0.13.8
APT_INSTALL := DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends

.PHONY: run test suite bench lint format install redis-server help

help:
	@echo "make run    start the local stack (Redis, Email Security simulator or API, bot)"
	@echo "make test   lint, type-check and run the test suite"
	@echo "make bench  run the benchmarks (bench/README.md); results in bench/results/"

$(STAMP): pyproject.toml requirements.lock requirements-dev.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	  || { echo "Python 3.11 or newer is needed (found $$($(PYTHON) --version))"; exit 1; }
	@if ! $(PYTHON) -m venv $(VENV) 2>/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && $(APT_INSTALL) python3-venv && $(PYTHON) -m venv $(VENV); \
	  else echo "python3 -m venv failed: install Debian's python3-venv (sudo apt-get install python3-venv)"; exit 1; fi; \
	fi
	@# The runtime packages exactly as the image has them (same lock, same hashes), the
	@# development tools (their lock, held to the same versions), then the bot itself
	@# (editable). uv installs the same files pip would, in about half the time: it fetches,
	@# unpacks and compiles them in parallel (scripts/lock.sh writes both locks with it too).
	$(BIN)/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip install --quiet --python $(BIN)/python --require-hashes --no-deps \
	  --compile-bytecode -r requirements.lock -r requirements-dev.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
	$(BIN)/uv pip check --quiet --python $(BIN)/python
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

# Debian's redis-server, installed with apt-get when it is missing and we are root.
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's redis-server"; \
	    apt-get update -qq && $(APT_INSTALL) redis-server >/dev/null; \
	  else echo "redis-server is not installed (not root, so not installing it): sudo apt-get install redis-server"; fi; }

run: install redis-server
	$(BIN)/python -m bot local

# Benchmarks (issue #6): never part of `make test`. BENCH_ARGS=--quick for a shorter run.
bench: install redis-server
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The linters run beside the suite (they take seconds; the suite waits on pacing as much as on
# the CPU). Five pytest-xdist workers, each with its own Redis, simulator, stand-in and bots.
test: install redis-server
	@command -v redis-server >/dev/null 2>&1 || { echo "the tests need redis-server"; exit 1; }
	@$(MAKE) --no-print-directory -j2 lint suite

# Bytecode first: where PYTHONDONTWRITEBYTECODE is set (as on this project's CI machines), each
# of the suite's few hundred processes would otherwise compile the bot again (0.6 s of CPU each),
# and each xdist worker would rewrite every test module's asserts again (5 s of CPU each): one
# collection writes pytest's rewritten modules once, and the workers read them.
suite: install
	@$(BIN)/python -m compileall -q bot blocks handlers tests >/dev/null
	@PYTHONDONTWRITEBYTECODE= $(BIN)/pytest --collect-only -q >/dev/null
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -n 8 --dist worksteal
