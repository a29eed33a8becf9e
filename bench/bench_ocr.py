"""Text in images and PDFs: retrieval by route, the fusion weight sweep, and what OCR costs.

Builds a fixture offline (``vsearch.eval.text_images``): one sentence per item, drawn on images
in six fonts, at several sizes, rotated up to +-10 degrees, with noise, JPEG artefacts and plain,
paper or photo backgrounds; and PDF pages, with a text layer or scanned (images only). Each
sentence is a unique (subject, action, place) triple; two queries per item:

- exact: a phrase of the item's own words (subject noun + action), which no other item holds;
- paraphrase: the same meaning in other words (synonyms for every part).

Printed, all measured in this one run with the default model (``mini``):

1. R@1 / R@10 per route: baseline (today: image vectors only, no OCR), keyword (BM25 over the
   recognised text), semantic (fused vectors), hybrid (both, reciprocal rank fusion);
2. the fusion weight sweep: semantic R@1 / R@10 for text weights 0 ... 1 (how TEXT_WEIGHT was
   chosen);
3. the photo set (train/data/photos, ``make photo-set``; skipped when not built): caption ->
   photo R@1 with OCR fusion vs without, and how many photos OCR found text in;
4. cost: OCR seconds per image, and ingest items/s with OCR on vs off, same files, same run: on
   the fixture (text on every item) and on the photo set (little text).

Usage: python bench/bench_ocr.py [--items 220] [--photos train/data/photos/built] [--keep DIR]
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vsearch.encoders import Item, load_encoder  # noqa: E402
from vsearch.encoders.instructions import DOCUMENT_INSTRUCTIONS  # noqa: E402
from vsearch.eval.text_images import (  # noqa: E402
    fonts,
    render,
    write_scanned_pdf,
    write_text_pdf,
)
from vsearch.index import Index  # noqa: E402
from vsearch.ingest import fusion  # noqa: E402
from vsearch.ingest.ocr import shared_reader  # noqa: E402
from vsearch.query.search import instruction_for  # noqa: E402

SUBJECTS = [
    ("The old fisherman", "fisherman", "An elderly angler"),
    ("A young nurse", "nurse", "A junior hospital carer"),
    ("The city council", "council", "The municipal board"),
    ("My neighbour's cat", "cat", "The kitten next door"),
    ("The night train driver", "driver", "The overnight rail engineer"),
    ("A retired teacher", "teacher", "A former schoolmistress"),
    ("The football coach", "coach", "The soccer trainer"),
    ("Our landlord", "landlord", "The owner of our flat"),
    ("The village baker", "baker", "The local bread maker"),
    ("A tired pilot", "pilot", "An exhausted aviator"),
    ("The museum guide", "guide", "The gallery docent"),
    ("The bank manager", "manager", "The head of the branch office"),
    ("A famous violinist", "violinist", "A celebrated fiddle player"),
    ("The hotel chef", "chef", "The cook of the inn"),
    ("A lost tourist", "tourist", "A confused traveller"),
    ("The school janitor", "janitor", "The caretaker of the college"),
]
ACTIONS = [
    ("repaired the broken fence", "fixed a damaged barrier"),
    ("sold three bicycles", "got rid of several bikes for cash"),
    ("cancelled the morning meeting", "called off the early appointment"),
    ("painted the kitchen yellow", "coloured the cooking room in yellow"),
    ("lost the house keys", "misplaced the keys to the home"),
    ("ordered forty pizzas", "asked for dozens of pizza deliveries"),
    ("planted apple trees", "put fruit saplings in the soil"),
    ("wrote a letter to the mayor", "sent a note to the head of the town"),
    ("found a wallet on the bus", "discovered a purse on public transport"),
    ("bought a new umbrella", "purchased a fresh parasol for rain"),
    ("adopted a stray dog", "took in a homeless puppy"),
    ("won the chess tournament", "came first in the board game contest"),
    ("burned the birthday cake", "scorched the party dessert"),
    ("climbed the frozen waterfall", "scaled the icy cascade"),
]
PLACES = [
    ("before the storm", "ahead of the bad weather"),
    ("on Sunday morning", "at the start of the weekend's last day"),
    ("near the harbour", "close to the port"),
    ("after midnight", "late in the night"),
]


def sentences(n: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """``n`` items: (sentence, exact phrase, paraphrase), every (subject, action) pair once."""
    pairs = [(s, a) for s in range(len(SUBJECTS)) for a in range(len(ACTIONS))]
    if n > len(pairs):
        raise SystemExit(f"at most {len(pairs)} items")
    rng = random.Random(seed)
    rng.shuffle(pairs)
    out = []
    for s, a in pairs[:n]:
        subject, noun, para_subject = SUBJECTS[s]
        action, para_action = ACTIONS[a]
        place, para_place = rng.choice(PLACES)
        out.append(
            (
                f"{subject} {action} {place}.",
                f"{noun} {action}",
                f"{para_subject} {para_action} {para_place}",
            )
        )
    return out


def backgrounds() -> list[Image.Image]:
    """Photos to draw on: scikit-image's samples (the demo set's source), where installed."""
    try:
        from skimage import data
    except ImportError:
        return []
    names = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field")
    return [Image.fromarray(getattr(data, n)()).convert("RGB") for n in names]


PAGES_PER_PDF = 4


def _page_path(name: str, page: int) -> str:
    """Where the fixture's ``page``-th (from 0) page of its ``name`` PDFs is indexed."""
    return f"docs/{name}-{page // PAGES_PER_PDF}.pdf#page={page % PAGES_PER_PDF + 1}"


