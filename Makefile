# dazi — the two set-up commands are `make serve` and `make test`; `make help` lists the rest.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip --disable-pip-version-check -q
LEGACY_VENV := .venv-hf036
MS_LEGACY_VENV := .venv-ms130
HOST ?= 127.0.0.1
PORT ?= 8000
DATA_DIR ?= .dazi

.PHONY: help system-deps serve test i18n i18n-compile screenshots test-sqlite test-postgres install install-dev lint bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(VENV)/.core: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -e .
	touch $@

$(VENV)/.dev: $(VENV)/.core
	$(PIP) install -e '.[ml,ray,dev]'
	touch $@

$(LEGACY_VENV)/.installed:
	test -x $(LEGACY_VENV)/bin/python || $(PYTHON) -m venv $(LEGACY_VENV)
	$(LEGACY_VENV)/bin/pip --disable-pip-version-check -q install 'huggingface_hub==0.36.2'
	touch $@

$(MS_LEGACY_VENV)/.installed:
	test -x $(MS_LEGACY_VENV)/bin/python || $(PYTHON) -m venv $(MS_LEGACY_VENV)
	$(MS_LEGACY_VENV)/bin/pip --disable-pip-version-check -q install 'modelscope[datasets]==1.30.0'
	touch $@

system-deps:  ## git-lfs and chromium from Debian's packages, if missing (the suite drives them)
	scripts/system-deps.sh

install: $(VENV)/.core  ## create .venv and install dazi

install-dev: system-deps $(VENV)/.dev $(LEGACY_VENV)/.installed $(MS_LEGACY_VENV)/.installed  ## install dazi with the ml and dev extras, and the legacy client venvs

serve: $(VENV)/.core  ## start the hub at http://127.0.0.1:8000 (SQLite + local files in ./.dazi)
	$(VENV)/bin/dazi serve --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR)

test: install-dev  ## run the whole suite on SQLite + local files, then on PostgreSQL + S3 (moto)
	DAZI_TEST_BACKEND=sqlite $(PY) -m pytest $(PYTEST_ARGS)
	DAZI_TEST_BACKEND=postgres-s3 $(PY) -m pytest $(PYTEST_ARGS)

test-sqlite: install-dev  ## the suite on SQLite + local files only
	DAZI_TEST_BACKEND=sqlite $(PY) -m pytest $(PYTEST_ARGS)

test-postgres: install-dev  ## the suite on PostgreSQL + S3 (moto) only
	DAZI_TEST_BACKEND=postgres-s3 $(PY) -m pytest $(PYTEST_ARGS)

lint: install-dev  ## ruff, mypy --strict, and the web catalogs (complete and compiled)
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/mypy src/dazi
	$(PY) -m dazi.web.catalogs check

i18n:  ## extract and merge the web catalogs (then translate zh_CN's messages.po and run make i18n-compile)
	$(PY) -m dazi.web.catalogs update

i18n-compile:  ## compile the web catalogs (.po -> .mo; the .mo files are committed)
	$(PY) -m dazi.web.catalogs compile

screenshots: install-dev  ## retake docs/screenshots in headless Chromium
	DAZI_SCREENSHOTS=docs/screenshots $(PY) -m pytest -q tests/web/test_browser.py -k screenshots

bench: install-dev  ## transfer benchmark (1 GiB; see docs/benchmarks.md)
	$(PY) benchmarks/transfer.py

clean:  ## remove the virtual environments and caches (not the data)
	rm -rf $(VENV) $(LEGACY_VENV) $(MS_LEGACY_VENV) .pytest_cache
