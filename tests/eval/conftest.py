"""Fixtures for the evaluation tests: the fake encoder and tiny MMEB-eval data."""

from __future__ import annotations

from pathlib import Path

import pytest
from eval_fakes import COLOURS, FakeEncoder, write_jsonl
from PIL import Image


@pytest.fixture(autouse=True)
def vsearch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "vsearch-home"
    monkeypatch.setenv("VSEARCH_HOME", str(home))
    return home


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture
def colour_data(tmp_path: Path) -> Path:
    """An MMEB-eval folder: a classification set (2 of 3 right) and a text->image set (all right).

    Layout: ``data/images/{red,green,blue}.png``, ``data/VOC2007.jsonl`` (an MMEB name, so it is
    classification) and ``data/colour_t2i.jsonl`` (unknown name: no meta-task).
    """
    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    for name, rgb in COLOURS.items():
        Image.new("RGB", (8, 8), rgb).save(root / "images" / f"{name}.png")
    qry = "<|image_1|>\nRepresent the given image for classification.\n"
    labels = ["red", "green", "blue"]
    cls_rows = [
        {
            "qry_text": qry,
            "qry_img_path": "images/red.png",
            "tgt_text": ["red", "green", "blue"],
            "tgt_img_path": ["", "", ""],
        },
        {
            "qry_text": qry,
            "qry_img_path": "images/blue.png",
            "tgt_text": ["blue", "red", "green"],
            "tgt_img_path": ["", "", ""],
        },
        # Gold says "green" for a red picture: the encoder must get this one wrong.
        {
            "qry_text": qry,
            "qry_img_path": "images/red.png",
            "tgt_text": ["green", "red", "blue"],
            "tgt_img_path": ["", "", ""],
        },
    ]
    write_jsonl(root / "VOC2007.jsonl", cls_rows)
    tgt = "<|image_1|>\nRepresent the given image.\n"
    t2i_rows = [
        {
            "qry_text": f"Find me an everyday image that matches the given caption: {c}\n",
            "qry_img_path": "",
            "tgt_text": [tgt] * 3,
            "tgt_img_path": [f"images/{c}.png"] + [f"images/{o}.png" for o in labels if o != c],
        }
        for c in labels
    ]
    write_jsonl(root / "colour_t2i.jsonl", t2i_rows)
    return root