def build(root: Path, n: int) -> dict[str, tuple[str, str]]:
    """The fixture under ``root``: item path -> (exact phrase, paraphrase). Of every five
    items, three are JPEG images, one a page of a text-layer PDF, one a page of a scanned PDF
    (four pages per PDF)."""
    faces, photos = fonts(), backgrounds()
    if not faces:
        raise SystemExit("no fonts: apt-get install fonts-dejavu-core fonts-liberation")
    rng = random.Random(1)
    wanted: dict[str, tuple[str, str]] = {}
    layer: list[list[str]] = []
    scans: list[Image.Image] = []
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "docs").mkdir(parents=True, exist_ok=True)
    for i, (sentence, exact, para) in enumerate(sentences(n)):
        lines = [sentence, f"Ref. {rng.randint(1000, 9999)}"]
        if i % 5 == 3:
            layer.append(lines)
            wanted[_page_path("text", len(layer) - 1)] = (exact, para)
            continue
        background = rng.choice(photos) if photos and rng.random() < 0.3 else None
        image = render(
            lines,
            font=rng.choice(faces),
            size=rng.choice([22, 28, 34, 42]),
            background=background,
            angle=rng.uniform(-10, 10),
            noise=rng.choice([0.0, 0.1, 0.2]),
            seed=i,
        )
        if i % 5 == 4:
            scans.append(image)
            wanted[_page_path("scan", len(scans) - 1)] = (exact, para)
            continue
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=rng.choice([35, 60, 85]))
        (root / "images" / f"{i:04d}.jpg").write_bytes(buffer.getvalue())
        wanted[f"images/{i:04d}.jpg"] = (exact, para)
    for start in range(0, len(layer), PAGES_PER_PDF):
        pages = layer[start : start + PAGES_PER_PDF]
        write_text_pdf(root / "docs" / f"text-{start // PAGES_PER_PDF}.pdf", pages)
    for start in range(0, len(scans), PAGES_PER_PDF):
        pages = scans[start : start + PAGES_PER_PDF]
        write_scanned_pdf(root / "docs" / f"scan-{start // PAGES_PER_PDF}.pdf", pages)
    return wanted


def recall(ranked: list[list[str]], gold: list[str], k: int) -> float:
    return float(np.mean([g in r[:k] for r, g in zip(ranked, gold, strict=True)]))


