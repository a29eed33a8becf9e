"""The query layer: parse, embed with the right instruction, search, filter, and task helpers."""

from __future__ import annotations

from vsearch.query.filters import Condition, Filters
from vsearch.query.parser import ParsedQuery, QueryPart, parse_query
from vsearch.query.search import QueryResult, embed_query, run_query

__all__ = [
    "Condition",
    "Filters",
    "ParsedQuery",
    "QueryPart",
    "QueryResult",
    "embed_query",
    "parse_query",
    "run_query",
]
