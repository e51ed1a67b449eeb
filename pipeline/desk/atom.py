"""/feeds/flags.atom: flags for the analysts' own feed readers, per status and per entity.

Token-protected like the API (a user's API token or the --auth-token), taken from the
`Authorization: Bearer` header or, since most feed readers cannot send headers, `?token=`.
Built with xml.etree (feedgen 1.0.0 drops the rel of entry links); every entry links to the
story on the desk (alternate) and to the article (related).
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from pipeline.core.clock import utcnow
from pipeline.desk.api_entities import ENTITY_ID
from pipeline.desk.auth import DeskAuth

ATOM_TYPE = "application/atom+xml; charset=utf-8"
_TOKEN_IN_QUERY = re.compile(r"([?&]token=)[^&\s]*")
ATOM_NS = "http://www.w3.org/2005/Atom"
ENTRIES = 100  # the newest flags

router = APIRouter(tags=["feeds"])


@router.get(
    "/feeds/flags.atom",
    response_class=Response,
    responses={
        200: {"content": {"application/atom+xml": {}}, "description": "An Atom feed"},
        401: {"description": "No or unknown token"},
    },
)
def flags_atom(
    request: Request,
    status: Annotated[Literal["new", "relevant", "dismissed", "all"], Query()] = "new",
    entity: Annotated[str | None, Query(pattern=ENTITY_ID, description="An entity id.")] = None,
    token: Annotated[
        str | None, Query(max_length=500, description="The token, for readers without headers.")
    ] = None,
) -> Response:
    """The newest flags in this status (all: every status), of one entity or of all."""
    auth: DeskAuth = request.app.state.auth
    presented = token or _bearer(request.headers.get("authorization", ""))
    if not presented or auth.bearer_principal(presented) is None:
        raise HTTPException(401, "missing or unknown token", headers={"WWW-Authenticate": "Bearer"})
    repository = request.app.state.repository
    flags = repository.newest_flags(
        status=None if status == "all" else status, entity_id=entity, limit=ENTRIES
    )
    base = str(request.base_url).rstrip("/")
    body = atom_document(flags, base=base, status=status, entity=entity)
    return Response(body, media_type=ATOM_TYPE)


def atom_document(
    flags: list[dict[str, Any]], *, base: str, status: str, entity: str | None
) -> bytes:
    """An Atom 1.0 document (RFC 4287), newest flag first."""
    scope = f"{status} flags" + (f" of {entity}" if entity else "")
    query = f"status={status}" + (f"&entity={entity}" if entity else "")
    feed = ET.Element("feed", {"xmlns": ATOM_NS})
    _text(feed, "id", f"{base}/feeds/flags.atom?{query}")
    _text(feed, "title", f"sanctions-watch: {scope}")
    _text(feed, "updated", _time(max((_updated(f) for f in flags), default=utcnow())))
    _text(ET.SubElement(feed, "author"), "name", "sanctions-watch")
    ET.SubElement(feed, "link", {"rel": "alternate", "href": f"{base}/"})
    ET.SubElement(feed, "link", {"rel": "self", "href": f"{base}/feeds/flags.atom?{query}"})
    for flag in flags:
        entry = ET.SubElement(feed, "entry")
        _text(entry, "id", f"{base}/flags/{flag['id']}")
        _text(entry, "title", f"{flag['entity']}: {flag['title'] or '(no title)'}")
        _text(entry, "published", _time(flag["first_seen_at"]))
        _text(entry, "updated", _time(_updated(flag)))
        ET.SubElement(
            entry, "link", {"rel": "alternate", "href": f"{base}/stories/{flag['story_id']}"}
        )
        ET.SubElement(entry, "link", {"rel": "related", "href": flag["url"]})
        ET.SubElement(
            entry, "category", {"term": flag["status"], "label": f"status: {flag['status']}"}
        )
        ET.SubElement(entry, "category", {"term": flag["entity_id"], "label": flag["entity"]})
        reviewed = f" by {flag['reviewed_by']}" if flag["reviewed_by"] else ""
        summary = f"{flag['snippet']}\n\nfeed: {flag['feed']} · status: {flag['status']}"
        _text(entry, "summary", summary + reviewed)
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document


def _text(parent: ET.Element, tag: str, value: str) -> None:
    ET.SubElement(parent, tag).text = value


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _updated(flag: dict[str, Any]) -> datetime:
    moment: datetime = flag["reviewed_at"] or flag["first_seen_at"]
    return moment


def _bearer(header: str) -> str | None:
    scheme, _, credentials = header.partition(" ")
    return credentials.strip() or None if scheme.lower() == "bearer" else None


class TokenRedactor(logging.Filter):
    """Masks `?token=` in access-log lines: a feed reader's URL carries its token, which must
    not end up in the logs (installed on uvicorn's access logger by app.py)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_token(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        if isinstance(record.msg, str):
            record.msg = redact_token(record.msg)
        return True


def redact_token(text: str) -> str:
    return _TOKEN_IN_QUERY.sub(r"\1***", text)


def install_token_redactor() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(existing, TokenRedactor) for existing in access.filters):
        access.addFilter(TokenRedactor())