def ingest(
    folder: Path, root: Path, encoder, *, ocr: bool, text_weight: float
) -> tuple[Index, float]:
    fusion.TEXT_WEIGHT = text_weight
    idx = Index.create(folder, encoder=encoder)
    started = time.perf_counter()
    report = idx.ingest(root, ocr=ocr)
    seconds = time.perf_counter() - started
    fusion.TEXT_WEIGHT = SHIPPED_WEIGHT
    if report.failed:
        raise SystemExit(f"ingest failed: {report.failed}")
    return idx, seconds


SHIPPED_WEIGHT = fusion.TEXT_WEIGHT
WEIGHTS = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def route_table(idx: Index, wanted: dict[str, tuple[str, str]], baseline: Index) -> None:
    print("\n1. retrieval by route (R@1 / R@10)")
    print(f"{'route':<34} {'exact R@1':>9} {'R@10':>6}   {'paraphrase R@1':>14} {'R@10':>6}")
    paths = list(wanted)
    for name, index, route in (
        ("baseline: no OCR, image vectors", baseline, "semantic"),
        ("keyword (BM25 on OCR / PDF text)", idx, "keyword"),
        (f"semantic (fused, text {SHIPPED_WEIGHT})", idx, "semantic"),
        ("hybrid (default)", idx, "hybrid"),
    ):
        cells = []
        for which in (0, 1):
            ranked = [
                [h.path for h in index.search(wanted[p][which], k=10, route=route)] for p in paths
            ]
            cells += [recall(ranked, paths, 1), recall(ranked, paths, 10)]
        print(f"{name:<34} {cells[0]:>9.3f} {cells[1]:>6.3f}   {cells[2]:>14.3f} {cells[3]:>6.3f}")


def sweep(idx: Index, baseline: Index, wanted: dict[str, tuple[str, str]], encoder) -> None:
    """Semantic recall for each text weight, from the image-only vectors and the texts' own."""
    print("\n2. fusion weight sweep: semantic route (R@1 / R@10)")
    rows = {r.path: r for r in baseline.store.all_items()}
    texts = {r.path: r.text for r in idx.store.all_items()}
    paths = list(wanted)
    images = baseline.store.vectors_by_id(rows[p].id for p in paths)
    image = np.stack([images[rows[p].id] for p in paths])
    fused_rows = [i for i, p in enumerate(paths) if fusion.has_enough_text(texts.get(p))]
    text = encoder.encode(
        [Item(text=texts[paths[i]]) for i in fused_rows], DOCUMENT_INSTRUCTIONS["text"]
    )
    print(f"   ({len(fused_rows)} of {len(paths)} items have enough recognised text to fuse)")
    queries = {
        which: encoder.encode(
            [Item(text=wanted[p][which]) for p in paths], instruction_for("x", has_image=False)
        )
        for which in (0, 1)
    }
    print(f"{'text weight':>11} {'exact R@1':>9} {'R@10':>6}   {'paraphrase R@1':>14} {'R@10':>6}")
    for weight in WEIGHTS:
        vectors = image.copy()
        vectors[fused_rows] = fusion.fuse(image[fused_rows], text, weight)
        cells = []
        for which in (0, 1):
            order = np.argsort(-(queries[which] @ vectors.T), axis=1)[:, :10]
            hits = order == np.arange(len(paths))[:, None]
            cells += [float(hits[:, 0].mean()), float(hits.any(axis=1).mean())]
        mark = "  <- shipped" if weight == SHIPPED_WEIGHT else ""
        numbers = f"{cells[0]:>9.3f} {cells[1]:>6.3f}   {cells[2]:>14.3f} {cells[3]:>6.3f}"
        print(f"{weight:>11.1f} {numbers}{mark}")


