"""Stepwise schema upgrades of an existing index, so a schema change never forces a re-encode.

``STEPS[n]`` takes a store from version ``n`` to ``n + 1`` inside one transaction; opening an
older index runs every step it lacks, in order (rclip's ``ensure_version``, sqlite-utils'
migrations). A new schema version adds one step here and a test that opens the previous one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy.orm import Session

from vsearch.store.metadata import MetadataStore
from vsearch.store.models import SCHEMA_VERSION


def _v1_to_v2(store: MetadataStore, session: Session) -> None:
    """Version 2: the FAISS file's freshness stamp leaves the (possibly shared) store for a file
    beside each copy's ``vectors.faiss``, and the store gets an identity of its own."""
    if store.get_meta("store_id", session=session) is None:
        store.set_meta("store_id", uuid.uuid4().hex, session)
    for key in ("faiss_generation", "faiss_kind"):
        store.delete_meta(key, session)


STEPS: dict[int, Callable[[MetadataStore, Session], None]] = {1: _v1_to_v2}


def upgrade(store: MetadataStore, found: int) -> list[int]:
    """Bring ``store`` from schema ``found`` to ``SCHEMA_VERSION``; returns the versions reached."""
    reached = []
    for version in range(found, SCHEMA_VERSION):
        with store.transaction() as session:
            STEPS[version](store, session)
            store.set_meta("schema_version", version + 1, session)
        reached.append(version + 1)
    return reached
