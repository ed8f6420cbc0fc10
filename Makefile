# Two commands on a fresh machine: `make demo` and `make test`. Everything else is a step of those.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO   ?= .demo

.PHONY: install lint format test promptfoo phoenix phoenix-up phoenix-down demo sample-data docs bench mutate clean stack-deps stack-up stack-down ray-up ray-down bench-scale

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("curate needs Python >= 3.11, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,scale]'
	@touch $@

lint: install
	$(BIN)/ruff check curate tests bench scripts
	$(BIN)/ruff format --check curate tests bench scripts

format: install
	$(BIN)/ruff check --fix curate tests bench scripts
	$(BIN)/ruff format curate tests bench scripts

# The integration tests talk to a real local Argilla stack: started here, stopped after.
STACK_WS ?= .test-stack/.curate

test: lint stack-up ray-up promptfoo phoenix-up
	$(BIN)/pytest -q; status=$$?; \
	$(BIN)/curate --workspace $(STACK_WS) argilla down > /dev/null; \
	scripts/ray_cluster.sh down; scripts/phoenix.sh down; exit $$status

# The promptfoo CLI (npm), pinned, for the test that runs an export's eval suite. 0.121.x is the
# last line that runs on Node 20 (0.122 needs Node >= 22.22).
PROMPTFOO_VERSION ?= 0.121.20
PROMPTFOO := .tools/promptfoo-$(PROMPTFOO_VERSION)/node_modules/.bin/promptfoo

promptfoo: $(PROMPTFOO)

$(PROMPTFOO):
	@command -v npm > /dev/null || { echo "install Node.js (20.20+) and npm: the eval suite's test runs promptfoo" >&2; exit 1; }
	npm install --prefix .tools/promptfoo-$(PROMPTFOO_VERSION) --no-audit --no-fund --loglevel=error promptfoo@$(PROMPTFOO_VERSION)
	@touch $@

# A local Phoenix server (SQLite in a temporary folder, 127.0.0.1:6016) for `curate pull`'s
# tests, in a virtualenv of its own: Phoenix's dependencies are not curate's.
PHOENIX_VERSION ?= 20.26.1
PHOENIX := .tools/phoenix-$(PHOENIX_VERSION)/bin/phoenix

phoenix: $(PHOENIX)

$(PHOENIX):
	$(PYTHON) -m venv .tools/phoenix-$(PHOENIX_VERSION)
	.tools/phoenix-$(PHOENIX_VERSION)/bin/python -m pip install --quiet --upgrade pip
	.tools/phoenix-$(PHOENIX_VERSION)/bin/python -m pip install --quiet arize-phoenix==$(PHOENIX_VERSION)
	@touch $@

phoenix-up: phoenix
	PHOENIX_VERSION=$(PHOENIX_VERSION) scripts/phoenix.sh up

phoenix-down:
	scripts/phoenix.sh down

# A local Ray cluster (head + worker on 127.0.0.1:6390) for the daft engine's tests.
ray-up: install
	scripts/ray_cluster.sh up

ray-down: install
	scripts/ray_cluster.sh down

# From Debian: redis-server (the stack needs it), chromium and its driver (the browser test).
STACK_APT := redis-server chromium chromium-driver
stack-deps:
	@missing=""; for p in redis-server chromium chromedriver; do command -v $$p > /dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $(STACK_APT) > /dev/null; \
		else echo "install: sudo apt-get install $(STACK_APT)" >&2; exit 1; fi; fi

stack-up: install stack-deps
	$(BIN)/curate init .test-stack > /dev/null
	$(BIN)/curate --workspace $(STACK_WS) argilla up

stack-down: install
	$(BIN)/curate --workspace $(STACK_WS) argilla down

# Regenerate the bundled sample logs (seeded: the same files every time).
sample-data: install
	$(BIN)/python scripts/make_sample_data.py sample_data

# The main job on the bundled sample data: `curate run` with the local Argilla stack, in a
# throwaway workspace under $(DEMO)/ (sample_data/curate.toml lists the sources).
CURATE_DEMO = $(BIN)/curate --workspace $(DEMO)/.curate --config sample_data/curate.toml

demo: install stack-deps
	@if [ -d $(DEMO)/.curate ]; then $(CURATE_DEMO) argilla down > /dev/null 2>&1 || true; fi
	rm -rf $(DEMO)
	$(CURATE_DEMO) argilla up
	$(CURATE_DEMO) run
	$(CURATE_DEMO) report --html $(DEMO)/report.html
	@echo
	@COLUMNS=200 $(CURATE_DEMO) argilla status | tail -1
	@echo "After labelling, one command pulls the answers and writes the training set:"
	@echo "    $(CURATE_DEMO) run"
	@echo "The report: $(DEMO)/report.html.  Stop Argilla: $(CURATE_DEMO) argilla down"

docs: install
	$(BIN)/python scripts/config_reference.py

# Mutation testing of the modules people decide from (README, "Tests that catch a wrong number").
# Not part of `make test`: about 20 minutes on 2 cores. GROUPS="compare triage" runs some.
mutate: install
	$(BIN)/python -m pip install --quiet 'mutmut==3.8.1'
	$(BIN)/python scripts/mutate.py $(GROUPS)

bench: install phoenix-up
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/small_files.py
	$(BIN)/python bench/tables.py
	$(BIN)/python bench/detect.py
	$(BIN)/python bench/cluster.py
	$(BIN)/python bench/redact.py
	$(BIN)/python bench/pull.py; status=$$?; scripts/phoenix.sh down; exit $$status

# 5M records (3.2 GB of logs, generated once): local engine, Daft, Daft on a local Ray cluster
bench-scale: install
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/detect_memory.py

clean:
	rm -rf $(VENV) $(DEMO) .test-stack .pytest_cache .ruff_cache .tools
