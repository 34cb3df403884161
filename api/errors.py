"""Bad input answers with a 4xx that names the field and the reason; a request body has a size limit."""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


def _field(loc: tuple) -> str:
    return ".".join(str(p) for p in loc if p != "body") or "body"


async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(e["type"] == "json_invalid" for e in errors):
        first = next(e for e in errors if e["type"] == "json_invalid")
        return JSONResponse(status_code=400, content={"detail": f"malformed JSON: {first['ctx'].get('error', first['msg'])}"})
    reasons = [{"field": _field(e["loc"]), "reason": "unknown field" if e["type"] == "extra_forbidden" else e["msg"]}
               for e in errors]
    summary = "; ".join(f"{r['field']}: {r['reason']}" for r in reasons)
    return JSONResponse(status_code=422, content={"detail": summary, "errors": reasons})


class BodyLimit:
    """ASGI middleware: refuses bodies over `limit` bytes with 413, by header or while streaming."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await self._too_large(send)
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._too_large(send)

    async def _too_large(self, send):
        response = JSONResponse(status_code=413, content={"detail": f"request body over the {self.limit}-byte limit"})
        await response({"type": "http"}, None, send)


class _TooLarge(Exception):
    pass


def install(app: FastAPI, body_limit: int) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_middleware(BodyLimit, limit=body_limit)
