"""A story's page (its text once, every entity's mentions in that entity's colour, every URL,
the evidence and one audit trail) and decisions over several flags at once (with undo)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from pipeline.core.clock import utcnow
from pipeline.core.errors import NotFoundError
from pipeline.desk.api import MAX_ID
from pipeline.desk.evidence import evidence
from pipeline.desk.highlight import coloured_pieces
from pipeline.desk.render import render, reviewer, signed_in, state

ENTITY_COLOURS = 8  # desk.css has .e0 ... .e7
MAX_CHANGES = 500  # flags in one decision (a page of stories, every entity)

router = APIRouter(include_in_schema=False)


class Change(BaseModel):
    flag_id: int = Field(ge=1, le=MAX_ID)
    status: Literal["new", "relevant", "dismissed"]


class Decision(BaseModel):
    """POST /reviews: move each flag to its status (one transaction); undo is the same call
    with the `from_status` of the answer."""

    changes: list[Change] = Field(min_length=1, max_length=MAX_CHANGES)
    note: str | None = Field(default=None, max_length=4000)


class Changed(BaseModel):
    flag_id: int
    from_status: str
    to_status: str


class DecisionOut(BaseModel):
    changed: list[Changed]
    reviewed_by: str


@router.get("/stories/{story_id}")
def story_page(request: Request, story_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> HTMLResponse:
    principal = signed_in(request)
    try:
        story = state(request)[0].desk_story(story_id)
    except NotFoundError:
        return render(request, "missing.html", principal, {"what": f"story {story_id}"}, 404)
    for index, flag in enumerate(story["flags"]):
        flag["colour"] = index % ENTITY_COLOURS
        flag["evidence"] = evidence(flag["why"])
    marks = [(flag["colour"], flag["entity"], flag["offsets"]) for flag in story["flags"]]
    return render(
        request,
        "story.html",
        principal,
        {"story": story, "pieces": coloured_pieces(story["document"], marks)},
    )


@router.post("/reviews", response_model=DecisionOut)
def decide(request: Request, decision: Decision) -> DecisionOut:
    """Several decisions at once (a story's entities, a selection of stories), audited one by
    one; the answer holds each flag's previous status for an undo."""
    principal = reviewer(request, None)
    changes: dict[int, str] = {change.flag_id: change.status for change in decision.changes}
    note = decision.note.strip() if decision.note and decision.note.strip() else None
    try:
        before = state(request)[0].review_flags(changes, note=note, by=principal.name, now=utcnow())
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    return DecisionOut(
        changed=[
            Changed(flag_id=flag_id, from_status=before[flag_id], to_status=status)
            for flag_id, status in sorted(changes.items())
        ],
        reviewed_by=principal.name,
    )
