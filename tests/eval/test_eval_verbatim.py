"""Issue 13: ``vsearch eval`` hands a VLM2Vec-like encoder each MMEB string exactly as the file
writes it, and fills in a dataset's instructions only where rows are written without them."""

from __future__ import annotations

from pathlib import Path

from eval_fakes import VerbatimFakeEncoder, write_jsonl
from PIL import Image

from vsearch.eval import run_eval

SHAPES = {
    "target": "<|image_1|>\nRepresent the given image.\n",
    "space": "<|image_1|> Represent the given image for classification.",
    "visdial": "Represent the given dialogue about an image, which is used for image retrieval: "
    "Q:is it red\nA:yes\n\n",
    "question": "<|image_1|>\nRepresent the given image with the following question: Why?\n",
    "label": "dog",
}


def _images(root: Path) -> None:
    (root / "images").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (200, 10, 10)).save(root / "images" / "a.png")
    Image.new("RGB", (8, 8), (10, 200, 10)).save(root / "images" / "b.png")


def test_every_mmeb_string_shape_reaches_the_encoder_verbatim(tmp_path: Path) -> None:
    root = tmp_path / "data"
    _images(root)
    rows = [
        {
            "qry_text": SHAPES["visdial"],
            "qry_img_path": "",
            "tgt_text": [SHAPES["target"], SHAPES["target"]],
            "tgt_img_path": ["images/a.png", "images/b.png"],
        },
        {
            "qry_text": SHAPES["space"],
            "qry_img_path": "images/a.png",
            "tgt_text": [SHAPES["label"], "cat"],
            "tgt_img_path": ["", ""],
        },
        {
            "qry_text": SHAPES["question"],
            "qry_img_path": "images/b.png",
            "tgt_text": ["yes", "no"],
            "tgt_img_path": ["", ""],
        },
    ]
    write_jsonl(root / "shapes.jsonl", rows)
    encoder = VerbatimFakeEncoder()
    run_eval([root], encoder=encoder)
    assert sorted(encoder.texts, key=str) == sorted(
        [
            (SHAPES["visdial"], False),
            (SHAPES["target"], True),
            (SHAPES["target"], True),
            (SHAPES["space"], True),
            (SHAPES["label"], False),
            ("cat", False),
            (SHAPES["question"], True),
            ("yes", False),
            ("no", False),
        ],
        key=str,
    )


def test_rows_without_instructions_get_their_datasets(tmp_path: Path) -> None:
    """Empty sides of an MMEB-named dataset, and every side of a manifest ``style``."""
    root = tmp_path / "data"
    _images(root)
    bare = [
        {
            "qry_text": "",
            "qry_img_path": "images/a.png",
            "tgt_text": ["", ""],
            "tgt_img_path": ["images/a.png", "images/b.png"],
        }
    ]
    write_jsonl(root / "NIGHTS.jsonl", bare)
    styled = [
        {"qry_text": "", "qry_img_path": "images/b.png", "tgt_text": ["x"], "tgt_img_path": [""]},
        {"qry_text": "a car", "qry_img_path": "", "tgt_text": ["y"], "tgt_img_path": [""]},
    ]
    write_jsonl(root / "mine.jsonl", styled)
    manifest = (
        '{"datasets": [{"name": "NIGHTS", "file": "NIGHTS.jsonl", "meta_task": "retrieval"},'
        ' {"name": "mine", "file": "mine.jsonl", "style": "SUN397"}]}'
    )
    (root / "datasets.json").write_text(manifest)
    encoder = VerbatimFakeEncoder()
    run_eval([root], encoder=encoder)
    nights = "Find a day-to-day image that looks similar to the provided image."
    assert (f"<|image_1|>\n{nights}\n", True) in encoder.texts
    assert ("<|image_1|>\nRepresent the given image.\n", True) in encoder.texts
    assert ("<|image_1|>\nIdentify the scene shown in the image.\n", True) in encoder.texts
    assert ("Identify the scene shown in the image. a car\n", False) in encoder.texts


def test_image_resolution_is_refused_for_an_encoder_that_is_not_vlm2vec(tmp_path: Path) -> None:
    import pytest

    root = tmp_path / "data"
    _images(root)
    write_jsonl(
        root / "mine.jsonl",
        [{"qry_text": "red", "qry_img_path": "", "tgt_text": ["x"], "tgt_img_path": [""]}],
    )
    with pytest.raises(ValueError, match="applies to VLM2Vec checkpoints, not to label-bridge"):
        run_eval([root], model="label-bridge", image_resolution="reference")
