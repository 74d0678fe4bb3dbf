"""The web console: plain HTML, CSS and JavaScript modules served at `/`, under a strict CSP.

Only `/` and `/console/...` belong to it, so it never shadows the API, share links or operations
routes, and an unknown API path still answers the JSON 404. Files are read once, at start, into a
table keyed by their relative path: a request can name nothing outside that table.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request, Response

from gateway.errors import ApiError

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
# No inline script or style, nothing from another origin; the API is same-origin.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


def load_assets(directory: Path) -> dict[str, Asset]:
    """Every servable file under the directory, by its POSIX path relative to it."""
    assets = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.suffix in MEDIA_TYPES:
            body = path.read_bytes()
            etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
            assets[path.relative_to(directory).as_posix()] = Asset(body, MEDIA_TYPES[path.suffix], etag)
    return assets


ASSETS = load_assets(CONSOLE_DIR)


def serve(asset: Asset, request: Request, policy: str = CONTENT_SECURITY_POLICY) -> Response:
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": policy, "ETag": asset.etag}
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


@router.get("/")
async def console_page(request: Request) -> Response:
    """The console's single page; its routes live in the URL fragment."""
    return serve(ASSETS["index.html"], request)


@router.get("/console/{name:path}")
async def console_asset(name: str, request: Request) -> Response:
    """A script, style sheet or image of the console."""
    asset = ASSETS.get(name)
    if asset is None:
        raise ApiError(404, "NOT_FOUND", f"the console has no file {name!r}")
    return serve(asset, request)
