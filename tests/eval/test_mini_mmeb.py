"""The mini-MMEB builder on a tiny Open-Clip-Art-shaped library that the test draws itself."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from eval_fakes import FakeEncoder
from PIL import Image, ImageDraw

from train.data.clipart import file_words, read_metadata, scan_library, title_describes
from train.data.mini_mmeb import build
from vsearch.eval import load_datasets, run_eval

SVG = """<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><metadata>
<rdf:RDF xmlns:cc="http://web.resource.org/cc/" xmlns:dc="http://purl.org/dc/elements/1.1/"
 xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><cc:Work rdf:about="">
<dc:title>{title}</dc:title><dc:description>{description}</dc:description>
<dc:subject><rdf:Bag>{keywords}</rdf:Bag></dc:subject>
<dc:creator><cc:Agent><dc:title>{creator}</dc:title></cc:Agent></dc:creator>
</cc:Work></rdf:RDF></metadata></svg>
"""
FRUIT = [
    "apple",
    "pear",
    "plum",
    "cherry",
    "lemon",
    "lime",
    "orange",
    "peach",
    "mango",
    "kiwi",
    "grape",
    "melon",
]
ANIMALS = [
    "fox",
    "wolf",
    "bear",
    "deer",
    "otter",
    "badger",
    "hare",
    "lynx",
    "moose",
    "bison",
    "mole",
    "stoat",
]
COUNTRIES = [
    "ireland",
    "france",
    "spain",
    "italy",
    "norway",
    "sweden",
    "poland",
    "austria",
    "greece",
    "malta",
    "latvia",
    "estonia",
]


def draw(path: Path, rng: random.Random) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGBA", (64, 48), (0, 0, 0, 0))
    colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256), 255)
    box = (rng.randint(0, 20), rng.randint(0, 15), rng.randint(35, 63), rng.randint(30, 47))
    ImageDraw.Draw(image).ellipse(box, fill=colour)
    image.save(path)


def add(
    root: Path,
    rel: str,
    title: str,
    keywords: list[str],
    rng: random.Random,
    creator: str = "Jane Painter",
) -> None:
    draw(root / "png" / f"{rel}.png", rng)
    svg = root / "svg" / f"{rel}.svg"
    svg.parent.mkdir(parents=True, exist_ok=True)
    svg.write_text(
        SVG.format(
            title=title,
            description="",
            creator=creator,
            keywords="".join(f"<rdf:li>{k}</rdf:li>" for k in keywords),
        )
    )


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("openclipart")
    rng = random.Random(7)
    for i, name in enumerate(FRUIT):
        add(root, f"food/fruit/{name}_jane_painter_0{i % 3 + 1}", f"Ripe {name}", ["fruit"], rng)
    for name in ANIMALS:
        add(root, f"animals/mammals/{name}_01", f"A {name} &amp; its den", ["mammal"], rng)
    for name in COUNTRIES:
        add(root, f"signs_and_symbols/flags/europe/{name}", f" {name}", ["flag", "europe"], rng)
    for i in range(12):  # a collection title: the file name and keywords must describe these
        add(root, f"shapes/stars/star_{i:02d}pt", "gramastar", ["stars", "geometry"], rng)
    return root


@pytest.fixture(scope="module")
def built(library: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mini-mmeb")
    build(library, out, seed=0, eval_percent=40)
    return out


def rows(folder: Path) -> dict[str, list[dict]]:
    spec = json.loads((folder / "datasets.json").read_text())
    return {
        d["name"]: [json.loads(line) for line in (folder / d["file"]).open()]
        for d in spec["datasets"]
    }


def test_metadata_titles_and_file_names(library: Path) -> None:
    title, _, keywords, creator = read_metadata(library / "svg/animals/mammals/fox_01.svg")
    assert (title, keywords, creator) == ("A fox & its den", ("mammal",), "Jane Painter")
    assert file_words("cigno_architetto_frances_01", "Architetto Francesco Rollandin") == "cigno"
    assert file_words("star_07pt", "") == "star 07pt"
    assert not title_describes("Lemon SVG theme", 1)
    assert not title_describes("card", 226)
    assert title_describes("Bored dog", 1)
    arts = {a.rel: a for a in scan_library(library)}
    star = arts["shapes/stars/star_03pt"]
    assert not star.title_describes
    assert star.caption == "star 03pt: stars, geometry"
    assert arts["food/fruit/apple_jane_painter_01"].name == "Ripe apple"


def test_all_meta_tasks_in_both_splits(built: Path) -> None:
    for split in ("train", "eval"):
        spec = json.loads((built / split / "datasets.json").read_text())
        tasks = {d["meta_task"] for d in spec["datasets"] if d["rows"] > 0}
        assert tasks == {"classification", "vqa", "retrieval", "grounding"}, split


def _clipart_sources(split_rows: dict[str, list[dict]], manifest: dict, split: str) -> set[str]:
    paths = set()
    for dataset in split_rows.values():
        for r in dataset:
            for p in [
                r.get("qry_img_path"),
                r.get("qry_image_path"),
                r.get("pos_image_path"),
                r.get("neg_image_path"),
                *r.get("tgt_img_path", []),
            ]:
                if p and p.startswith("clipart/"):
                    paths.add(p.removeprefix("clipart/").removesuffix(".png"))
    for canvas in manifest[f"canvases_{split}"]:
        paths |= {o["source"] for o in canvas["objects"]}
    return paths


def _captions(split_rows: dict[str, list[dict]]) -> set[str]:
    texts = set()
    for r in split_rows["OCA-I2T"]:
        texts.add(r["tgt_text"][0] if "tgt_text" in r else r["pos_text"])
    for name in ("OCA-VQA-Object", "OCA-VQA-Flag"):
        texts |= {r["tgt_text"][0] if "tgt_text" in r else r["pos_text"] for r in split_rows[name]}
    return {t.lower() for t in texts}


def test_train_and_eval_share_no_picture_and_no_caption(built: Path) -> None:
    manifest = json.loads((built / "manifest.json").read_text())
    train, eval_ = rows(built / "train"), rows(built / "eval")
    train_pics = _clipart_sources(train, manifest, "train")
    eval_pics = _clipart_sources(eval_, manifest, "eval")
    assert train_pics and eval_pics
    assert not train_pics & eval_pics
    assert _captions(train) and _captions(eval_)
    assert not _captions(train) & _captions(eval_)


def test_eval_rows_put_the_gold_first(built: Path) -> None:
    eval_ = rows(built / "eval")
    for r in eval_["OCA-Grounding"]:
        canvas = r["qry_img_path"].removesuffix(".png")
        assert r["tgt_img_path"][0].startswith(canvas + "_o")
        assert len(set(r["tgt_img_path"])) == len(r["tgt_img_path"])
    picture_of = {r["tgt_text"][0]: r["qry_img_path"] for r in eval_["OCA-I2T"]}
    assert len(eval_["OCA-T2I"]) == len(picture_of) > 1
    for r in eval_["OCA-T2I"]:
        [caption] = [c for c in picture_of if r["qry_text"].endswith(f": {c}\n")]
        assert r["tgt_img_path"][0] == picture_of[caption]
        assert len(set(r["tgt_img_path"])) == len(r["tgt_img_path"])
    for r in eval_["OCA-VQA-Flag"]:
        assert r["tgt_text"][0] in COUNTRIES
    for r in eval_["OCA-Category"]:
        assert r["tgt_text"][0] == r["qry_img_path"].split("/")[1].replace("_", " ")


def test_the_build_is_deterministic(library: Path, built: Path, tmp_path: Path) -> None:
    build(library, tmp_path, seed=0, eval_percent=40)
    for split in ("train", "eval"):
        for f in sorted((built / split).iterdir()):
            assert (tmp_path / split / f.name).read_bytes() == f.read_bytes(), f.name


def test_vsearch_eval_reads_the_built_eval_split(built: Path) -> None:
    report = run_eval([built / "eval"], encoder=FakeEncoder())
    assert {d.meta_task for d in report.datasets} == {
        "classification",
        "vqa",
        "retrieval",
        "grounding",
    }
    assert [d.name for d in report.datasets] == [d.name for d in load_datasets([built / "eval"])]
    assert all(d.n_queries > 0 for d in report.datasets)
