"""Questions per topic per ISO week, counted from QuestionSignal (which holds nothing personal),
and the geometry of the line chart the trends page draws as inline SVG."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Dict, List, Optional, Tuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.db.models import QuestionSignal

from .fmt import topic_name

MAX_WEEKS = 52
SERIES_CLASSES = 10  # console.css has colours s0 … s9


@dataclass
class Trends:
    weeks: List[Tuple[int, int]]                  # (ISO year, ISO week), oldest first
    topics: List[str]                             # most asked first
    counts: Dict[str, List[int]] = field(default_factory=dict)  # topic -> count per week
    totals_per_week: List[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.totals_per_week)

    def week_label(self, week: Tuple[int, int]) -> str:
        return f"week {week[1]}"

    def week_key(self, week: Tuple[int, int]) -> str:
        return f"{week[0]}-W{week[1]:02d}"


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def weekly_counts(session: Session, *, weeks: int, region_code: Optional[str], today: date) -> Trends:
    first_monday = week_start(today) - timedelta(weeks=weeks - 1)
    query = (select(QuestionSignal.asked_on, QuestionSignal.topic, func.count())
             .where(QuestionSignal.asked_on >= first_monday, QuestionSignal.asked_on <= today)
             .group_by(QuestionSignal.asked_on, QuestionSignal.topic))
    if region_code:
        query = query.where(QuestionSignal.region_code == region_code)
    week_list = [(first_monday + timedelta(weeks=i)).isocalendar()[:2] for i in range(weeks)]
    index = {w: i for i, w in enumerate(week_list)}
    counts: Dict[str, List[int]] = {}
    for asked_on, topic, n in session.execute(query):
        row = counts.setdefault(topic, [0] * weeks)
        row[index[tuple(asked_on.isocalendar()[:2])]] += n
    topics = sorted(counts, key=lambda t: (-sum(counts[t]), topic_name(t)))
    totals = [sum(counts[t][i] for t in topics) for i in range(weeks)]
    return Trends(weeks=week_list, topics=topics, counts=counts, totals_per_week=totals)


@dataclass
class Chart:
    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    y_ticks: List[Tuple[float, int]]              # (y, value)
    x_labels: List[Tuple[float, str]]             # (x, label)
    series: List[dict]                            # topic, name, css class, points "x,y x,y", dots


def _nice_max(value: int) -> int:
    if value <= 5:
        return 5
    step = 10 ** (len(str(value)) - 1)
    for mult in (1, 2, 2.5, 5, 10):
        if value <= mult * step:
            return int(mult * step)
    return value


def line_chart(trends: Trends, width: int = 760, height: int = 300) -> Chart:
    left, right, top, bottom = 44, 16, 12, 34
    pw, ph = width - left - right, height - top - bottom
    peak = _nice_max(max((max(v) for v in trends.counts.values()), default=0))
    n = len(trends.weeks)
    step_x = pw / (n - 1) if n > 1 else 0

    def x(i: int) -> float:
        return round(left + (i * step_x if n > 1 else pw / 2), 1)

    def y(v: int) -> float:
        return round(top + ph - v / peak * ph, 1)

    ticks = [(y(round(peak * k / 5)), round(peak * k / 5)) for k in range(6)]
    every = max(1, n // 12)  # at most about 12 week labels, so they stay readable
    labels = [(x(i), str(w[1])) for i, w in enumerate(trends.weeks) if i % every == 0 or i == n - 1]
    series = []
    for k, topic in enumerate(trends.topics):
        pts = [(x(i), y(v)) for i, v in enumerate(trends.counts[topic])]
        series.append({"topic": topic, "name": topic_name(topic), "css": f"s{k % SERIES_CLASSES}",
                       "points": " ".join(f"{a},{b}" for a, b in pts), "dots": pts,
                       "total": sum(trends.counts[topic])})
    return Chart(width=width, height=height, left=left, top=top, plot_width=pw, plot_height=ph,
                 y_ticks=ticks, x_labels=labels, series=series)