def photo_set(folder: Path, encoder) -> None:
    print("\n3. photo set: caption -> photo R@1, with OCR fusion vs without")
    from train.data.photos.build import load_photos
    from vsearch.ingest.decode import decode_image, read_bytes

    photos = [p for p in load_photos() if (folder / p.image_path).is_file()]
    if not photos:
        print(f"   skipped: no photos under {folder} (make photo-set)")
        return
    decoded = [
        decode_image(read_bytes(folder / p.image_path), max_side=encoder.max_image_side).item.image
        for p in photos
    ]
    image = encoder.encode([Item(image=i) for i in decoded], DOCUMENT_INSTRUCTIONS["image"])
    read = [shared_reader().read(i).text for i in decoded]
    fused_rows = [i for i, t in enumerate(read) if fusion.has_enough_text(t)]
    vectors = image.copy()
    if fused_rows:
        text = encoder.encode(
            [Item(text=read[i]) for i in fused_rows], DOCUMENT_INSTRUCTIONS["text"]
        )
        vectors[fused_rows] = fusion.fuse(image[fused_rows], text, SHIPPED_WEIGHT)
    queries = encoder.encode(
        [Item(text=p.caption) for p in photos], instruction_for("x", has_image=False)
    )
    gold = np.arange(len(photos))
    for name, v in (("without OCR (today)", image), ("with OCR fusion", vectors)):
        r1 = float((np.argmax(queries @ v.T, axis=1) == gold).mean())
        print(f"   {name:<22} R@1 {r1:.3f}  ({len(photos)} photos)")
    print(f"   OCR found enough text to fuse in {len(fused_rows)} of {len(photos)} photos")


def photo_ingest_cost(work: Path, photos: Path, encoder) -> None:
    """Ingest of the photo set (pictures with little or no text) with OCR on vs off."""
    folder = photos / "images"
    if not folder.is_dir():
        print(f"   photo set ingest: skipped, no {folder} (make photo-set)")
        return
    n = len(list(folder.glob("*.jpg")))
    off_idx, off = ingest(
        work / "photos-off", folder, encoder, ocr=False, text_weight=SHIPPED_WEIGHT
    )
    on_idx, on = ingest(work / "photos-on", folder, encoder, ocr=True, text_weight=SHIPPED_WEIGHT)
    off_idx.close()
    on_idx.close()
    print(
        f"   ingest of the photo set ({n} photos): OCR off {n / off:.2f} items/s ({off:.1f} s), "
        f"OCR on {n / on:.2f} items/s ({on:.1f} s): on/off time ratio {on / off:.2f}"
    )


def cost(root: Path, on: float, off: float, n: int, sample: list[Path]) -> None:
    print("\n4. cost")
    reader = shared_reader()
    images = [Image.open(p).convert("RGB") for p in sample]
    started = time.perf_counter()
    for image in images:
        reader.read(image)
    per = (time.perf_counter() - started) / len(images)
    print(f"   OCR: {per:.3f} s per 960x640 image (mean of {len(images)}, one thread)")
    print(
        f"   ingest of {n} items: OCR off {n / off:.2f} items/s ({off:.1f} s), "
        f"OCR on {n / on:.2f} items/s ({on:.1f} s): on/off time ratio {on / off:.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=220)
    parser.add_argument("--photos", type=Path, default=ROOT / "train/data/photos/built")
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-ocr-"))
    root = work / "fixture"
    wanted = build(root, args.items)
    print(f"fixture: {len(wanted)} items under {root}")
    encoder = load_encoder("mini")
    encoder.encode([Item(text="warm up")], None)
    shared_reader().read(Image.new("RGB", (64, 64), "white"))  # models loaded before timing
    off_idx, off = ingest(work / "off", root, encoder, ocr=False, text_weight=SHIPPED_WEIGHT)
    on_idx, on = ingest(work / "on", root, encoder, ocr=True, text_weight=SHIPPED_WEIGHT)
    baseline, _ = ingest(work / "baseline", root, encoder, ocr=False, text_weight=0.0)
    route_table(on_idx, wanted, baseline)
    sweep(on_idx, baseline, wanted, encoder)
    photo_set(args.photos, encoder)
    cost(root, on, off, len(wanted), sorted((root / "images").glob("*.jpg"))[:20])
    photo_ingest_cost(work, args.photos, encoder)
    for idx in (off_idx, on_idx, baseline):
        idx.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
