# The two commands a new user runs: `make demo` and `make test`. Both install first.
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint clean

install: $(STAMP)

$(STAMP): pyproject.toml tools/install-system-packages.sh tests/oidcprovider/package-lock.json
	bash tools/install-system-packages.sh
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	bash tests/oidcprovider/install.sh
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
