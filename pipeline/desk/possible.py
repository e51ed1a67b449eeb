"""The desk's "Possible" tab (candidates the rules did not accept) and the quality table.

Keys on the tab, as on the queue: j/k move, Enter opens the story, p promotes (a flag with rule
`analyst`, which alerts as any flag), d dismisses (never offered again for that story). The
quality page shows `pipeline stats --quality`: precision per entity and rule from the reviews,
and the candidates analysts promoted (the rules' measured recall gap).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from pipeline.core.clock import utcnow
from pipeline.core.errors import NotFoundError
from pipeline.desk.api import MAX_ID
from pipeline.desk.highlight import snippet_pieces
from pipeline.desk.render import render, reviewer, signed_in, state
from storage.models import CANDIDATE_STATUSES
from storage.repository.candidates import CandidateStateError

TABS = (*CANDIDATE_STATUSES, "all")
DECISIONS = ("promote", "dismiss")
PAGE_SIZE = 200

router = APIRouter(include_in_schema=False)
CandidateId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/possible")
def possible_page(request: Request, status: str = "new") -> HTMLResponse:
    principal = signed_in(request)
    repository = state(request)[0]
    status = status if status in TABS else "new"
    rows = repository.list_candidates(status=None if status == "all" else status)
    counts = {tab: 0 for tab in TABS}
    for row in repository.list_candidates():
        counts[row["status"]] += 1
        counts["all"] += 1
    candidates = [{**row, "snippet_pieces": snippet_pieces(row["snippet"])} for row in rows]
    return render(
        request,
        "possible.html",
        principal,
        {"candidates": candidates[:PAGE_SIZE], "tabs": TABS, "status": status, "counts": counts},
    )


@router.post("/candidates/{candidate_id}/decide", response_model=None)
def decide(
    request: Request,
    candidate_id: CandidateId,
    decision: Annotated[str, Form()],
    note: Annotated[str, Form(max_length=4000)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    principal = reviewer(request, csrf_token)
    repository = state(request)[0]
    if decision not in DECISIONS:
        raise HTTPException(422, f"decision must be one of {', '.join(DECISIONS)}")
    flag_id: int | None = None
    try:
        if decision == "promote":
            flag_id = repository.promote_candidate(
                candidate_id, note=note.strip() or None, by=principal.name, now=utcnow()
            )
        else:
            repository.dismiss_candidate(
                candidate_id, note=note.strip() or None, by=principal.name, now=utcnow()
            )
    except NotFoundError:
        raise HTTPException(404, f"no candidate with id {candidate_id}") from None
    except CandidateStateError as exc:
        raise HTTPException(409, str(exc)) from None
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"id": candidate_id, "decision": decision, "flag_id": flag_id})
    return RedirectResponse("/possible", status_code=303)


@router.get("/quality")
def quality_page(request: Request) -> HTMLResponse:
    principal = signed_in(request)
    figures = state(request)[0].quality()
    tables = {
        "entities": [*figures["entities"], {**figures["overall"], "entity": "overall"}],
        "rules": [*figures["rules"], {**figures["overall"], "rule": "overall"}],
    }
    return render(request, "quality.html", principal, {"tables": tables})
