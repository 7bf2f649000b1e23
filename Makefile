# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= out/valley.mp4
TORCH_VERSION ?= 2.13.0
UV_VERSION ?= 0.13.9
LOCK := constraints.txt

.PHONY: install lock run test lint typecheck fuzz bench bench-gpu load chaos hostile screenshots clean

install: $(VENV)/.installed

# Every install takes the versions in $(LOCK); the ranges in pyproject.toml are for pip users.
# Three stamps: .installed-run is the server and CLI alone (what `make run` runs, no torch),
# .installed adds the dev extra (torch, diffusers, test tools) for `make test`, and .installed-fp8
# adds torchao (the fp8 extra) for `make bench-gpu`; any order works.
PIP := $(BIN)/pip install --quiet --disable-pip-version-check -c $(LOCK)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml $(LOCK) | $(BIN)/python
	$(PIP) -e .
	touch $@

$(VENV)/.installed: pyproject.toml $(LOCK) | $(BIN)/python
	$(PIP) torch==$(TORCH_VERSION)
	$(PIP) -e '.[dev]'
	touch $@ $(VENV)/.installed-run

$(VENV)/.installed-fp8: pyproject.toml $(LOCK) | $(BIN)/python
	$(PIP) torch==$(TORCH_VERSION)
	$(PIP) -e '.[dev,fp8]'
	touch $@ $(VENV)/.installed $(VENV)/.installed-run

# Re-resolve $(LOCK) from pyproject.toml, keeping its pins where they still fit;
# `make lock LOCK_FLAGS=--upgrade` moves every pin to the newest release.
lock: install
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	echo 'torch==$(TORCH_VERSION)' | $(BIN)/uv pip compile --quiet pyproject.toml - \
		--extra dev --extra fp8 \
		--python $(BIN)/python --custom-compile-command 'make lock' $(LOCK_FLAGS) -o $(LOCK)

run: $(VENV)/.installed-run
	$(BIN)/kirin run kirin_v1_6_i2v \
		--image examples/valley-morning.jpg --image-tail examples/valley-evening.jpg \
		--mode pro --prompt "the sun crosses the valley from morning to evening" \
		--seed 7 -o $(OUT)

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: install
	$(BIN)/mypy

test: install lint typecheck
	$(BIN)/pytest -q

fuzz: install
	KIRIN_FUZZ_EXAMPLES=500 $(BIN)/pytest -q tests/api/test_fuzz.py

bench: install
	$(BIN)/python benchmarks/api.py

# Every speed figure of docs/performance.md on one CUDA GPU, in --budget-s seconds (default 480).
bench-gpu: $(VENV)/.installed-fp8
	$(BIN)/python -m benchmarks.gpu $(BENCH_GPU_FLAGS)

load: install
	$(BIN)/python benchmarks/load.py --clients 16 --seconds 30

# Workers, API nodes, engine children, Redis and PostgreSQL killed under load (docs/reliability.md).
chaos: install
	$(BIN)/python -m benchmarks.chaos --tasks 60 --seconds 180

# Hostile clients against one kirin serve while a well-behaved key works (docs/reliability.md).
hostile: install
	$(BIN)/python -m benchmarks.hostile

# The playground's screenshots in docs/images/playground, taken by its browser tests.
screenshots: install
	KIRIN_SCREENSHOTS=docs/images/playground $(BIN)/pytest -q tests/e2e/test_playground.py

clean:
	rm -rf $(VENV) kirin-data out .pytest_cache .mypy_cache .ruff_cache
