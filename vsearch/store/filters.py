"""Filters on item facts, as SQL over the metadata store (the query layer re-exports them).

A filter is a list of conditions ``FIELD OP VALUE`` (all must hold), with OP one of
``= != < <= > >= ~`` (``~``: contains, case-insensitive). Fields:

==========================  ==================================================================
``path``                    glob on the path relative to the root (``*`` and ``?``; ``*``
                            crosses folders); ``=`` and ``!=`` only
``folder``                  the item is under this folder (relative to the root)
``kind``                    ``image``, ``text`` or ``page`` (of a PDF)
``date``                    EXIF taken-at, else the file's modification time (local time);
                            ``2024``, ``2024-05``, ``2024-05-17`` or ISO date-times; ``=`` means
                            within that year/month/day
``size``                    bytes, or with a unit: ``500KB``, ``2MB``, ``1.5GB`` (1024-based)
``width`` ``height``        pixels
``camera_make`` ...         any other column of the store (``camera_model``, ``gps_lat``,
                            ``gps_lon``, ``text``)
any EXIF tag                ``Make=Canon``, ``FNumber<=2.8``, ``ISOSpeedRatings>=800``: the
                            stored EXIF value (numbers compared as numbers)
==========================  ==================================================================

Example: ``Filters.parse(["kind=image", "date>=2023-06", "folder=trips", "size<5MB"])``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

import numpy as np
from PIL import ExifTags
from sqlalchemy import ColumnElement, Float, and_, cast, func, not_, or_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import NullType

from vsearch.errors import QueryError
from vsearch.store.metadata import MetadataStore
from vsearch.store.models import STATUS_OK, ItemRow

OPS: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_CONDITION = re.compile(r"^\s*([A-Za-z_][\w]*)\s*(>=|<=|!=|=|<|>|~)\s*(.*?)\s*$", re.DOTALL)
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb)?$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4}
_NUMERIC = {"width": ItemRow.width, "height": ItemRow.height}
_NUMERIC |= {"gps_lat": ItemRow.gps_lat, "gps_lon": ItemRow.gps_lon}
_STRINGS = {"camera_make": ItemRow.camera_make, "camera_model": ItemRow.camera_model}
_STRINGS |= {"text": ItemRow.text}
SPECIAL = ("path", "folder", "kind", "date", "size")
_EXIF_TAGS = frozenset(ExifTags.TAGS.values())
_HELP = "e.g. kind=image, date>=2024-01, size<2MB, folder=trips, path=*.png, Make=Canon"


@dataclass(frozen=True)
class Condition:
    """One ``FIELD OP VALUE`` test, e.g. ``Condition("size", "<", "2MB")``."""

    field: str
    op: str
    value: str

    @classmethod
    def parse(cls, text: str) -> Condition:
        match = _CONDITION.match(text)
        if not match or not match.group(3):
            raise QueryError(
                f"bad filter {text!r}: write FIELD OP VALUE with OP one of "
                f"= != < <= > >= ~ ({_HELP})"
            )
        field, op, value = match.groups()
        known = field in SPECIAL or field in _NUMERIC or field in _STRINGS
        if not known and field not in _EXIF_TAGS:
            fields = ", ".join([*SPECIAL, *_NUMERIC, *_STRINGS])
            raise QueryError(
                f"unknown filter field {field!r}: use one of {fields} or an EXIF tag name "
                "(Make, Model, FNumber, ISOSpeedRatings, ...)"
            )
        return cls(field, op, value.strip("\"'"))

    def clause(self) -> ColumnElement[bool]:
        """This condition as a SQLAlchemy boolean expression over ``items``."""
        handler = _HANDLERS.get(self.field)
        if handler is not None:
            return handler(self)
        if self.field in _NUMERIC:
            return _compare(_NUMERIC[self.field], self, _number(self))
        if self.field in _STRINGS:
            return _compare_text(_STRINGS[self.field], self)
        value = ItemRow.exif[self.field].as_string()
        if self.op in ("=", "!=", "~"):
            return _compare_text(value, self)
        return _compare(cast(value, Float), self, _number(self))


@dataclass(frozen=True)
class Filters:
    """Conditions that every returned item meets (an empty filter lets everything through)."""

    conditions: tuple[Condition, ...] = ()

    @classmethod
    def parse(cls, conditions: Iterable[str | Condition]) -> Filters:
        """Filters from ``"FIELD OP VALUE"`` strings; raises QueryError on a bad one."""
        parsed = tuple(c if isinstance(c, Condition) else Condition.parse(c) for c in conditions)
        for condition in parsed:
            condition.clause()  # values are checked here, before any search runs
        return cls(parsed)

    def __bool__(self) -> bool:
        return bool(self.conditions)

    def clause(self) -> ColumnElement[bool]:
        return and_(true(), *(c.clause() for c in self.conditions))


def as_filters(filters: Filters | Sequence[str] | None) -> Filters:
    """Accept a ``Filters``, a list of condition strings, or None."""
    if filters is None:
        return Filters()
    if isinstance(filters, Filters):
        return filters
    if isinstance(filters, str):
        raise TypeError("filters must be a Filters or a list of condition strings, not a str")
    return Filters.parse(filters)


def matching_ids(
    store: MetadataStore,
    filters: Filters,
    among: np.ndarray | None = None,
    *,
    limit: int | None = None,
) -> np.ndarray:
    """Ids of indexed items that pass ``filters``.

    Args:
        store: the metadata store.
        filters: the conditions.
        among: restrict to these ids (``(m,)`` int64), e.g. FAISS candidates; None: all items.
        limit: stop after this many (which ones is then up to the database).

    Returns:
        ``(j,)`` int64, ascending.
    """
    query = select(ItemRow.id).where(ItemRow.status == STATUS_OK, filters.clause())
    if among is not None:
        query = query.where(ItemRow.id.in_([int(i) for i in among]))
    if limit is not None:
        query = query.limit(limit)  # no ORDER BY: the database may stop at the limit
    with store.transaction() as session:
        ids = session.scalars(query).all()
    return np.sort(np.asarray(ids, dtype=np.int64))


# ---- one handler per special field ---------------------------------------------------------


def _compare(column: Any, condition: Condition, value: Any) -> ColumnElement[bool]:
    if condition.op == "~":
        raise QueryError(f"filter {condition.field}~...: '~' (contains) works on text fields only")
    return OPS[condition.op](column, value)


def _compare_text(column: Any, condition: Condition) -> ColumnElement[bool]:
    value = condition.value.lower()
    if condition.op == "~":
        return func.lower(column).contains(value, autoescape=True)
    return OPS[condition.op](func.lower(column), value)


def _number(condition: Condition) -> float:
    try:
        return float(condition.value)
    except ValueError:
        raise QueryError(
            f"filter {condition.field}{condition.op}{condition.value}: {condition.value!r} is "
            "not a number"
        ) from None


def _glob_to_like(pattern: str) -> str:
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def _path(condition: Condition) -> ColumnElement[bool]:
    if condition.op not in ("=", "!="):
        raise QueryError(f"filter path{condition.op}...: paths take = or != with a glob")
    like = ItemRow.path.like(_glob_to_like(condition.value.removeprefix("./")), escape="\\")
    return like if condition.op == "=" else not_(like)


def _folder(condition: Condition) -> ColumnElement[bool]:
    if condition.op not in ("=", "!="):
        raise QueryError(f"filter folder{condition.op}...: folders take = or !=")
    folder = condition.value.strip("/").removeprefix("./")
    if "*" in folder or "?" in folder:
        under = ItemRow.path.like(_glob_to_like(folder) + "/%", escape="\\")
    else:
        under = _StartsWith(ItemRow.path, folder + "/")
    return under if condition.op == "=" else not_(under)


class _StartsWith(ColumnElement[bool]):
    """``column`` starts with ``prefix`` (case-sensitive), in a form the database can answer
    from an index on ``column`` (see ``_starts_with_sqlite``)."""

    inherit_cache = True
    # Not Boolean: SQLite would compare the whole range with 1 and read it as one bound only.
    type = NullType()
    _traverse_internals: ClassVar = [
        ("column", InternalTraversal.dp_clauseelement),
        ("prefix", InternalTraversal.dp_string),
    ]

    def __init__(self, column: Any, prefix: str) -> None:
        self.column = column
        self.prefix = prefix


@compiles(_StartsWith)
def _starts_with(element: _StartsWith, compiler: Any, **kw: Any) -> str:
    pattern = element.prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    like = element.column.like(pattern + "%", escape="\\")
    return f"({compiler.process(like, **kw)})"


@compiles(_StartsWith, "sqlite")
def _starts_with_sqlite(element: _StartsWith, compiler: Any, **kw: Any) -> str:
    # A range in SQLite's byte order: what the path's index answers (LIKE is case-insensitive
    # there and reads every row). The prefix ends in "/", so the next character bounds it.
    prefix = element.prefix
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return f"({compiler.process(and_(element.column >= prefix, element.column < end), **kw)})"


def _kind(condition: Condition) -> ColumnElement[bool]:
    if condition.value not in ("image", "text", "page") or condition.op not in ("=", "!="):
        raise QueryError(
            f"filter kind{condition.op}{condition.value}: use kind=image, kind=text or kind=page"
        )
    return OPS[condition.op](ItemRow.kind, condition.value)


def _size(condition: Condition) -> ColumnElement[bool]:
    match = _SIZE.match(condition.value)
    if not match:
        raise QueryError(f"filter size{condition.op}{condition.value}: write e.g. 500KB or 2MB")
    size = float(match.group(1)) * _UNITS[(match.group(2) or "b").lower()]
    return _compare(ItemRow.size, condition, size)


def _date(condition: Condition) -> ColumnElement[bool]:
    start, end = _date_range(condition.value)
    if condition.op == "~":
        raise QueryError("filter date~...: use = (within a year, month or day), <, <=, >, >=")
    low, high = {
        "=": (start, end),
        ">=": (start, None),
        ">": (end, None),
        "<": (None, start),
        "<=": (None, end),
        "!=": (start, end),
    }[condition.op]
    inside = and_(
        true(),
        *([_date_at_least(low)] if low else []),
        *([not_(_date_at_least(high))] if high else []),
    )
    return not_(inside) if condition.op == "!=" else inside


def _date_at_least(when: datetime) -> ColumnElement[bool]:
    """taken_at >= when, or (no taken_at and) mtime >= when (local time)."""
    mtime_ns = int(when.timestamp() * 1e9)
    return or_(
        and_(ItemRow.taken_at.is_not(None), ItemRow.taken_at >= when),
        and_(ItemRow.taken_at.is_(None), ItemRow.mtime_ns >= mtime_ns),
    )


def _date_range(value: str) -> tuple[datetime, datetime]:
    """``[start, end)`` of a year, month, day, or an instant given in ISO form."""
    for fmt, step in (("%Y", "year"), ("%Y-%m", "month"), ("%Y-%m-%d", "day")):
        try:
            start = datetime.strptime(value, fmt)
        except ValueError:
            continue
        try:
            if step == "year":
                return start, start.replace(year=start.year + 1)
            if step == "month":
                month = start.month % 12 + 1
                return start, start.replace(year=start.year + start.month // 12, month=month)
            return start, start + timedelta(days=1)
        except (ValueError, OverflowError):
            raise QueryError(
                f"filter date: {value!r} is past the last date vsearch can compare"
            ) from None
    try:
        start = datetime.fromisoformat(value).replace(tzinfo=None)
    except ValueError:
        raise QueryError(
            f"filter date: {value!r} is not a date; write 2024, 2024-05, 2024-05-17 or "
            "2024-05-17T14:30"
        ) from None
    return start, start + timedelta(seconds=1)


_HANDLERS: dict[str, Callable[[Condition], ColumnElement[bool]]] = {
    "path": _path,
    "folder": _folder,
    "kind": _kind,
    "size": _size,
    "date": _date,
}
