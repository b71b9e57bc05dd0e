# make demo : the embedded demo end to end (figures/fig3.pdf), offline, on CPU or GPU
# make test : the test suite
# make benchmark : the training-step benchmark on this machine (BENCHMARKS.md)
# All create .venv from requirements.txt when it is missing.
PYTHON ?= python3
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
CORES ?= 2

.PHONY: demo test dryrun lint benchmark clean-demo

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt 2>&1 | grep -v "^WARNING: Location" || true
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . 2>&1 | grep -v "^WARNING: Location" || true
	$(VENV)/bin/python -c "import torch, torchvision, snakemake, sparserobust"
	touch $@

demo: $(VENV)/.installed
	snakemake --cores $(CORES) --configfile=config/demo.yaml -- all

test: $(VENV)/.installed
	$(VENV)/bin/python -m pytest -q tests

dryrun: $(VENV)/.installed
	snakemake -n --cores all figures/fig3.pdf

benchmark: $(VENV)/.installed  # engine vs plain loop on this machine; see BENCHMARKS.md
	$(VENV)/bin/python scripts/benchmark.py

lint: $(VENV)/.installed
	snakemake --lint

clean-demo:
	rm -rf results/demo figures/*.pdf
