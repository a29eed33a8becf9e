"""Build the hand-captioned real-photo set (train/data/photos/README.md) as MMEB-eval rows.

Every record of ``captions.json`` names a source photograph (a file a Debian wallpaper package
installs, or ``skimage:<file>`` for a scikit-image sample), an optional crop box in source
pixels, and one caption written by a person looking at the picture. The builder cuts the crop,
downsizes the long side to at most 1024 px, saves ``images/<id>.jpg`` (JPEG quality 90) and
writes two retrieval datasets over all pictures, in MMEB's conventions (the same instructions
as the mini-MMEB's OCA-T2I / OCA-I2T):

- ``Photos-T2I``: caption -> picture; candidates are the gold picture, then every other one.
- ``Photos-I2T``: picture -> caption; candidates are its caption, then every other one.

Usage::

    python -m train.data.photos.build --out train/data/photos/built [--only-available]

A missing Debian package stops the build with the ``apt-get install`` line that fixes it (exit
2), unless ``--only-available`` is given: then records whose source is missing are skipped and
counted. The output is deterministic for a given set of available sources.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from train.data.tasks import I2T_QUERY, IMAGE_TARGET, T2I_QUERY, eval_row

CAPTIONS = Path(__file__).with_name("captions.json")
SKIMAGE_PREFIX = "skimage:"
MAX_SIDE = 1024
JPEG_QUALITY = 90
T2I_NAME = "Photos-T2I"
I2T_NAME = "Photos-I2T"
RECORD_FIELDS = ("id", "source_package", "source_path", "crop", "caption", "author", "licence")


@dataclass(frozen=True)
class Photo:
    """One captioned picture: a source photograph and an optional crop of it."""

    id: str
    source_package: str
    source_path: str
    crop: tuple[int, int, int, int] | None
    caption: str
    author: str
    licence: str

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Photo:
        missing = [k for k in RECORD_FIELDS if k not in record]
        if missing:
            raise ValueError(f"record {record.get('id', '?')}: missing {', '.join(missing)}")
        crop = record["crop"]
        return cls(
            id=record["id"],
            source_package=record["source_package"],
            source_path=record["source_path"],
            crop=tuple(int(v) for v in crop) if crop is not None else None,
            caption=record["caption"],
            author=record["author"],
            licence=record["licence"],
        )

    @property
    def image_path(self) -> str:
        """The picture's path relative to the output folder (the rows' image root)."""
        return f"images/{self.id}.jpg"


def load_photos(path: Path = CAPTIONS) -> list[Photo]:
    """The records of ``captions.json``, in file order."""
    return [Photo.from_record(r) for r in json.loads(Path(path).read_text(encoding="utf-8"))]


def source_file(photo: Photo) -> Path:
    """Where the source photograph lies on this machine (it may not exist)."""
    if photo.source_path.startswith(SKIMAGE_PREFIX):
        import skimage

        return Path(skimage.__file__).parent / "data" / photo.source_path[len(SKIMAGE_PREFIX) :]
    return Path(photo.source_path)


def install_hint(packages: list[str]) -> str:
    """The one command that installs the missing sources."""
    debian = sorted(p for p in set(packages) if p != "scikit-image")
    parts = []
    if debian:
        parts.append(f"sudo apt-get install --no-install-recommends {' '.join(debian)}")
    if "scikit-image" in packages:
        parts.append("pip install scikit-image")
    return " && ".join(parts)


def render(photo: Photo, dest: Path) -> tuple[int, int]:
    """Load, crop, downsize and save one picture as JPEG; returns its final size."""
    from PIL import Image

    with Image.open(source_file(photo)) as im:
        im.load()
        if photo.crop is not None:
            left, top, right, bottom = photo.crop
            if not (0 <= left < right <= im.width and 0 <= top < bottom <= im.height):
                raise ValueError(f"{photo.id}: crop {photo.crop} outside {im.width}x{im.height}")
            im = im.crop(photo.crop)
        im = im.convert("RGB")
    scale = MAX_SIDE / max(im.size)
    if scale < 1:
        size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
        im = im.resize(size, Image.Resampling.LANCZOS)
    dest.parent.mkdir(parents=True, exist_ok=True)
    im.save(dest, "JPEG", quality=JPEG_QUALITY, optimize=False, progressive=False)
    return im.size


def retrieval_rows(photos: list[Photo]) -> tuple[list[dict], list[dict]]:
    """Photos-T2I and Photos-I2T rows: one query per picture, all pictures as candidates."""
    t2i, i2t = [], []
    for photo in photos:
        ordered = [photo, *(p for p in photos if p.id != photo.id)]
        t2i.append(
            eval_row(
                T2I_QUERY.format(caption=photo.caption),
                "",
                [(IMAGE_TARGET, p.image_path) for p in ordered],
            )
        )
        i2t.append(eval_row(I2T_QUERY, photo.image_path, [(p.caption, "") for p in ordered]))
    return t2i, i2t


def build(out: Path, *, only_available: bool = False, captions: Path = CAPTIONS) -> dict:
    """Write the pictures, the two JSONL datasets and ``datasets.json`` under ``out``.

    Returns:
        a summary: ``built`` and ``skipped`` counts, pictures per source package, the
        packages of the skipped records.

    Raises:
        SystemExit(2): a source is missing and ``only_available`` is False.
    """
    photos = load_photos(captions)
    missing = [p for p in photos if not source_file(p).is_file()]
    if missing and not only_available:
        packages = sorted({p.source_package for p in missing})
        print(
            f"{len(missing)} source photo(s) missing (packages: {', '.join(packages)}); "
            f"install them with:\n  {install_hint(packages)}\n"
            "or pass --only-available to build from the sources present.",
            file=sys.stderr,
        )
        raise SystemExit(2)
    skipped = {p.id for p in missing}
    kept = [p for p in photos if p.id not in skipped]
    if not kept:
        raise SystemExit("no source photo is available; nothing to build")
    out = Path(out)
    per_package: dict[str, int] = {}
    for photo in kept:
        render(photo, out / photo.image_path)
        per_package[photo.source_package] = per_package.get(photo.source_package, 0) + 1
    stale = {p.name for p in (out / "images").glob("*.jpg")} - {f"{p.id}.jpg" for p in kept}
    for name in sorted(stale):
        (out / "images" / name).unlink()
    t2i, i2t = retrieval_rows(kept)
    for name, rows in ((T2I_NAME, t2i), (I2T_NAME, i2t)):
        with (out / f"{name}.jsonl").open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    manifest = {
        "image_root": ".",
        "datasets": [
            {"name": name, "file": f"{name}.jsonl", "meta_task": "retrieval", "rows": len(rows)}
            for name, rows in ((T2I_NAME, t2i), (I2T_NAME, i2t))
        ],
    }
    (out / "datasets.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    summary = {
        "built": len(kept),
        "skipped": len(skipped),
        "skipped_packages": sorted({p.source_package for p in missing}),
        "per_package": dict(sorted(per_package.items())),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--only-available",
        action="store_true",
        help="skip records whose source photo is missing instead of failing",
    )
    parser.add_argument("--captions", type=Path, default=CAPTIONS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    summary = build(args.out, only_available=args.only_available, captions=args.captions)
    sources = ", ".join(f"{k} {v}" for k, v in summary["per_package"].items())
    print(f"{summary['built']} pictures in {args.out}/images ({sources})")
    if summary["skipped"]:
        print(
            f"skipped {summary['skipped']} record(s) whose source is missing "
            f"(packages: {', '.join(summary['skipped_packages'])}); install them with:\n  "
            + install_hint(summary["skipped_packages"])
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
