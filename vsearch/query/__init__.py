"""The query layer: parse, embed with the right instruction, search, filter, and task helpers.

Everything the ``query``, ``rank``, ``ground``, ``classify``, ``similar`` and ``dupes`` commands
do is one function here.
"""

from __future__ import annotations

from vsearch.query.filters import Condition, Filters
from vsearch.query.ground import Region, candidate_boxes, draw_regions, ground
from vsearch.query.neighbours import find_duplicates, similar
from vsearch.query.parser import ParsedQuery, QueryPart, parse_query
from vsearch.query.search import QueryResult, embed_query, run_query
from vsearch.query.tasks import (
    Classification,
    Scored,
    classify_images,
    classify_items,
    rank_answers,
    read_choices,
)

__all__ = [
    "Classification",
    "Condition",
    "Filters",
    "ParsedQuery",
    "QueryPart",
    "QueryResult",
    "Region",
    "Scored",
    "candidate_boxes",
    "classify_images",
    "classify_items",
    "draw_regions",
    "embed_query",
    "find_duplicates",
    "ground",
    "parse_query",
    "rank_answers",
    "read_choices",
    "run_query",
    "similar",
]
