"""Search routes: text, image upload, composed and weighted queries, similar items, duplicates,
classification and VQA answer ranking. Every hit is a ``Hit.to_dict()`` record."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile
from pydantic import BaseModel, Field

from vsearch.errors import QueryError
from vsearch.ingest.decode import read_bytes
from vsearch.query import classify_items, find_duplicates, rank_answers, similar
from vsearch.serve.deps import ServedIndex, item_or_404
from vsearch.serve.queries import MAX_RESULTS, decode_upload, query_tokens, search_records

router = APIRouter(prefix="/api", tags=["search"])

K = Annotated[int, Query(ge=1, le=MAX_RESULTS, description="Hits wanted.")]
Offset = Annotated[int, Query(ge=0, le=MAX_RESULTS, description="Hits skipped (paging).")]
Where = Annotated[
    list[str], Query(description="Filters FIELD OP VALUE, repeatable: kind=image, date>=2024.")
]
MinScore = Annotated[float | None, Query(ge=-1, le=1, description="Drop hits below this cosine.")]


@router.get("/search")
def search_text(
    target: ServedIndex,
    q: Annotated[str | None, Query(description='Query language: "2:dog + beach - fruit".')] = None,
    term: Annotated[list[str], Query(description="Query tokens, as a shell passes them.")] = [],  # noqa: B006
    k: K = 20,
    offset: Offset = 0,
    where: Where = [],  # noqa: B006
    min_score: MinScore = None,
    instruction: str | None = None,
) -> dict[str, Any]:
    """Search with text: words, or weighted parts joined by + and -."""
    records = search_records(
        target.index,
        query_tokens(q, term),
        k=k,
        offset=offset,
        where=where,
        min_score=min_score,
        instruction=instruction,
    )
    return {"index": target.name, "k": k, "offset": offset, "hits": records}


@router.post("/search")
def search_image(
    target: ServedIndex,
    image: Annotated[UploadFile, File(description="The query image.")],
    q: Annotated[str | None, Form(description="Text composed with the image.")] = None,
    term: Annotated[list[str], Form(description="Or the text as query tokens.")] = [],  # noqa: B006
    k: Annotated[int, Form(ge=1, le=MAX_RESULTS)] = 20,
    offset: Annotated[int, Form(ge=0, le=MAX_RESULTS)] = 0,
    where: Annotated[list[str], Form()] = [],  # noqa: B006
    min_score: Annotated[float | None, Form(ge=-1, le=1)] = None,
    instruction: Annotated[str | None, Form()] = None,
) -> dict[str, Any]:
    """Search with an uploaded image, alone or composed with a text (and more weighted parts)."""
    query_image = decode_upload(image.file.read(), target.index.encoder.max_image_side)
    records = search_records(
        target.index,
        query_tokens(q, term),
        image=query_image,
        image_label=image.filename or "image",
        k=k,
        offset=offset,
        where=where,
        min_score=min_score,
        instruction=instruction,
    )
    return {"index": target.name, "k": k, "offset": offset, "hits": records}


@router.get("/items/{item_id}/similar")
def similar_items(
    target: ServedIndex,
    item_id: str,
    k: K = 20,
    where: Where = [],  # noqa: B006
    min_score: MinScore = None,
) -> dict[str, Any]:
    """The items most like an indexed one, by its stored vector (itself excluded)."""
    hit = item_or_404(target, item_id)
    hits = similar(target.index, hit.abspath, k=k, filters=where, min_score=min_score)
    records = [{"rank": rank, **h.to_dict()} for rank, h in enumerate(hits, 1)]
    return {"index": target.name, "item": hit.to_dict(), "hits": records}


@router.get("/duplicates")
def duplicates(
    target: ServedIndex,
    threshold: Annotated[float, Query(ge=0, le=1, description="Cosine that links two.")] = 0.95,
    where: Where = [],  # noqa: B006
) -> dict[str, Any]:
    """Groups of near-duplicates; ``keep`` is the copy the engine keeps (the most pixels, then
    the largest file, then the oldest), as ``vsearch dupes --paths`` lists all the others."""
    groups = find_duplicates(target.index, threshold=threshold, filters=where)
    return {
        "index": target.name,
        "threshold": threshold,
        "groups": [
            {"group": n, "keep": group[0].id, "items": [h.to_dict() for h in group]}
            for n, group in enumerate(groups, 1)
        ],
    }


class ClassifyRequest(BaseModel):
    """Zero-shot classification of the index's items among labels."""

    labels: list[str] = Field(min_length=1, max_length=200)
    where: list[str] = Field(default_factory=list)
    instruction: str | None = None


@router.post("/classify")
def classify(target: ServedIndex, body: ClassifyRequest) -> dict[str, Any]:
    """Each item's best labels, from its stored vector (only the labels are embedded)."""
    found = classify_items(
        target.index, body.labels, filters=body.where, instruction=body.instruction
    )
    return {"index": target.name, "items": [c.to_dict() for c in found]}


@router.post("/rank")
def rank(
    target: ServedIndex,
    question: Annotated[str, Form(min_length=1)],
    answers: Annotated[list[str], Form(min_length=1)],
    image: Annotated[UploadFile | None, File(description="The image asked about.")] = None,
    item: Annotated[str | None, Form(description="Or an indexed image, by id.")] = None,
    instruction: Annotated[str | None, Form()] = None,
) -> dict[str, Any]:
    """VQA: rank candidate answers to a question about an uploaded or an indexed image."""
    encoder = target.index.encoder
    if image is not None:
        data = image.file.read()
    elif item is not None:
        data = read_bytes(item_or_404(target, item, kind="image").abspath)
    else:
        raise QueryError("give the image: an upload (image) or an indexed one (item)")
    picture = decode_upload(data, encoder.max_image_side)
    ranked = rank_answers(encoder, picture, question, answers, instruction=instruction)
    return {"answers": [{"rank": n, **s.to_dict()} for n, s in enumerate(ranked, 1)]}
