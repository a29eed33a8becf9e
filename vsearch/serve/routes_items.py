"""Item and index routes: metadata, thumbnails, the files themselves, info, re-sync.

Items are addressed by id only; the file served is the one the index recorded for that id.
"""

from __future__ import annotations

import mimetypes
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response
from starlette.exceptions import HTTPException

from vsearch.serve import thumbnails
from vsearch.serve.deps import ServedIndex, item_or_404
from vsearch.serve.state import Served, ServerState

router = APIRouter(prefix="/api", tags=["items"])
THUMBNAIL_CACHE = "private, max-age=86400"
FILE_CACHE = "private, max-age=300, must-revalidate"


def _index_facts(served: Served) -> dict[str, Any]:
    return {"name": served.name, **served.index.info(), "resync": served.job.to_dict()}


@router.get("/indexes")
def indexes(request: Request) -> dict[str, Any]:
    """Every index this server serves (the first is the default)."""
    state: ServerState = request.app.state.vsearch
    return {"indexes": [_index_facts(s) for s in state.served.values()]}


@router.get("/info")
def info(target: ServedIndex) -> dict[str, Any]:
    """What an index holds and which encoder built it (``vsearch info --json``), and its
    re-sync job."""
    return _index_facts(target)


@router.get("/items/{item_id}")
def item(target: ServedIndex, item_id: str) -> dict[str, Any]:
    """One item's record (``Hit.to_dict()``, score 1.0) and the URLs of its pictures."""
    hit = item_or_404(target, item_id)
    links = {"file": f"/api/items/{hit.id}/file?index={target.name}"}
    if hit.kind == "image":
        links["thumbnail"] = f"/api/items/{hit.id}/thumbnail?index={target.name}"
    return {**hit.to_dict(), "links": links}


@router.get("/items/{item_id}/thumbnail", response_class=Response)
def thumbnail(
    request: Request,
    target: ServedIndex,
    item_id: str,
    size: Annotated[int, Query(description=f"Longest side, one of {thumbnails.SIZES}.")] = 256,
) -> Response:
    """A JPEG thumbnail (EXIF-transposed), cached under the index folder by content hash."""
    hit = item_or_404(target, item_id, kind="image")
    if size not in thumbnails.SIZES:
        raise ValueError(f"size must be one of {thumbnails.SIZES}, got {size}")
    digest = str(hit.metadata.get("content_hash", ""))
    etag = f'"{digest}-{size}"'
    headers = {"ETag": etag, "Cache-Control": THUMBNAIL_CACHE}
    cached = digest and thumbnails.cache_path(target.index.folder, digest, size).is_file()
    if cached and etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    thumb = thumbnails.thumbnail(target.index.folder, hit.abspath, digest, size)
    headers["ETag"] = thumb.etag
    if thumb.path is not None:
        return FileResponse(thumb.path, media_type="image/jpeg", headers=headers)
    headers["Cache-Control"] = "no-store"
    return Response(thumb.read(), media_type="image/jpeg", headers=headers)


@router.get("/items/{item_id}/file", response_class=Response)
def item_file(target: ServedIndex, item_id: str) -> Response:
    """The item's file as the index recorded it, shown inline."""
    hit = item_or_404(target, item_id)
    if not hit.abspath.is_file():
        raise HTTPException(404, f"{hit.path} is gone from disk; re-sync the index")
    media = mimetypes.guess_type(hit.abspath.name)[0] or "application/octet-stream"
    if hit.kind == "text":
        media = "text/plain; charset=utf-8"
    headers = {"Cache-Control": FILE_CACHE, "X-Content-Type-Options": "nosniff"}
    return FileResponse(
        hit.abspath,
        media_type=media,
        headers=headers,
        filename=hit.abspath.name,
        content_disposition_type="inline",
    )


@router.post("/resync", status_code=202)
def resync(target: ServedIndex) -> dict[str, Any]:
    """Re-sync the index with its folder in the background (``vsearch ingest``); poll
    GET /api/resync for progress. ``started_now`` is false when one was already running."""
    job, started = target.start_sync()
    return {**job.to_dict(), "started_now": started}


@router.get("/resync")
def resync_status(target: ServedIndex) -> dict[str, Any]:
    """The current or last re-sync job: state, items encoded of total, report or error."""
    return target.job.to_dict()
