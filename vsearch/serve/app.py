"""The ASGI app: the JSON API, the web page, an offline API docs page, and the guards."""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from vsearch.serve import guards, routes_items, routes_search
from vsearch.serve.queries import MAX_UPLOAD_BYTES
from vsearch.serve.state import ServerState

STATIC = resources.files("vsearch.serve") / "static"
_PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; "
    "style-src 'self'; script-src 'self'; frame-ancestors 'none'",
}


def create_app(state: ServerState, *, max_upload_bytes: int = MAX_UPLOAD_BYTES) -> FastAPI:
    """The app serving ``state``'s indexes.

    Args:
        state: the open indexes (and the token, if one is required).
        max_upload_bytes: the largest request body accepted (an upload plus its form).

    Returns:
        A FastAPI app; run it with uvicorn (see :mod:`vsearch.serve.runner`).
    """
    from vsearch import __version__

    app = FastAPI(
        title="vsearch",
        version=__version__,
        summary="Multimodal search over local indexes: the API behind `vsearch serve`.",
        docs_url=None,  # the stock Swagger page loads its code from a CDN; /docs is local
        redoc_url=None,
    )
    app.state.vsearch = state
    guards.install_error_handlers(app)
    app.include_router(routes_search.router)
    app.include_router(routes_items.router)
    _add_pages(app)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    if state.token:
        guards.install_token_check(app, state.token)
    app.add_middleware(guards.BodyLimit, max_bytes=max_upload_bytes)
    return app


def _add_pages(app: FastAPI) -> None:
    """The search page, the duplicates page and the API docs page: static HTML files."""

    def page(name: str) -> Response:
        return FileResponse(str(STATIC / name), media_type="text/html", headers=_PAGE_HEADERS)

    @app.get("/", include_in_schema=False)
    def search_page() -> Response:
        return page("index.html")

    @app.get("/duplicates", include_in_schema=False)
    def duplicates_page() -> Response:
        return page("duplicates.html")

    @app.get("/docs", include_in_schema=False)
    def docs_page() -> Response:
        return page("docs.html")
