# quantrac — `make demo` and `make test` do all set-up themselves (see README).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup demo test lint bench soak audit clean

setup:
	@VENV=$(VENV) bash deploy/bootstrap.sh

demo: setup
	$(VENV)/bin/quantrac demo --out out

test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy collector rules alerts reports simulator quantrac console

bench: setup
	@for b in tests/benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

soak: setup
	$(PY) -m pytest -q -s -m slow tests/reliability/soak.py

# Release check: known vulnerabilities in the installed dependencies (needs PyPI's JSON API
# or api.osv.dev; this development sandbox reaches neither).
audit: setup
	$(VENV)/bin/python -m pip install -q pip-audit
	$(VENV)/bin/pip-audit --skip-editable

clean:
	rm -rf $(VENV) out .quantrac .pytest_cache .mypy_cache .ruff_cache
