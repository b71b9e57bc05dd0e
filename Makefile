# make demo : the embedded demo end to end (every figures/demo/*.pdf and the tickets' export), offline, on CPU or GPU
# make test : the test suite
# make lint : snakemake --lint, snakefmt --check and ruff check (CI runs it too)
# make benchmark : the training-step benchmark on this machine (BENCHMARKS.md)
# make paper-smoke : the paper config's real path (ResNet-50, 224 px, published file layouts) on
#                    fabricated files at a small size (.test/config/paper-smoke.yaml), every figure,
#                    then its checks (tests/paper_smoke_results.py)
# All create .venv from requirements.txt when it is missing.
PYTHON ?= python3
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
CORES ?= 2

.PHONY: demo test dryrun lint benchmark paper-smoke clean-demo clean-paper-smoke

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt 2>&1 | grep -v "^WARNING: Location" || true
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . 2>&1 | grep -v "^WARNING: Location" || true
	$(VENV)/bin/python -c "import torch, torchvision, snakemake, sparserobust"
	touch $@

demo: $(VENV)/.installed
	snakemake --cores $(CORES) --scheduler greedy --configfile=config/demo.yaml -- all export

test: $(VENV)/.installed
	$(VENV)/bin/python -m pytest -q tests

# the transfers tests/paper_smoke_results.py reads
SMOKE_RUNS := results/paper-smoke/transfer/adversarial/imp_st/round2/cifar10/full

paper-smoke: $(VENV)/.installed
	$(VENV)/bin/python scripts/fabricate_paper_data.py --out .test/data
	snakemake --cores $(CORES) --resources gpu=2 --configfile config.yaml .test/config/paper-smoke.yaml -- all export \
		results/paper-smoke/tables/peak_memory.csv $(addprefix $(SMOKE_RUNS)/,standard/seed0.json adversarial/seed0.json)
	cat results/paper-smoke/logs/tables/peak_memory.log
	$(VENV)/bin/python -m pytest -q tests/paper_smoke_results.py

dryrun: $(VENV)/.installed
	snakemake -n --cores all figures/fig3.pdf

benchmark: $(VENV)/.installed  # engine vs plain loop on this machine; see BENCHMARKS.md
	$(VENV)/bin/python scripts/benchmark.py

lint: $(VENV)/.installed  # the workflow's lint, its formatting, and the Python code's (pyproject.toml [tool.ruff])
	snakemake --lint
	snakefmt --check .
	ruff check .

clean-demo:
	rm -rf results/demo figures/demo

clean-paper-smoke:
	rm -rf results/paper-smoke figures/paper-smoke
