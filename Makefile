# The two commands a new user runs: `make demo` and `make test`. Both install first.
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint clean catalogues

install: $(STAMP)

$(STAMP): pyproject.toml tools/install-system-packages.sh tools/npm-ci.sh tests/oidcprovider/package-lock.json tests/axe/package-lock.json
	bash tools/install-system-packages.sh
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	bash tools/npm-ci.sh tests/oidcprovider tests/axe
	touch $(STAMP)

demo: install
	$(VENV)/bin/diplomatie demo

test: install
	$(VENV)/bin/ruff check pipeline gate tests bench
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check pipeline gate tests bench

clean:
	rm -rf $(VENV) site var .pytest_cache

# The message catalogues of the gate (domain gate) and of the command line (domain pipeline): extract
# every marked string, then merge it into the French and English catalogues (translate what is new or
# fuzzy; tests/test_i18n.py and tests/test_cli_i18n.py fail until each is done).
catalogues: install
	$(VENV)/bin/pybabel extract -F gate/babel.cfg -o gate/locales/gate.pot --no-location --sort-output \
		--project Diplomatie --omit-header gate
	$(VENV)/bin/pybabel update -i gate/locales/gate.pot -d gate/locales -D gate --width 110 --ignore-obsolete --ignore-pot-creation-date
	$(VENV)/bin/pybabel extract -F pipeline/babel.cfg -o pipeline/locales/pipeline.pot --no-location --sort-output \
		--project Diplomatie --omit-header pipeline
	$(VENV)/bin/pybabel update -i pipeline/locales/pipeline.pot -d pipeline/locales -D pipeline --width 110 --ignore-obsolete --ignore-pot-creation-date
