"""Question signals for the trends page: which topics people ask about, per region and week.
No personal data: no conversation id, no place below the region, no text."""
from __future__ import annotations

import logging
from datetime import date
from typing import Iterable, Optional

from sqlalchemy.exc import SQLAlchemyError

from bot.db import session_scope
from bot.db.models import QuestionSignal

log = logging.getLogger(__name__)


def record_questions(topics: Iterable[str], region_code: Optional[str], audience: Optional[str],
                     channel: Optional[str], today: Optional[date] = None) -> bool:
    """Best effort: a signal lost while the database is down does not concern the person."""
    rows = [QuestionSignal(asked_on=today or date.today(), topic=t, region_code=region_code or None,
                           audience=audience or "werkzoekende", channel=(channel or "rest")[:20])
            for t in topics if t]
    if not rows:
        return True
    try:
        with session_scope() as session:
            session.add_all(rows)
        return True
    except SQLAlchemyError as exc:
        log.warning("question signal not recorded: %s", type(exc).__name__)
        return False
