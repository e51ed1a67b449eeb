"""/api/docs: Swagger UI 5 over /api/openapi.json, from the swagger-ui-bundle-v2 package (no
CDN). Its own Content-Security-Policy adds inline styles, which Swagger UI's React sets."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from swagger_ui_bundle import swagger_ui_path

SWAGGER_FILES = Path(str(swagger_ui_path))
SWAGGER_STATIC = "/static/swagger"
DOCS_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'none'"
)
_PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sanctions-watch read API</title>
<link rel="stylesheet" href="{SWAGGER_STATIC}/swagger-ui.css">
<script src="{SWAGGER_STATIC}/swagger-ui-bundle.js" defer></script>
<script src="/static/swagger-init.js" defer></script>
</head>
<body><div id="swagger-ui"></div></body>
</html>
"""

router = APIRouter(include_in_schema=False)


@router.get("/api/docs")
def api_docs() -> HTMLResponse:
    """Public like /api/openapi.json: the page holds no data; its calls need a token."""
    return HTMLResponse(_PAGE, headers={"Content-Security-Policy": DOCS_POLICY})
