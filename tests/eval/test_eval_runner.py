"""The runner end to end with a deterministic fake encoder: scores, aggregation, the cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eval_fakes import FakeEncoder, write_jsonl

from vsearch.errors import EncoderMismatch, UnsupportedInput
from vsearch.eval import render_table, run_eval
from vsearch.eval.cache import EmbeddingCache
from vsearch.eval.report import DatasetResult, aggregate


def test_exact_scores_on_the_colour_data(colour_data: Path, fake_encoder: FakeEncoder) -> None:
    report = run_eval([colour_data], encoder=fake_encoder)
    by_name = {d.name: d for d in report.datasets}
    assert by_name["VOC2007"].precision_at_1 == pytest.approx(200 / 3)
    assert by_name["VOC2007"].recall_at_5 == 100.0
    assert by_name["VOC2007"].meta_task == "classification"
    assert by_name["colour_t2i"].precision_at_1 == 100.0
    assert by_name["colour_t2i"].meta_task is None
    assert report.meta_tasks["classification"].precision_at_1 == pytest.approx(200 / 3)
    assert report.overall is not None
    assert report.overall.precision_at_1 == pytest.approx((200 / 3 + 100) / 2)


def test_the_encoder_gets_the_instruction_apart_from_image_and_text(
    colour_data: Path, fake_encoder: FakeEncoder
) -> None:
    run_eval([colour_data], encoder=fake_encoder)
    seen = [(inst, item.text, item.image is not None) for inst, item in fake_encoder.seen]
    cls = "Represent the given image for classification."
    assert seen.count((cls, None, True)) == 2  # two distinct query pictures
    assert {(None, label, False) for label in ("red", "green", "blue")} <= set(seen)
    t2i = "Find me an everyday image that matches the given caption:"
    assert (t2i, "red", False) in seen
    assert seen.count(("Represent the given image.", None, True)) == 3
    assert not any("<|image_1|>" in (text or "") for _, text, _ in seen)
    assert all(i.image.mode == "RGB" for _, i in fake_encoder.seen if i.image is not None)


def test_each_unique_input_is_embedded_once(colour_data: Path, fake_encoder: FakeEncoder) -> None:
    report = run_eval([colour_data], encoder=fake_encoder, cache_dir=None)
    # VOC2007: 2 distinct query images + 3 labels; colour_t2i: 3 captions + 3 image targets.
    assert [d.embedded for d in report.datasets] == [5, 6]
    assert len(fake_encoder.embedded) == 11


def test_a_second_run_embeds_nothing(colour_data: Path, tmp_path: Path) -> None:
    first_encoder, second_encoder = FakeEncoder(), FakeEncoder()
    first = run_eval([colour_data], encoder=first_encoder, cache_dir=tmp_path / "cache")
    second = run_eval([colour_data], encoder=second_encoder, cache_dir=tmp_path / "cache")
    assert first.embedded == 11
    assert second.embedded == 0
    assert second_encoder.calls == 0
    assert [d.cached for d in second.datasets] == [5, 6]
    assert [d.precision_at_1 for d in second.datasets] == [d.precision_at_1 for d in first.datasets]


def test_the_cache_is_per_model_identity(colour_data: Path, tmp_path: Path) -> None:
    run_eval([colour_data], encoder=FakeEncoder("model-a"), cache_dir=tmp_path / "c")
    other = FakeEncoder("model-b")
    assert run_eval([colour_data], encoder=other, cache_dir=tmp_path / "c").embedded == 11
    assert len(list((tmp_path / "c").glob("*.sqlite"))) == 2


def test_a_cache_file_of_another_identity_is_refused(tmp_path: Path) -> None:
    a, b = FakeEncoder("model-a", "r1"), FakeEncoder("model-a", "r2")
    a_path = EmbeddingCache(a.identity, tmp_path).path
    b_path = EmbeddingCache(b.identity, tmp_path).path
    a_path.replace(b_path)  # a file copied by hand under the other identity's name
    with pytest.raises(EncoderMismatch, match="belongs to"):
        EmbeddingCache(b.identity, tmp_path)


def test_limit_and_json_report(colour_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "results.json"
    report = run_eval([colour_data], encoder=FakeEncoder(), limit=1, out=out)
    assert [d.n_queries for d in report.datasets] == [1, 1]
    written = json.loads(out.read_text())
    assert written["model"] == {
        "model_id": "fake-hash",
        "revision": "test",
        "dim": 64,
        "pooling": "bag-of-words",
        "normalized": True,
    }
    assert written["limit"] == 1
    assert written["datasets"][0]["precision_at_1"] == 100.0
    assert written["overall"]["precision_at_1"] == 100.0
    assert written["unit"] == "percent"
    with pytest.raises(ValueError, match="at least 1"):
        run_eval([colour_data], encoder=FakeEncoder(), limit=0)


def test_a_missing_image_names_the_path_and_the_flag(colour_data: Path) -> None:
    with pytest.raises(UnsupportedInput, match=r"nowhere.*--image-root"):
        run_eval([colour_data], image_root=colour_data / "nowhere", encoder=FakeEncoder())


def test_a_row_with_neither_text_nor_image_is_an_error(tmp_path: Path) -> None:
    bad = {"qry_text": "<|image_1|>", "qry_img_path": "", "tgt_text": ["a"], "tgt_img_path": [""]}
    with pytest.raises(UnsupportedInput, match="neither text nor image"):
        run_eval([write_jsonl(tmp_path / "bad.jsonl", [bad])], encoder=FakeEncoder())


def test_transparent_images_are_put_on_white(tmp_path: Path) -> None:
    from PIL import Image

    from vsearch.eval.runner import load_image

    Image.new("RGBA", (40, 20), (0, 0, 0, 0)).save(tmp_path / "t.png")
    image = load_image(tmp_path / "t.png", max_side=10)
    assert image.mode == "RGB" and image.size == (10, 5)
    assert image.getpixel((0, 0)) == (255, 255, 255)


def _result(name: str, task: str | None, p1: float) -> DatasetResult:
    return DatasetResult(name, task, 10, 5.0, p1, 100.0, 0, 0)


def test_aggregation_is_unweighted_per_meta_task_and_over_datasets() -> None:
    results = [
        _result("a", "classification", 10.0),
        _result("b", "classification", 30.0),
        _result("c", "retrieval", 80.0),
        _result("d", None, 0.0),
    ]
    per_task, overall = aggregate(results)
    assert list(per_task) == ["classification", "retrieval"]
    assert per_task["classification"].precision_at_1 == 20.0
    assert per_task["classification"].n_datasets == 2
    assert per_task["retrieval"].precision_at_1 == 80.0
    # Overall is the mean over datasets (MMEB's rule), not over meta-task means.
    assert overall is not None and overall.precision_at_1 == 30.0
    assert aggregate([]) == ({}, None)


def test_render_table_lists_datasets_means_and_model(colour_data: Path) -> None:
    report = run_eval([colour_data], encoder=FakeEncoder())
    table = render_table(report)
    lines = table.splitlines()
    assert lines[0] == "model: fake-hash (test)"
    assert any(line.startswith("VOC2007") and line.endswith("66.7   100.0") for line in lines)
    assert any(line.startswith("classification (1)") for line in lines)
    assert lines[-1].startswith("Overall (2)")
