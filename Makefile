# The two set-up commands (see README.md): `make demo` and `make test`.
# Each creates .venv with Python 3.12 and installs bayescale into it when missing.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

# python3.12 from PATH, or from pyenv when its shim is not active.
PYTHON312 ?= $(shell for p in python3.12 "$$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python3.12 \
	/usr/local/bin/python3.12 /usr/bin/python3.12; do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1 \
	&& { echo "$$p"; break; }; done)

.PHONY: demo test lint docs bench clean-venv

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON312)" ]; then echo "error: Python 3.12 not found (set PYTHON312=/path/to/python3.12)"; exit 1; fi
	@test -x $(PY) || $(PYTHON312) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/bayescale demo --out-dir demo_output

test: $(STAMP)
	$(PY) -m pytest -q -ra

DOCS_STAMP := $(VENV)/.docs-stamp

$(DOCS_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install --quiet -e ".[dev,docs]"
	@touch $(DOCS_STAMP)

# The documentation site (Sphinx, PyData theme): user guide (docs/*.md), API reference and
# the example gallery (examples/*.py, executed by sphinx-gallery; only changed scripts are
# re-run on a rebuild), warnings as errors. Output: docs/_build/html/index.html.
# SPHINXOPTS="-D plot_gallery=0" builds it without running the examples.
SPHINXOPTS ?=
docs: $(DOCS_STAMP)
	$(VENV)/bin/sphinx-build -W --keep-going -q -b html $(SPHINXOPTS) docs docs/_build/html

lint: $(STAMP)
	$(VENV)/bin/ruff check bayescale tests examples benchmarks
	$(VENV)/bin/ruff format --check bayescale tests examples benchmarks
	$(VENV)/bin/mypy bayescale

clean-venv:
	rm -rf $(VENV)
