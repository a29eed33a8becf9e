# The targets README.md names. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR := demo-photos
DEMO_INDEX := indexes/demo
VSEARCH := HF_HUB_OFFLINE=1 $(BIN)/vsearch

.PHONY: setup demo test lint bench clean

setup: $(VENV)/.installed

# torch is pinned first: the CPU wheel on this machine's disk, never a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev,demo]'
	touch $@

demo: setup
	$(BIN)/python train/data/demo_photos.py $(DEMO_DIR)
	$(VSEARCH) ingest $(DEMO_DIR) --index $(DEMO_INDEX)
	$(VSEARCH) query "a cat" --index $(DEMO_INDEX) -k 3
	$(VSEARCH) query "a cup of coffee" --index $(DEMO_INDEX) -k 3
	$(VSEARCH) query "a rocket launch" --index $(DEMO_INDEX) -k 3
	$(VSEARCH) query "a motorcycle" --index $(DEMO_INDEX) -k 3
	$(VSEARCH) query --image $(DEMO_DIR)/chelsea.png --index $(DEMO_INDEX) -k 3

test: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check vsearch tests bench train
	$(BIN)/ruff format --check vsearch tests bench train

bench: setup
	HF_HUB_OFFLINE=1 $(BIN)/python bench/bench_ingest.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) $(DEMO_INDEX) .pytest_cache .ruff_cache
