"""``vsearch.json``: the manifest every index folder holds, checked before anything else."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from vsearch.atomic import write_text
from vsearch.encoders.base import EncoderIdentity
from vsearch.errors import IndexNotFound, SchemaVersionError
from vsearch.store import urls
from vsearch.store.models import SCHEMA_VERSION
from vsearch.store.tuning import RECALL_TARGET, UNTUNED

MANIFEST_NAME = "vsearch.json"
FORMAT = "vsearch-index"


def _versions() -> dict[str, str]:
    found = {}
    for package in ("vsearch", "faiss-cpu", "torch", "transformers", "sqlalchemy"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


@dataclass
class Manifest:
    encoder: EncoderIdentity
    store_url: str | None = None  # None: metadata.sqlite in the index folder; never a password
    store_namespace: str | None = None  # the index's schema on a shared (PostgreSQL) database
    index_kind: str = "auto"
    #: The recall@10 the approximate kinds are tuned to reach, and settings that override the
    #: tuning where they name all of a kind's settings ({"nprobe": 64}, {"ef_search": 256}).
    index_recall: float = RECALL_TARGET
    index_params: dict[str, int] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    metric: str = "inner_product"
    libraries: dict[str, str] = field(default_factory=_versions)

    def search_params(self, kind: str) -> dict[str, int] | None:
        """The overriding settings for an index of ``kind``, or None: tune it."""
        names = set(UNTUNED.get(kind, {}))
        if not names or not names <= set(self.index_params):
            return None
        return {name: self.index_params[name] for name in sorted(names)}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["encoder"] = self.encoder.to_dict()
        return {"format": FORMAT, **data}

    def save(self, folder: Path) -> None:
        data = self.to_dict()
        if data["store_url"]:
            data["store_url"] = urls.without_password(data["store_url"])
        write_text(folder / MANIFEST_NAME, json.dumps(data, indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST_NAME
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise IndexNotFound(
                f"no vsearch index at {folder} (no {MANIFEST_NAME}); "
                f"create one with `vsearch ingest DIR --index {folder}`"
            ) from None
        except (OSError, json.JSONDecodeError) as exc:
            raise IndexNotFound(f"cannot read {path}: {exc}") from exc
        if data.get("format") != FORMAT:
            raise IndexNotFound(f"{path} is not a vsearch index manifest")
        version = int(data.get("schema_version", 0))
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"index at {folder} has schema version {version}, newer than this vsearch "
                f"understands ({SCHEMA_VERSION}); upgrade vsearch to open it"
            )
        return cls(
            encoder=EncoderIdentity.from_dict(data["encoder"]),
            store_url=data.get("store_url"),
            store_namespace=data.get("store_namespace"),
            index_kind=data.get("index_kind", "auto"),
            index_recall=float(data.get("index_recall", RECALL_TARGET)),
            index_params={str(k): int(v) for k, v in data.get("index_params", {}).items()},
            schema_version=version,
            metric=data.get("metric", "inner_product"),
            libraries=data.get("libraries", {}),
        )
