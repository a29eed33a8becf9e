"""Reading MMEB-eval rows: the published field names, JSONL and Parquet, folder layouts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eval_fakes import write_jsonl

from vsearch.errors import UnsupportedInput
from vsearch.eval.data import EvalRow, item_text, load_datasets, read_rows, split_instruction

ROW = {
    "qry_text": "<|image_1|>\nRepresent the given image for classification.\n",
    "qry_img_path": "ImageNet-1K/val/1.JPEG",
    "tgt_text": ["tench", "goldfish"],
    "tgt_img_path": ["", ""],
}


def test_jsonl_rows_keep_the_published_fields(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "x.jsonl", [ROW, {**ROW, "qry_img_path": "b.png"}])
    rows = read_rows(path)
    assert rows[0] == EvalRow(
        ROW["qry_text"], "ImageNet-1K/val/1.JPEG", ("tench", "goldfish"), ("", "")
    )
    assert [r.qry_img_path for r in read_rows(path, limit=1)] == ["ImageNet-1K/val/1.JPEG"]


def test_parquet_in_the_published_layout_takes_the_folder_name(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    # MMEB-eval on the Hub: <dataset>/test-00000-of-00001.parquet, candidate lists as list<str>.
    table = pa.table(
        {
            "qry_text": [ROW["qry_text"]],
            "qry_img_path": [ROW["qry_img_path"]],
            "tgt_text": pa.array([ROW["tgt_text"]], type=pa.list_(pa.string())),
            "tgt_img_path": pa.array([ROW["tgt_img_path"]], type=pa.list_(pa.string())),
        }
    )
    (tmp_path / "MMEB-eval" / "ImageNet-1K").mkdir(parents=True)
    pq.write_table(table, tmp_path / "MMEB-eval" / "ImageNet-1K" / "test-00000-of-00001.parquet")
    [ds] = load_datasets([tmp_path / "MMEB-eval"], image_root=tmp_path / "eval_images")
    assert (ds.name, ds.meta_task, ds.image_root) == (
        "ImageNet-1K",
        "classification",
        tmp_path / "eval_images",
    )
    assert ds.rows[0].tgt_text == ("tench", "goldfish")


def test_a_manifest_names_datasets_meta_tasks_and_image_root(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "eval" / "a.jsonl", [ROW])
    (tmp_path / "eval" / "datasets.json").write_text(
        json.dumps(
            {
                "image_root": "../images",
                "datasets": [{"name": "Clip-VQA", "file": "a.jsonl", "meta_task": "vqa"}],
            }
        )
    )
    [ds] = load_datasets([tmp_path / "eval"])
    assert (ds.name, ds.meta_task) == ("Clip-VQA", "vqa")
    assert ds.image_root == tmp_path / "eval" / "../images"


def test_unknown_dataset_names_have_no_meta_task(tmp_path: Path) -> None:
    [ds] = load_datasets([write_jsonl(tmp_path / "mine.jsonl", [ROW])])
    assert (ds.name, ds.meta_task, ds.image_root) == ("mine", None, tmp_path)


def test_missing_fields_are_named(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "x.jsonl", [{"qry": "q", "tgt_text": ["a"]}])
    with pytest.raises(UnsupportedInput, match="qry_text, qry_img_path, tgt_img_path"):
        read_rows(path)


def test_candidate_lists_of_different_lengths_are_rejected(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "x.jsonl", [{**ROW, "tgt_img_path": [""]}])
    with pytest.raises(UnsupportedInput, match="must be equal"):
        read_rows(path)


def test_paths_without_data_are_errors(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedInput, match="no such file"):
        load_datasets([tmp_path / "nope"])
    with pytest.raises(UnsupportedInput, match=r"no \.jsonl or \.parquet"):
        load_datasets([tmp_path])
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(UnsupportedInput, match=r"must be \.jsonl or \.parquet"):
        read_rows(tmp_path / "x.csv")


def test_two_datasets_with_one_name_are_rejected(tmp_path: Path) -> None:
    a = write_jsonl(tmp_path / "a" / "same.jsonl", [ROW])
    b = write_jsonl(tmp_path / "b" / "same.jsonl", [ROW])
    with pytest.raises(UnsupportedInput, match="more than one dataset is named same"):
        load_datasets([a, b])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "<|image_1|>\nRepresent the given image for classification.\n",
            "Represent the given image for classification.",
        ),
        ("<|image_1|>\nRepresent the given image.\n", "Represent the given image."),
        (
            "Find me an everyday image that matches the given caption: A dog.\n",
            "Find me an everyday image that matches the given caption: A dog.",
        ),
        ("tench", "tench"),
        ("<|image_1|>", None),
        ("", None),
    ],
)
def test_item_text_drops_the_placeholder_and_outer_whitespace(
    text: str, expected: str | None
) -> None:
    assert item_text(text) == expected


@pytest.mark.parametrize(
    ("text", "has_instruction", "expected"),
    [
        (
            "<|image_1|>\nRepresent the given image for classification.\n",
            True,
            ("Represent the given image for classification.", None),
        ),
        (
            "<|image_1|>\nRepresent the given image with the following question: What is it? A: x\n",  # noqa: E501
            True,
            ("Represent the given image with the following question:", "What is it? A: x"),
        ),
        (
            "Find me an everyday image that matches the given caption: cormorant: a bird\n",
            True,
            ("Find me an everyday image that matches the given caption:", "cormorant: a bird"),
        ),
        (
            '<|image_1|>\nSelect the portion of the image that isolates the object labeled as "cat"\n',  # noqa: E501
            True,
            ("Select the portion of the image that isolates the object labeled as", '"cat"'),
        ),
        ("cormorant md: animal, bird", False, (None, "cormorant md: animal, bird")),
        ("tench", False, (None, "tench")),
        ("<|image_1|>", True, (None, None)),
    ],
)
def test_split_instruction_keeps_mmebs_string_rebuildable(
    text: str, has_instruction: bool, expected: tuple[str | None, str | None]
) -> None:
    instruction, body = split_instruction(text, has_instruction=has_instruction)
    assert (instruction, body) == expected
    if instruction and body:
        assert f"{instruction} {body}" == item_text(text)
