"""Filters on item facts (``kind=image``, ``date>=2024``, ...): see :mod:`vsearch.store.filters`.

The parsing and the SQL live with the store; this module keeps the query layer's names.
"""

from __future__ import annotations

from vsearch.store.filters import Condition, Filters, as_filters

__all__ = ["Condition", "Filters", "as_filters"]
