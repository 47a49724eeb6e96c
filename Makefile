# Set-up is two commands on a fresh machine with Python 3.11+: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-all test lint bench bench-quick venv clean messages browser

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/supervisor-tui demo $(DEMO_ARGS)

# Zendesk, Freshdesk, Jira Service Management and ServiceNow (all fakes) on one board.
demo-all: $(STAMP)
	$(BIN)/supervisor-tui demo --all-backends $(DEMO_ARGS)

test: $(STAMP) browser
	$(BIN)/pytest -q -p no:cacheprovider

# tests/test_web.py drives Debian's headless Chromium and its driver (never a browser build
# fetched by a library); CI runs as root on a fresh Debian machine.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver; }

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

# Gather the strings to translate from the source and merge them into each catalog; then
# translate what is new (docs/glossary.md has the words). `tests/test_i18n.py` fails until then.
LOCALES := src/supervisor_tui/locale
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k pgettext:1c,2 -c TRANSLATORS: \
		--no-location --sort-output -o $(LOCALES)/supervisor_tui.pot .
	for lang in vi zh ja uk; do \
		$(BIN)/pybabel update --no-fuzzy-matching -i $(LOCALES)/supervisor_tui.pot \
			-d $(LOCALES) -D supervisor_tui -l $$lang; done
	rm $(LOCALES)/supervisor_tui.pot

# The issue's floor (10,000 agents): aim under 20 min on 2 cores. Quick: a tenth, same code.
bench: $(STAMP)
	$(BIN)/python -m benchmarks

bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks --quick

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
