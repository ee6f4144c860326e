# The two commands of the README. Both set up .venv on first use (Python >= 3.11 needed).
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test check clean

run: $(STAMP)
	$(VENV)/bin/bridge serve --with-sim

test: $(STAMP)
	$(VENV)/bin/python -m pytest

check: $(STAMP)
	$(VENV)/bin/bridge check

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

clean:
	rm -rf $(VENV) *.egg-info

# Benchmark (bench/README.md): the bridge vs its peers, ratios to hand-written aiohttp.
# `bench` installs wrk/nginx (apt, as root), node-red (npm) and bench/.venv-peers when missing.
.PHONY: bench bench-smoke
bench: $(STAMP)
	$(VENV)/bin/python -m bench.run

bench-smoke: $(STAMP)
	$(VENV)/bin/python -m bench.run --smoke
