"""Session fixtures: tiny random VLM2Vec checkpoints saved once, loaded per test by path."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from train.tiny_models import (
    build_tiny_adapter,
    build_tiny_llava_next,
    build_tiny_qwen2_vl,
)


@pytest.fixture(scope="package", autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from intra-op threads, and on a busy 2-core runner the spinning
    threads double the wall time; restored when this package's tests are done."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny-vlm2vec")


@pytest.fixture(scope="session")
def tiny_qwen2_vl(tiny_dir: Path) -> Path:
    return build_tiny_qwen2_vl(tiny_dir / "Tiny-Qwen2VL")


@pytest.fixture(scope="session")
def tiny_qwen2_5_vl(tiny_dir: Path) -> Path:
    return build_tiny_qwen2_vl(tiny_dir / "Tiny-Qwen2.5VL", qwen2_5=True)


@pytest.fixture(scope="session")
def tiny_llava_next(tiny_dir: Path) -> Path:
    return build_tiny_llava_next(tiny_dir / "Tiny-LLaVA-Next")


@pytest.fixture(scope="session")
def tiny_lora(tiny_dir: Path, tiny_qwen2_vl: Path) -> Path:
    return build_tiny_adapter(tiny_qwen2_vl, tiny_dir / "Tiny-LoRA", use_dora=False)


@pytest.fixture(scope="session")
def tiny_dora(tiny_dir: Path, tiny_qwen2_vl: Path) -> Path:
    return build_tiny_adapter(tiny_qwen2_vl, tiny_dir / "Tiny-DoRA", use_dora=True)


@pytest.fixture(scope="session")
def tiny_llava_dora(tiny_dir: Path, tiny_llava_next: Path) -> Path:
    return build_tiny_adapter(tiny_llava_next, tiny_dir / "Tiny-LLaVA-DoRA", use_dora=True)


@pytest.fixture(scope="session")
def photos() -> list[Image.Image]:
    """Three small RGB images of different sizes and aspect ratios (different token counts)."""
    rng = np.random.default_rng(0)
    sizes = [(80, 100), (120, 60), (40, 40)]
    return [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for w, h in sizes]
