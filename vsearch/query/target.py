"""What the query functions need of an index: its encoder, its catalog and a vector search.

:class:`vsearch.Index` is one; the query layer never imports it, so the two do not depend on
each other in a cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from vsearch.encoders.base import Encoder
    from vsearch.hit import Hit
    from vsearch.store.catalog import Catalog
    from vsearch.store.filters import Filters


class SearchTarget(Protocol):
    """An open index, as far as a query needs it."""

    @property
    def encoder(self) -> Encoder: ...

    @property
    def catalog(self) -> Catalog: ...

    def search_vector(
        self,
        query_emb: np.ndarray,
        *,
        k: int = 10,
        filters: Filters | Sequence[str] | None = None,
        min_score: float | None = None,
    ) -> list[Hit]: ...
