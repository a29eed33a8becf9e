"""Open Clip Art as Debian ships it: PNG pictures, their SVG's RDF metadata, folder categories.

Layout: ``<root>/png/<category>/<sub>/.../<stem>.png`` with the same path under ``svg/``. Each
SVG's ``cc:Work`` holds ``dc:title``, ``dc:description``, ``dc:subject`` keywords and
``dc:creator``. Many titles are collection names ("Lemon SVG theme", "gramastar"), so a title is
used only when it describes this one picture; otherwise the file name (without the author's
name that the library appends) and the keywords say what the picture is.
"""

from __future__ import annotations

import html
import re
import warnings
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

NS = {
    "dc": "http://purl.org/dc/elements/1.1/",
    "cc": "http://web.resource.org/cc/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
}
#: Titles that name a collection, an author or a file, not the picture.
COLLECTION_TITLE = re.compile(
    r"collection|theme|\bicons?\b|iconset|clip ?arts?\b|\bsvg\b|part of|various|hash\(|"
    r"submission|sibmission|symbol_signs|^advertising$|^map symbols$",
    re.IGNORECASE,
)
#: A title shared by more files than this is a collection name ("card", "people", "stick man").
MAX_TITLE_USES = 2
#: Descriptions that say nothing about the picture.
NOT_A_DESCRIPTION = re.compile(
    r"HASH\(|@|https?:|made with|created with|sodipodi|inkscape", re.IGNORECASE
)
#: Larger pictures are skipped: decoding them costs more than they add.
MAX_PIXELS = 16_000_000
#: Keywords that say nothing about the picture.
NOISE_KEYWORDS = {
    "hash",
    "icons",
    "icon",
    "theme",
    "clipart",
    "clip art",
    "svg",
    "magick",
    "lemon theme icon",
    "mimeicon",
    "united nations member",
}


@dataclass(frozen=True)
class ClipArt:
    """One picture of the library with what its metadata says about it."""

    rel: str  # path under png/ without ".png", e.g. "animals/mammals/dogs/bored_dog_01"
    title: str  # cleaned dc:title, possibly a collection name
    description: str
    keywords: tuple[str, ...]
    creator: str
    title_describes: bool  # the title names this picture (set by ``scan_library``)
    name: str  # a short object name: the title when it describes the picture, else file words

    @property
    def category(self) -> str:
        return self.rel.split("/")[0]

    @property
    def subcategory(self) -> str | None:
        parts = self.rel.split("/")
        return parts[1] if len(parts) > 2 else None

    @property
    def caption(self) -> str:
        """A retrieval caption built only from the metadata."""
        if self.title_describes:
            desc = self.description
            good_desc = desc and desc.lower() != self.title.lower() and len(desc) <= 200
            return f"{self.title}. {desc}" if good_desc else self.title
        keywords = [k for k in self.keywords if k.lower() not in self.name.lower().split()]
        return f"{self.name}: {', '.join(keywords)}" if keywords else self.name


def clean(text: str | None) -> str:
    """``html.unescape``, underscores to spaces, whitespace collapsed."""
    text = html.unescape(text or "").replace("_", " ")
    return re.sub(r"\s+", " ", text).strip()


def read_metadata(svg: Path) -> tuple[str, str, tuple[str, ...], str]:
    """``(title, description, keywords, creator)`` from an SVG's RDF, cleaned; "" when absent."""
    try:
        work = ET.parse(svg).getroot().find(".//cc:Work", NS)
    except (ET.ParseError, OSError):
        work = None
    if work is None:
        return "", "", (), ""
    description = clean(work.findtext("dc:description", "", NS))
    if NOT_A_DESCRIPTION.search(description):  # export bugs, e-mails, links, tool names
        description = ""
    keywords = []
    for li in work.findall("dc:subject/rdf:Bag/rdf:li", NS):
        kw = clean(li.text)
        if kw and kw.lower() not in NOISE_KEYWORDS and not re.fullmatch(r"0x[0-9a-f]+", kw):
            keywords.append(kw)
    creator = clean(work.findtext("dc:creator/cc:Agent/dc:title", "", NS))
    keywords = [k for k in keywords if k.lower() != creator.lower()]
    title = clean(work.findtext("dc:title", "", NS))
    return title, description, tuple(dict.fromkeys(keywords)), creator


def file_words(stem: str, creator: str) -> str:
    """The words of a file name without the numbering and the author's name the library added.

    ``cigno_architetto_frances_01`` by "Architetto Francesco Rollandin" -> ``cigno``.
    """
    stem = re.sub(r"[_-]*\d*[a-z]?$", "", stem) if re.search(r"_\d+[a-z]?$", stem) else stem
    author = [a for a in re.split(r"[^a-z0-9]+", creator.lower()) if len(a) >= 3]
    words = [w for w in re.split(r"[_\-\s.]+", stem) if w]
    kept = [w for w in words if not any(len(w) >= 3 and a.startswith(w.lower()) for a in author)]
    return " ".join(kept or words)


def title_describes(title: str, uses: int) -> bool:
    """Whether a cleaned title names its picture rather than a collection."""
    return (
        uses <= MAX_TITLE_USES
        and re.search(r"[A-Za-z]{3}", title) is not None
        and len(title) <= 80
        and not COLLECTION_TITLE.search(title)
    )


def readable(png: Path) -> bool:
    """Whether a PNG opens and is at most ``MAX_PIXELS`` (one file of the library has 623 M)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(png) as image:
                return image.width * image.height <= MAX_PIXELS
    except (OSError, Image.DecompressionBombError):
        return False


def scan_library(root: Path) -> list[ClipArt]:
    """Every PNG under ``root/png`` that has its SVG under ``root/svg``, sorted by path.

    Raises:
        FileNotFoundError: ``root`` lacks ``png/`` or ``svg/``.
    """
    png_root, svg_root = root / "png", root / "svg"
    if not png_root.is_dir() or not svg_root.is_dir():
        raise FileNotFoundError(
            f"{root} has no png/ and svg/ folders; install Debian's openclipart-png and "
            "openclipart-svg (make mini-mmeb does) or pass --library"
        )
    raw, seen = [], set()
    for png in sorted(png_root.rglob("*.png")):
        rel = png.relative_to(png_root).with_suffix("").as_posix()
        svg = svg_root / f"{rel}.svg"
        # Debian links one picture into several folders; keep its first path only.
        if svg.is_file() and png.resolve() not in seen and readable(png):
            seen.add(png.resolve())
            raw.append((rel, *read_metadata(svg)))
    uses = Counter(title.lower() for _, title, *_ in raw)
    desc_uses = Counter(desc.lower() for _, _, desc, *_ in raw)
    arts = []
    for rel, title, description, keywords, creator in raw:
        good = title_describes(title, uses[title.lower()])
        if desc_uses[description.lower()] > MAX_TITLE_USES:  # a collection's description
            description = ""
        name = title if good else file_words(rel.rsplit("/", 1)[-1], creator)
        arts.append(ClipArt(rel, title, description, keywords, creator, good, name))
    return arts
