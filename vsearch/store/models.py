"""SQLAlchemy ORM models of an index's metadata: one row per file, its vector, index facts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    DDL,
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
    event,
    func,
    literal_column,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

#: Bump when the tables change; an index with a higher number refuses to open.
SCHEMA_VERSION = 4

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
    kind: Mapped[str] = mapped_column(String(8))  # "image" | "text" | "page" (of a PDF)
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
    text: Mapped[str | None] = mapped_column(Text)  # a text's, a page's text layer, or OCR'd
    #: Where ``text`` came from ("file", "pdf", "ocr") and, for OCR, the words' boxes (schema 4).
    text_source: Mapped[str | None] = mapped_column(String(8))
    boxes: Mapped[list[Any] | None] = mapped_column(JSON)
    indexed_at: Mapped[datetime] = mapped_column(DateTime)


#: The keyword route's index of ``items.text`` (schema 4). SQLite: an FTS5 table over the items'
#: text, kept by triggers, so every writer of ``items`` keeps it true without knowing of it.
#: PostgreSQL: a GIN index on the text's ``tsvector`` (the ``simple`` configuration: no stemming
#: or stop words, like SQLite's ``unicode61``). Both match words, case- and accent-insensitive.
FTS_TABLE = "items_fts"
SQLITE_FTS_DDL = (
    f"""CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(text, content='items', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2')""",
    f"""CREATE TRIGGER items_fts_insert AFTER INSERT ON items WHEN new.text IS NOT NULL BEGIN
        INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.id, new.text); END""",
    f"""CREATE TRIGGER items_fts_delete AFTER DELETE ON items WHEN old.text IS NOT NULL BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) VALUES ('delete', old.id, old.text);
        END""",
    f"""CREATE TRIGGER items_fts_update AFTER UPDATE OF text ON items BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text)
            SELECT 'delete', old.id, old.text WHERE old.text IS NOT NULL;
        INSERT INTO {FTS_TABLE}(rowid, text) SELECT new.id, new.text WHERE new.text IS NOT NULL;
        END""",
)
for _statement in SQLITE_FTS_DDL:
    event.listen(ItemRow.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite"))


PG_FTS_DDL = (
    "CREATE INDEX ix_items_text_fts ON %(fullname)s "
    "USING gin (to_tsvector('simple', coalesce(text, '')))"
)
event.listen(ItemRow.__table__, "after_create", DDL(PG_FTS_DDL).execute_if(dialect="postgresql"))


def text_vector(column: Any) -> Any:
    """PostgreSQL's ``tsvector`` of a text column: the expression ``PG_FTS_DDL`` indexes."""
    return func.to_tsvector(literal_column("'simple'"), func.coalesce(column, ""))


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
