"""MMEB-eval rows on disk: reading JSONL/Parquet files and turning a row side into an Item.

The published MMEB-eval files (``TIGER-Lab/MMEB-eval``, one folder a dataset holding
``test-00000-of-00001.parquet``) have the columns ``qry_text, qry_img_path, tgt_text[],
tgt_img_path[]``; the gold candidate is always the first one. Image paths are relative to an
image root (MMEB's ``eval_images/``); an empty path means "no image".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vsearch.encoders.instructions import MMEB_META_TASKS
from vsearch.errors import UnsupportedInput

#: The image placeholder MMEB writes into a text (Phi-3-V's token); backends map it to their own.
MMEB_IMAGE_TOKEN = "<|image_1|>"

#: A manifest in a data folder: ``{"datasets": [{"name", "file", "meta_task", "style"}],
#: "image_root"}``; ``style`` (optional) names the MMEB dataset whose instructions the
#: rows lack (``vsearch.encoders.instructions.MMEB_DATASETS``).
MANIFEST_NAME = "datasets.json"

META_TASKS = ("classification", "vqa", "retrieval", "grounding")
__all__ = ["META_TASKS", "MMEB_META_TASKS", "EvalDataset", "EvalRow", "load_datasets"]

_SHARD_STEM = re.compile(r"^(test|train|validation|val)(-\d+-of-\d+)?$")
_DATA_SUFFIXES = (".jsonl", ".parquet")


@dataclass(frozen=True)
class EvalRow:
    """One MMEB-eval query with its candidates; ``tgt_*[0]`` is the gold candidate."""

    qry_text: str
    qry_img_path: str
    tgt_text: tuple[str, ...]
    tgt_img_path: tuple[str, ...]

    @classmethod
    def from_record(cls, record: dict[str, Any], *, where: str) -> EvalRow:
        """Build a row from a JSON/Parquet record with the published field names.

        Raises:
            UnsupportedInput: a field is missing or the candidate lists disagree in length.
        """
        missing = [
            k for k in ("qry_text", "qry_img_path", "tgt_text", "tgt_img_path") if k not in record
        ]
        if missing:
            raise UnsupportedInput(
                f"{where}: missing MMEB-eval field(s) {', '.join(missing)}; expected "
                "qry_text, qry_img_path, tgt_text[], tgt_img_path[]"
            )
        tgt_text = tuple(t or "" for t in record["tgt_text"])
        tgt_img = tuple(p or "" for p in record["tgt_img_path"])
        if len(tgt_text) != len(tgt_img) or not tgt_text:
            raise UnsupportedInput(
                f"{where}: tgt_text has {len(tgt_text)} entries and tgt_img_path "
                f"{len(tgt_img)}; they must be equal and non-zero"
            )
        return cls(record["qry_text"] or "", record["qry_img_path"] or "", tgt_text, tgt_img)


@dataclass(frozen=True)
class EvalDataset:
    """One MMEB-eval dataset: its rows, the folder its image paths are relative to, its meta-task.

    ``meta_task`` is None for a dataset that is neither an MMEB one nor named in a manifest;
    it counts towards the overall mean only. ``instructions`` names the MMEB dataset whose
    instructions its rows are written without (None: the rows carry their own).
    """

    name: str
    rows: tuple[EvalRow, ...]
    image_root: Path
    meta_task: str | None
    instructions: str | None = None


def item_text(text: str) -> str | None:
    """An MMEB text without its ``<|image_1|>`` placeholder and outer whitespace (None if empty)."""
    stripped = text.replace(MMEB_IMAGE_TOKEN, "").strip()
    return stripped or None


def with_instruction(
    text: str, instruction: str | None, *, has_image: bool, only_if_empty: bool = False
) -> str:
    """``text`` in MMEB's form with ``instruction`` in front, unless it already starts with it.

    For rows written without their dataset's instruction (``MMEB_DATASETS``): the result is
    ``"<|image_1|>\n{instruction} {text}\n"`` (no placeholder line without an image), as
    the MMEB files write theirs. A text that holds the instruction is returned unchanged, and
    so is any non-empty text when ``only_if_empty``.
    """
    if instruction is None:
        return text
    body = item_text(text)
    if body is not None and (only_if_empty or body.startswith(instruction.rstrip(".:"))):
        return text
    body = instruction if body is None else f"{instruction} {body}"
    return f"{MMEB_IMAGE_TOKEN}\n{body}\n" if has_image else f"{body}\n"


def split_instruction(text: str, *, has_instruction: bool) -> tuple[str | None, str | None]:
    """Split one side of an MMEB row into ``(instruction, text)`` for ``Encoder.encode``.

    MMEB writes the instruction into the text: ``"<|image_1|>\n{instruction} {text}\n"``. The
    harness hands an encoder the instruction and the rest apart, so that an encoder that reads
    instructions (VLM2Vec) can rebuild MMEB's exact string as ``"{instruction} {text}"`` (with
    its image token and newline around it when there is an image), and one that does not
    (label-bridge) sees just the content. The rule, after removing the placeholder:

    - a side without an instruction (``has_instruction`` False: bare labels, answers and
      captions of text-only candidates) is all text;
    - otherwise the instruction runs to the first ``": "`` (colon kept), e.g. "Represent the
      given image with the following question:" + "What is shown?";
    - else a trailing double-quoted phrase is the text (MMEB grounding: ``... labeled as``
      + ``"cat"``);
    - else it is all instruction and the text is None ("Represent the given image.").

    Returns:
        ``(instruction or None, text or None)``; ``f"{instruction} {text}"`` equals the input
        without placeholder and outer whitespace when both are set.
    """
    body = item_text(text)
    if body is None or not has_instruction:
        return None, body
    head, sep, tail = body.partition(": ")
    if sep and tail.strip():
        return head + ":", tail
    quoted = _QUOTED_TAIL.fullmatch(body)
    if quoted:
        return quoted["instruction"], quoted["text"]
    return body, None


_QUOTED_TAIL = re.compile(r'(?P<instruction>.+?) (?P<text>"[^"]*")', re.DOTALL)


def read_rows(path: Path, *, limit: int | None = None) -> list[EvalRow]:
    """Read MMEB-eval rows from a ``.jsonl`` or ``.parquet`` file, the first ``limit`` only.

    Raises:
        UnsupportedInput: the file is unreadable, of another type, or lacks the fields.
    """
    path = Path(path)
    if path.suffix == ".jsonl":
        records: Iterator[dict[str, Any]] = _jsonl_records(path)
    elif path.suffix == ".parquet":
        records = _parquet_records(path)
    else:
        raise UnsupportedInput(f"{path}: MMEB-eval data must be .jsonl or .parquet")
    rows = []
    for i, record in enumerate(records):
        if limit is not None and i >= limit:
            break
        rows.append(EvalRow.from_record(record, where=f"{path} row {i}"))
    return rows


def _jsonl_records(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with path.open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)
    except (OSError, json.JSONDecodeError) as e:
        raise UnsupportedInput(f"{path}: cannot read MMEB-eval JSONL ({e})") from e


def _parquet_records(path: Path) -> Iterator[dict[str, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError as e:
        raise UnsupportedInput(
            f"{path}: reading Parquet needs pyarrow; run `pip install 'vsearch[parquet]'`"
        ) from e
    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as e:
        raise UnsupportedInput(f"{path}: cannot read Parquet ({e})") from e
    yield from table.to_pylist()


def load_datasets(
    paths: list[Path], *, image_root: Path | None = None, limit: int | None = None
) -> list[EvalDataset]:
    """Find and read every dataset under the given files or folders.

    A path may be a data file; a folder with a ``datasets.json`` manifest (the mini-MMEB); or a
    folder of data files or of one sub-folder per dataset (the published MMEB-eval layout). A
    file named like a shard (``test-00000-of-00001.parquet``) takes its folder's name.

    Args:
        paths: files or folders.
        image_root: the folder image paths are relative to; default: the manifest's
            ``image_root``, else the data file's folder.
        limit: read at most this many rows per dataset.

    Raises:
        UnsupportedInput: a path holds no MMEB-eval data, or two datasets share a name.
    """
    found: list[EvalDataset] = []
    for path in paths:
        for name, file, meta_task, root, style in _discover(Path(path)):
            rows = tuple(read_rows(file, limit=limit))
            found.append(EvalDataset(name, rows, Path(image_root or root), meta_task, style))
    names = [d.name for d in found]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UnsupportedInput(f"more than one dataset is named {', '.join(dupes)}; pass one each")
    return found


def _discover(path: Path) -> list[tuple[str, Path, str | None, Path, str | None]]:
    if path.is_file():
        name = path.parent.name if _SHARD_STEM.match(path.stem) else path.stem
        return [(name, path, MMEB_META_TASKS.get(name), path.parent, None)]
    if not path.is_dir():
        raise UnsupportedInput(f"{path}: no such file or folder of MMEB-eval data")
    manifest = path / MANIFEST_NAME
    if manifest.is_file():
        return _from_manifest(manifest)
    files = sorted(p for p in path.glob("*") if p.suffix in _DATA_SUFFIXES)
    files += sorted(p for p in path.glob("*/*") if p.suffix in _DATA_SUFFIXES)
    if not files:
        raise UnsupportedInput(f"{path}: no .jsonl or .parquet MMEB-eval files found")
    return [entry for f in files for entry in _discover(f)]


def _from_manifest(manifest: Path) -> list[tuple[str, Path, str | None, Path, str | None]]:
    from vsearch.encoders.instructions import MMEB_DATASETS

    try:
        spec = json.loads(manifest.read_text(encoding="utf-8"))
        root = manifest.parent / spec.get("image_root", ".")
        entries = [
            (d["name"], manifest.parent / d["file"], d.get("meta_task"), root, d.get("style"))
            for d in spec["datasets"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UnsupportedInput(f"{manifest}: not a valid dataset manifest ({e})") from e
    bad = [m for _, _, m, _, _ in entries if m is not None and m not in META_TASKS]
    if bad:
        raise UnsupportedInput(f"{manifest}: unknown meta_task {bad[0]!r}; valid: {META_TASKS}")
    styles = [x for *_, x in entries if x is not None and x not in MMEB_DATASETS]
    if styles:
        raise UnsupportedInput(
            f"{manifest}: style {styles[0]!r} is not an MMEB dataset name "
            f"(e.g. SUN397, NIGHTS, MSCOCO_t2i)"
        )
    return entries
