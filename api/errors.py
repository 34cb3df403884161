"""Bad input answers with a 4xx that names the field and the reason; a request body has a size limit."""
from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

REF = "#/components/schemas/{model}"


class FieldProblem(BaseModel):
    field: str
    reason: str


class Problem(BaseModel):
    """The body of every error answer: what was wrong, with which value; for a 422, one entry per field."""

    detail: str
    errors: list[FieldProblem] = []


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
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document_problems(generate())  # FastAPI caches the document it generated; this edits it once
        return app.openapi_schema

    app.openapi = openapi


def document_problems(schema: dict[str, Any]) -> None:
    """Makes the OpenAPI document say what this module answers: a `Problem` for 422 (FastAPI's default
    documents a list of pydantic errors instead), and the 4xx any route gives: 401/403 where it needs a
    key, 400/413 where it reads a body, 404 where it names a case; every documented 4xx/5xx carries a `Problem`."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template=REF)
    components.update(problem.pop("$defs", {}))
    components["Problem"] = problem
    content = {"application/json": {"schema": {"$ref": REF.format(model="Problem")}}}
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            responses, implied = operation.setdefault("responses", {}), {}
            if operation.get("security"):
                implied |= {"401": "missing, unknown or revoked API key", "403": "the key's role may not do this"}
            if "requestBody" in operation:
                implied |= {"400": "malformed JSON", "413": "request body over the size limit"}
            if "{case_id}" in path:
                implied["404"] = "no such case, or not one of the caller's"
            for code, description in implied.items():
                responses.setdefault(code, {"description": description})
            for code, response in responses.items():
                if code[0] in "45":
                    response["content"] = content
    for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's defaults, unused once replaced
        if f'"{REF.format(model=name)}"' not in json.dumps(schema):
            components.pop(name, None)
