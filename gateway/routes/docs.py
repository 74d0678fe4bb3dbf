"""The interactive API docs at `/docs` (Swagger UI) and `/redoc`, served by the gateway itself.

FastAPI's stock pages load their scripts from a CDN and start Swagger UI with an inline script, so
they are blank offline and under the console's Content-Security-Policy. Here the assets come from the
pinned `fastapi-offline` package (Swagger UI and ReDoc as released), the start-up script is a file of
ours, and every response carries the console's security headers. Files are read once, at start.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request, Response

from gateway.errors import ApiError
from gateway.routes.console import CONTENT_SECURITY_POLICY, Asset, load_assets, serve

PAGES_DIR = Path(__file__).resolve().parent.parent / "docs"
PACKAGE_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"

# The package's Swagger UI and ReDoc bundles and style sheet, and our pages and start-up script.
ASSETS: dict[str, Asset] = {**load_assets(PACKAGE_DIR), **load_assets(PAGES_DIR)}

# ReDoc styles itself by writing <style> elements (styled-components), which `style-src 'self'` blocks
# (ReDoc then stops with an error), and runs its search in a worker made from a blob: its page alone
# also allows both. Scripts still come from this origin only, so neither opens a way to inject one.
REDOC_POLICY = CONTENT_SECURITY_POLICY.replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'; worker-src blob:"
)

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def swagger_ui(request: Request) -> Response:
    """Swagger UI over /openapi.json: every operation, with "Authorize" for a bearer token."""
    return serve(ASSETS["swagger.html"], request)


@router.get("/redoc")
async def redoc(request: Request) -> Response:
    """ReDoc over /openapi.json: the same schema as one long reference page."""
    return serve(ASSETS["redoc.html"], request, policy=REDOC_POLICY)


@router.get("/docs/assets/{name}")
async def docs_asset(name: str, request: Request) -> Response:
    """A script or style sheet of the docs pages."""
    asset = ASSETS.get(name)
    if asset is None or name.endswith(".html"):
        raise ApiError(404, "NOT_FOUND", f"the API docs have no file {name!r}")
    return serve(asset, request)
