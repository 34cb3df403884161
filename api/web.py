"""The dispatcher's web page: static files from web/ (no build step), served at / with a strict CSP."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

WEB = Path(__file__).resolve().parent.parent / "web"
FILES = {"app.js": "text/javascript", "style.css": "text/css"}
# Case data (notes above all) is outside text: the page renders it as text, and the policy forbids
# inline script and any other origin, so a note that carries markup can do nothing.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                               "frame-ancestors 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index() -> FileResponse:
    return FileResponse(WEB / "index.html", media_type="text/html", headers=HEADERS)


@router.get("/web/{name}")
async def asset(name: str) -> FileResponse:
    if name not in FILES:
        raise HTTPException(404, detail=f"no file {name!r}")
    return FileResponse(WEB / name, media_type=FILES[name], headers=HEADERS)
