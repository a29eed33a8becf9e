# The targets README.md names. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR := demo-photos
DEMO_INDEX := indexes/demo
VSEARCH := HF_HUB_OFFLINE=1 $(BIN)/vsearch

.PHONY: setup demo test lint bench bench-serve bench-train bench-cold tiny-train mini-mmeb mini-mmeb-baseline photo-set \
	photo-set-baseline mini-model clean

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
	$(VSEARCH) ingest $(DEMO_DIR) --index $(DEMO_INDEX) --ocr
	$(VSEARCH) query "a cat" --index $(DEMO_INDEX) -k 3
	$(VSEARCH) query "a cup of coffee" --index $(DEMO_INDEX) -k 3
	$(VSEARCH) query "a rocket launch" --index $(DEMO_INDEX) -k 3
	$(VSEARCH) query "a motorcycle" --index $(DEMO_INDEX) -k 3
	$(VSEARCH) query "a red and white lighthouse" --index $(DEMO_INDEX) -k 3
	$(VSEARCH) query "a guitar" --index $(DEMO_INDEX) -k 3
	$(VSEARCH) query "invoice ACME" --index $(DEMO_INDEX) -k 3
	$(VSEARCH) query --image $(DEMO_DIR)/chelsea.png --index $(DEMO_INDEX) -k 3
	$(VSEARCH) rank --image $(DEMO_DIR)/chelsea.png --question "What animal is this?" \
	  --answers cat dog horse
	$(VSEARCH) classify $(DEMO_DIR)/chelsea.png $(DEMO_DIR)/coffee.png $(DEMO_DIR)/rocket.jpg \
	  $(DEMO_DIR)/clipart/guitar.png --labels "a cat" "a cup of coffee" "a rocket" "a guitar"
	@echo
	@echo "Browse the demo with thumbnails: $(BIN)/vsearch serve --index $(DEMO_INDEX)"
	@echo "  then open http://127.0.0.1:8765 (Ctrl-C stops the server)"

test: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

# The tiny training recipe end to end: build a tiny random Qwen2-VL and the colour set, train a
# LoRA adapter with GradCache, then ingest and query with it.
tiny-train: setup
	rm -rf runs/tiny indexes/tiny-trained
	$(BIN)/python -m train.tiny_models build/tiny-qwen2vl
	$(BIN)/python -m train.data.colours build/colours
	$(VSEARCH) train train/recipes/tiny.toml
	$(VSEARCH) ingest build/colours/images --index indexes/tiny-trained --model runs/tiny/final
	$(VSEARCH) query "a red square" --index indexes/tiny-trained -k 3

# The open mini-MMEB from Debian's Open Clip Art (train/data/README.md): installs the packages.
OPENCLIPART_PKGS := openclipart-svg openclipart-png
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

mini-mmeb: setup
	dpkg -s $(OPENCLIPART_PKGS) >/dev/null 2>&1 || { $(SUDO) apt-get update && \
	  $(SUDO) apt-get install -y --no-install-recommends $(OPENCLIPART_PKGS); }
	$(BIN)/python -m train.data.mini_mmeb --library /usr/share/openclipart --out train/data/mini-mmeb

mini-mmeb-baseline: mini-mmeb
	$(VSEARCH) eval train/data/mini-mmeb/eval --model label-bridge \
	  --out train/data/results/label-bridge-mini-mmeb.json

# The hand-captioned real-photo set (train/data/photos/README.md): installs the wallpaper packages.
PHOTO_PKGS := mate-backgrounds plasma-workspace-wallpapers lomiri-wallpapers-16.04 \
	lomiri-wallpapers-20.04

photo-set: setup
	dpkg -s $(PHOTO_PKGS) >/dev/null 2>&1 || { $(SUDO) apt-get update && \
	  $(SUDO) apt-get install -y --no-install-recommends $(PHOTO_PKGS); }
	$(BIN)/python -m train.data.photos.build --out train/data/photos/built

# The shipped default model: train it with the recipe (about 40 min on 2 CPU cores), score it on
# mini-MMEB and on the photo set, and install it with its provenance into the package.
MINI_RUN := runs/mini
mini-model: mini-mmeb photo-set
	rm -rf $(MINI_RUN)
	$(VSEARCH) train train/recipes/mini.toml
	$(VSEARCH) eval train/data/mini-mmeb/eval --model $(MINI_RUN)/final \
	  --out train/data/results/mini-mini-mmeb.json
	$(VSEARCH) eval train/data/photos/built --model $(MINI_RUN)/final \
	  --out train/data/results/mini-photos.json
	$(BIN)/python -m train.publish_mini $(MINI_RUN)/final \
	  --eval mini-MMEB=train/data/results/mini-mini-mmeb.json \
	  --eval photos=train/data/results/mini-photos.json

photo-set-baseline: photo-set
	$(VSEARCH) eval train/data/photos/built --model label-bridge \
	  --out train/data/results/label-bridge-photos.json

lint: setup
	$(BIN)/ruff check vsearch tests bench train
	$(BIN)/ruff format --check vsearch tests bench train

bench: setup
	HF_HUB_OFFLINE=1 $(BIN)/python bench/bench_ingest.py
	HF_HUB_OFFLINE=1 $(BIN)/python bench/bench_mini.py

bench-serve: setup
	HF_HUB_OFFLINE=1 $(BIN)/python bench/bench_serve.py

bench-train: setup
	HF_HUB_OFFLINE=1 $(BIN)/python bench/bench_train.py

# Builds a 1M-item index first (minutes; --keep DIR reuses it); --n 100000 for a quick run.
bench-cold: setup
	HF_HUB_OFFLINE=1 $(BIN)/python bench/bench_cold.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) $(DEMO_INDEX) build runs .pytest_cache .ruff_cache
