"""The server's safety nets: JSON errors for everything, a request-size cap, the token check.

Every error leaves as ``{"error": message, "status": code}`` (validation errors add ``detail``),
never as an HTML page or a traceback.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vsearch.errors import IndexNotFound, VsearchError
from vsearch.serve.state import NotServed

log = logging.getLogger("vsearch.serve")
TOKEN_COOKIE = "vsearch_token"


def error_response(
    status: int, message: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """The JSON body every error has; ``extra`` adds fields to it."""
    body = {"error": message, "status": status, **extra}
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """JSON responses for HTTP errors, invalid requests, vsearch errors and crashes."""

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> Response:
        return error_response(exc.status_code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        summary = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in errors
        )
        detail = json.loads(json.dumps(errors, default=str))
        return error_response(422, f"invalid request: {summary}", detail=detail)

    @app.exception_handler(VsearchError)
    async def _vsearch(_: Request, exc: VsearchError) -> Response:
        status = 404 if isinstance(exc, NotServed | IndexNotFound) else 400
        return error_response(status, str(exc))

    @app.exception_handler(ValueError)
    async def _value(_: Request, exc: ValueError) -> Response:
        return error_response(400, str(exc))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error_response(500, f"internal error ({type(exc).__name__}); see the server log")


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` gets 413, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await error_response(413, self._message())(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, self._message())
            return message

        await self.app(scope, limited, send)

    def _message(self) -> str:
        return f"request body too large (the limit is {self.max_bytes // (1024 * 1024)} MB)"


def presented_token(request: Request) -> str | None:
    """The token a request carries: ``Authorization: Bearer``, the cookie, or ``?token=``."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.cookies.get(TOKEN_COOKIE) or request.query_params.get("token")


def install_token_check(app: FastAPI, token: str) -> None:
    """Every request must carry ``token``; a page opened with ``?token=`` gets it as a cookie."""
    expected = token.encode()

    @app.middleware("http")
    async def _check(request: Request, call_next: Callable[[Request], Awaitable[Response]]):
        given = presented_token(request)
        if given is None or not hmac.compare_digest(given.encode(), expected):
            return error_response(
                401,
                "this server needs its token: send 'Authorization: Bearer TOKEN' "
                "or open the page with ?token=TOKEN",
                headers={"WWW-Authenticate": "Bearer"},
            )
        response = await call_next(request)
        if request.query_params.get("token"):
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return response
