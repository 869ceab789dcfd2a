# One place for the commands a developer, the README and CI run.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup test stories ci docker-test lint typecheck check up clean bench

# Python deps from the lock file, the package in editable mode, the pinned Claude CLI.
setup: $(VENV)/.installed node_modules/.bin/claude

$(VENV)/.installed: requirements-dev.lock pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.9
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements-dev.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

node_modules/.bin/claude: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	node_modules/.bin/claude --version
	touch $@

lint: setup
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench
	$(BIN)/lint-imports

typecheck: setup
	$(BIN)/mypy

# Lint, types, unit, integration and browser tests (real Redis, real Claude CLI, real workers, headless chromium): about 4 minutes.
test: setup lint typecheck
	$(BIN)/pytest -m "not story"

# The slow end-to-end stories: quota walls, SIGKILLs, Redis restarts, chaos, a 200-job batch (about 4 minutes).
# Two processes, not three: several of them assert how fast the fleet recovers.
stories: setup
	$(BIN)/pytest -m story -n 2

# Everything CI runs: the suite, the stories, the guide on a real Docker engine.
ci: test stories docker-test

# The guide's Docker story on a real engine: starts it, builds the image, plays, stops it (about 5 min).
docker-test: setup
	tests/docker/run.sh

# A local fleet: embedded Redis unless REDIS_URL is set, workers, health endpoints.
up: setup
	$(BIN)/claude-workers up

clean:
	rm -rf $(VENV) node_modules .mypy_cache .pytest_cache .ruff_cache

# Every benchmark, each beside its baseline; rewrites docs/benchmarks.md (about 15 minutes).
bench: setup
	$(BIN)/python -m bench.run_all
