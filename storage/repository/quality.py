"""Precision from production: every analyst decision is a label (`pipeline stats --quality`).

Per entity and per rule: flags reviewed, relevant and dismissed, and precision = relevant /
reviewed; candidates promoted and dismissed. A candidate promoted by an analyst is a mention the
rules missed: ``recall_gap`` counts them, and ``measured_recall`` = relevant flags of the rules /
(those + analyst promotions) is the recall the reviews measure. Flags made by promotion (rule
``analyst``) are counted under their own rule and never as the rules' own hits.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from storage.models import Candidate, Entity, Flag
from storage.repository.base import RepositoryBase

ANALYST_RULE = "analyst"


@dataclass(slots=True)
class QualityRow:
    flags: int = 0
    reviewed: int = 0
    relevant: int = 0
    dismissed: int = 0
    candidates: int = 0
    candidates_promoted: int = 0  # by an analyst: the rules' measured recall gap
    candidates_dismissed: int = 0
    relevant_by_rules: int = 0  # relevant flags the rules made themselves (not "analyst")

    def add_flags(self, rule: str, status: str, count: int) -> None:
        self.flags += count
        if status in ("relevant", "dismissed"):
            self.reviewed += count
        if status == "relevant":
            self.relevant += count
            self.relevant_by_rules += 0 if rule == ANALYST_RULE else count
        elif status == "dismissed":
            self.dismissed += count

    def add_candidates(self, status: str, promoted_rule: str | None, count: int) -> None:
        self.candidates += count
        if status == "promoted" and promoted_rule == ANALYST_RULE:
            self.candidates_promoted += count
        elif status == "dismissed":
            self.candidates_dismissed += count

    def as_json(self) -> dict[str, Any]:
        row = asdict(self)
        row["precision"] = round(self.relevant / self.reviewed, 3) if self.reviewed else None
        found = self.relevant_by_rules + self.candidates_promoted
        row["recall_gap"] = self.candidates_promoted
        row["measured_recall"] = round(self.relevant_by_rules / found, 3) if found else None
        del row["relevant_by_rules"]
        return row


class QualityStore(RepositoryBase):
    """The quality table, from the flags' and candidates' statuses."""

    def quality(self) -> dict[str, Any]:
        entities: defaultdict[str, QualityRow] = defaultdict(QualityRow)
        rules: defaultdict[str, QualityRow] = defaultdict(QualityRow)
        overall = QualityRow()
        with self._session() as session:
            names = dict(session.execute(select(col(Entity.id), col(Entity.name))).all())
            flag_counts = session.execute(
                select(
                    col(Flag.entity_id), col(Flag.rule), col(Flag.status), func.count()
                ).group_by(col(Flag.entity_id), col(Flag.rule), col(Flag.status))
            ).all()
            candidates = session.execute(
                select(
                    col(Candidate.entity_id),
                    col(Candidate.status),
                    col(Candidate.promoted_rule),
                    col(Candidate.why),
                )
            ).all()
        for entity_id, rule, status, count in flag_counts:
            for row in (entities[entity_id], rules[rule or "?"], overall):
                row.add_flags(rule, status, count)
        for entity_id, status, promoted_rule, why in candidates:
            rule = str((why or {}).get("rule", "?"))
            for row in (entities[entity_id], rules[rule], overall):
                row.add_candidates(status, promoted_rule, 1)
        return {
            "entities": [
                {"entity_id": key, "entity": names.get(key, key), **entities[key].as_json()}
                for key in sorted(entities)
            ],
            "rules": [{"rule": key, **rules[key].as_json()} for key in sorted(rules)],
            "overall": overall.as_json(),
        }
