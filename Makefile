# make demo   — the cookbook's notebook, headless, on the bundled offline benchmark
# make test   — the test suite (sets everything up first)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DATASET ?= bundled
REPOS_DIR ?=
HARNESS ?=
INSTANCES ?=
REPOS ?=

.PHONY: setup docker-engine test demo stop-phoenix bench validate-benchmark prune-images screenshot lint clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

# The agents, pinned in package.json / package-lock.json, installed into the project (not globally).
node_modules/.installed: package.json package-lock.json
	# npm install, not npm ci: the lock lists the other platforms' Cline binaries in a form npm ci rejects
	npm install --no-audit --no-fund --loglevel=error
	touch $@

# A Docker engine for the docker harness: as root, Debian's docker.io (and debootstrap) installed if missing
# and dockerd started if none answers; elsewhere, what to start (Docker Desktop …).
docker-engine:
	bash tools/docker_engine.sh

# The docker tests run for real: the engine first.
test: setup docker-engine
	$(PY) -m pytest

demo: setup
	$(PY) -m cookbook demo

stop-phoenix: setup
	$(PY) -m cookbook stop-phoenix

validate-benchmark: setup $(if $(filter docker,$(HARNESS)),docker-engine)
	$(PY) -m cookbook validate-benchmark --dataset '$(DATASET)' $(if $(REPOS_DIR),--repos-dir $(REPOS_DIR)) $(if $(HARNESS),--harness $(HARNESS)) \
		$(if $(INSTANCES),--instances '$(INSTANCES)') $(if $(REPOS),--repos '$(REPOS)')

bench: setup docker-engine
	$(PY) -m benchmarks.bench_workspaces
	$(PY) -m benchmarks.bench_sandbox
	$(PY) -m benchmarks.bench_harness
	$(PY) -m benchmarks.bench_environments
	$(PY) -m benchmarks.bench_docker_run
	$(PY) -m benchmarks.bench_loop
	$(PY) -m benchmarks.bench_optimizer
	$(PY) -m benchmarks.bench_phoenix
	$(PY) -m benchmarks.bench_rate_limit
	$(PY) -m benchmarks.bench_transcripts

# The project's environment and instance images made more than DAYS days ago (default 30); ALL=1: every image it made.
prune-images: setup
	$(PY) -m cookbook prune-images $(if $(DAYS),--older-than $(DAYS)) $(if $(ALL),--all)

# Headless Chromium screenshots of Phoenix after the demo: the experiments page and the ruleset Prompt's versions.
screenshot: demo
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	$(PY) -m tools.screenshot_experiments

lint: setup
	$(PY) -m ruff check .

clean:
	rm -rf .cookbook
