# Two commands for a newcomer: `make run` and `make test`. Each installs what is missing first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test lint format bench package install browser web-libs clean

$(INSTALLED): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(INSTALLED)

# Browser libraries come from npm (package-lock.json pins them) and are copied into addin/vendor/, so the
# devstack serves them and packaging ships them with the rest of addin/.
NODE_MODULES := node_modules/.package-lock.json
WEB_LIBS := chart.js/dist/chart.umd.min.js \
	@azure/msal-browser/lib/msal-browser.min.js \
	@azure/msal-browser/lib/redirect-bridge/msal-redirect-bridge.min.js

$(NODE_MODULES): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	  echo "installing Node.js and npm from Debian's packages"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq nodejs npm >/dev/null; fi; }
	npm ci --no-audit --no-fund --loglevel=error

web-libs: $(NODE_MODULES)
	@mkdir -p addin/vendor
	@for lib in $(WEB_LIBS); do cp node_modules/$$lib addin/vendor/; done

# Browser tests drive Debian's Chromium through Playwright; no browser download is needed.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Chromium from Debian's packages for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }

run: $(INSTALLED) web-libs
	$(BIN)/matterline devstack

# pytest exits 5 when it collected no test: treat that as a failure, never as a pass.
test: $(INSTALLED) browser web-libs
	@$(BIN)/pytest $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: no test ran"; exit 1; fi; exit $$status

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy chalicelib lambdas devstack app.py

format: $(INSTALLED)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(INSTALLED)
	@for script in tests/bench/bench_*.py; do $(BIN)/python $$script || exit 1; done

# Chalice packages app.py, chalicelib/ and vendor/; the workers in lambdas/, the templates and the state
# machine definitions are added here, so the deploy template finds them next to deployment.zip.
package: $(INSTALLED) web-libs
	rm -rf build && mkdir -p build
	@# Chalice vendors the runtime dependencies listed in requirements.txt (itself excluded: it ships its own).
	$(BIN)/python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; \
	  print('\n'.join(d for d in deps if not d.startswith('chalice')))" > requirements.txt
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(BIN)/chalice package --stage prod \
	  --merge-template infra/template.yaml build/
	cd build && $(abspath $(BIN))/python -m zipfile -e deployment.zip _code && rm deployment.zip
	cp -r lambdas templates build/_code/
	cd build/_code && find . -name '__pycache__' -prune -exec rm -rf {} + && $(abspath $(BIN))/python -m zipfile -c ../deployment.zip .
	rm -rf build/_code && cp -r infra/statemachines build/statemachines
	@echo "package: build/sam.yaml, build/deployment.zip, build/statemachines/"

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
