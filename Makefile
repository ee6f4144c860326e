# The two commands of the README. Both set up .venv on first use (Python >= 3.11 needed).
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test check clean lock

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

# deploy/requirements.lock: the image's exact dependencies with hashes (pip-tools, Python 3.11,
# the `nats` extra and the build backend included). Run after changing pyproject.toml's deps.
lock: $(STAMP)
	$(VENV)/bin/python -m pip install --quiet 'pip-tools>=7.4'
	$(VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --extra nats --all-build-deps \
	  --allow-unsafe --no-emit-index-url --no-emit-find-links -o deploy/requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) *.egg-info

# Benchmark (bench/README.md): the bridge vs its peers, ratios to hand-written aiohttp.
# `bench` installs wrk/nginx (apt, as root), node-red (npm) and bench/.venv-peers when missing.
.PHONY: bench bench-smoke
bench: $(STAMP)
	$(VENV)/bin/python -m bench.run

bench-smoke: $(STAMP)
	$(VENV)/bin/python -m bench.run --smoke
