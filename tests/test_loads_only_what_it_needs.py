"""A command loads the parts of the default model its inputs need, and nothing more.

Each case runs the real CLI in a fresh Python process and reports which heavy modules it
imported: what was loaded, not how long it took.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .cold_probe import run_cli
from .conftest import DATA

#: The OCR and PDF libraries are ingest's alone: no query may load them.
WATCHED = (
    "torch",
    "transformers",
    "efficientnet_lite_pytorch",
    "rapidocr",
    "onnxruntime",
    "cv2",
    "pypdfium2",
)


def _run(*args: str) -> dict:
    return run_cli(args, WATCHED)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A folder with a photo and a note, ingested with the default model."""
    root = tmp_path_factory.mktemp("library")
    folder, index = root / "photos", root / "index"
    folder.mkdir()
    (folder / "cat.jpg").write_bytes((DATA / "cat.jpg").read_bytes())
    (folder / "note.txt").write_text("Remember to buy coffee beans.")
    assert _run("ingest", str(folder), "--index", str(index))["code"] == 0
    return folder, index


def test_a_text_query_loads_the_sentence_model_only(library):
    _, index = library
    outcome = _run("query", "a cat", "--index", str(index), "-k", "1")
    assert outcome == {"code": 0, "loaded": ["torch"]}  # no CNN, no transformers


def test_a_keyword_query_loads_no_model(library):
    _, index = library
    outcome = _run("query", "coffee", "--match", "keyword", "--index", str(index))
    assert outcome == {"code": 0, "loaded": []}


def test_an_image_query_adds_the_cnn_but_not_transformers(library):
    folder, index = library
    outcome = _run("query", "--image", str(folder / "cat.jpg"), "--index", str(index), "-k", "1")
    assert outcome == {"code": 0, "loaded": ["torch", "efficientnet_lite_pytorch"]}


def test_an_unchanged_ingest_loads_no_model(library):
    folder, index = library
    outcome = _run("ingest", str(folder), "--index", str(index))
    assert outcome == {"code": 0, "loaded": []}


TASK_PROBE = """
import sys
from PIL import Image
from vsearch.encoders import Item, load_encoder
from vsearch.encoders.instructions import TASKS
encoder = load_encoder()
encoder.encode([Item(image=Image.open(sys.argv[1]))], TASKS["classification"].query)
print(",".join(m for m in ("transformers", "peft") if m in sys.modules), file=sys.stderr)
"""


def test_an_image_with_a_task_merges_the_adapter_once_then_reads_the_merged_cache(tmp_path):
    env = {**os.environ, "VSEARCH_HOME": str(tmp_path / "home")}

    def loaded() -> str:
        done = subprocess.run(
            [sys.executable, "-c", TASK_PROBE, str(DATA / "cat.jpg")],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""

    assert "peft" in loaded()  # the first use builds the LoRA model and merges it
    assert loaded() == ""  # later ones read the merged weights: neither library is imported
    assert len(list((tmp_path / "home" / "cache").glob("mini-merged-*.safetensors"))) == 1
