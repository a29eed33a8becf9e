"""SQLAlchemy ORM models of an index's metadata: one row per file, its vector, index facts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

#: Bump when the tables change; an index with a higher number refuses to open.
SCHEMA_VERSION = 3

STATUS_OK = "ok"
STATUS_FAILED = "failed"
STATUS_PENDING = "pending"  # content known, vector to be (re-)computed: set by a reindex


#: A file name byte that is not UTF-8 reaches Python as a lone surrogate (U+DC80..U+DCFF, PEP 383),
#: which no database accepts as text. It is stored as the private-use character 0xF700 higher
#: (U+F780..U+F7FF), so the name survives the round trip byte for byte and stays text in SQL.
_SURROGATES = {c: c + 0xF700 - 0xDC00 for c in range(0xDC80, 0xDD00)}
_PRIVATE = {v: k for k, v in _SURROGATES.items()}


class FilePath(TypeDecorator[str]):
    """A path as the OS gave it: any bytes in the name are kept (see ``_SURROGATES``)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else value.translate(_SURROGATES)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else value.translate(_PRIVATE)


class Base(DeclarativeBase):
    pass


class FolderRow(Base):
    """A folder the index holds (schema 3), with the globs its ingests skip."""

    __tablename__ = "folders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(FilePath, unique=True)  # relative to the index folder
    excludes: Mapped[list[str]] = mapped_column(JSON)
    added_at: Mapped[datetime] = mapped_column(DateTime)


class ItemRow(Base):
    """One file under one of the index's folders: an image or a text, indexed or failed."""

    __tablename__ = "items"
    # path first: the same index answers a lookup in a folder and a folder= range on the path
    __table_args__ = (UniqueConstraint("path", "folder_id", name="uq_items_folder_path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # also the FAISS id
    folder_id: Mapped[int] = mapped_column(ForeignKey("folders.id"))
    path: Mapped[str] = mapped_column(FilePath)  # relative to its folder, "/"-separated
    kind: Mapped[str] = mapped_column(String(8))  # "image" | "text"
    size: Mapped[int] = mapped_column(BigInteger)  # bytes; 64-bit on every backend
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    content_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(8), default=STATUS_OK, index=True)
    error: Mapped[str | None] = mapped_column(Text)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    taken_at: Mapped[datetime | None] = mapped_column(DateTime)
    camera_make: Mapped[str | None] = mapped_column(String)
    camera_model: Mapped[str | None] = mapped_column(String)
    gps_lat: Mapped[float | None] = mapped_column(Float)
    gps_lon: Mapped[float | None] = mapped_column(Float)
    exif: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    text: Mapped[str | None] = mapped_column(Text)
    indexed_at: Mapped[datetime] = mapped_column(DateTime)


class VectorRow(Base):
    """The raw embedding of an item: the FAISS index is rebuilt from these."""

    __tablename__ = "vectors"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32, little-endian, dim values


class MetaRow(Base):
    """Index-level facts: schema version, encoder identity, vector generation, store id."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String, primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
