# cf-events: `make run` serves the embedded default with demo data; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat setup.cfg setup.py | cksum | cut -d' ' -f1)

.DEFAULT_GOAL := help
.PHONY: help install system-packages run test bench lint db-upgrade clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): setup.cfg setup.py | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q -e '.[test]' && touch $@

# The real scalingo npm client the suite drives (tests/js); npm ci installs exactly the lock file.
JS_CLIENTS := tests/js/node_modules/.package-lock.json

$(JS_CLIENTS): tests/js/package.json tests/js/package-lock.json
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix tests/js --no-audit --no-fund --loglevel=error

install: $(STAMP) ## Create the virtualenv and install the package with its test tools

# What the suite runs besides Python and Node: PostgreSQL's server binaries, nginx, and Chromium (the console's
# browser tests drive it headless with playwright-core, which downloads no browser), from Debian's packages,
# installed when missing (as root, as CI runs). A missing one fails the suite, never skips it.
system-packages: ## Install the Debian packages the suite needs (postgresql, nginx, chromium) when they are missing
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || missing="$$missing postgresql"; \
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium fonts-dejavu-core"; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

run: install ## Serve on http://127.0.0.1:8080 (PORT overrides) with SQLite and demo data
	$(BIN)/python -m app.ops.embedded

test: install system-packages $(JS_CLIENTS) ## Run the whole suite on PostgreSQL (a throwaway cluster, or TEST_DATABASE_URL) and SQLite
	$(BIN)/python -m pytest

# Issues 21 and 22: every shape at 1 M and at 10 M stored in one run, with the ratios (BENCH_ARGS="--scale 1m"
# or "--scale 10m" measures one size alone).
BENCH_ARGS ?= --scale 1m,10m

bench: install ## Benchmark at 1 M and 10 M events in one run (BENCH_ARGS overrides), writing bench/RESULTS.md
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: install ## Lint the code with ruff
	$(BIN)/ruff check app tests migrations bench wsgi.py

db-upgrade: install ## Apply the migrations to DATABASE_URL (default: the embedded SQLite file)
	$(BIN)/flask --app wsgi db upgrade

clean: ## Remove the virtualenv and the embedded database
	rm -rf $(VENV) instance
