"""Database URLs: the driver vsearch uses, and the forms that may be written or shown.

A password never reaches the manifest or a message: the manifest keeps the URL without it (the
server then takes it from ``PGPASSWORD`` or ``~/.pgpass``, or from the URL the user gives again),
and every message shows ``***`` in its place.
"""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from vsearch.errors import StoreError


def parse(url: str | URL) -> URL:
    """``url`` as a SQLAlchemy URL; ``postgres://`` and ``postgresql://`` use psycopg 3.

    Raises:
        StoreError: not a database URL.
    """
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        raise StoreError(
            f"{url!r} is not a database URL; write e.g. postgresql://user@host/dbname or "
            "sqlite:////path/to/file.db"
        ) from None
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def without_password(url: str | URL) -> str:
    """The URL as the manifest stores it: everything but the password."""
    return parse(url)._replace(password=None).render_as_string(hide_password=False)


def masked(url: str | URL) -> str:
    """The URL as messages show it: the password, if any, as ``***``."""
    try:
        return parse(url).render_as_string(hide_password=True)
    except StoreError:
        return "<unparsable URL>"


def is_sqlite(url: str | URL) -> bool:
    return parse(url).get_backend_name() == "sqlite"


def same_database(a: str | URL, b: str | URL) -> bool:
    """Whether two URLs name the same database (passwords and query options aside)."""
    first, second = parse(a), parse(b)
    keys = ("drivername", "username", "host", "port", "database")
    return all(getattr(first, k) == getattr(second, k) for k in keys)
