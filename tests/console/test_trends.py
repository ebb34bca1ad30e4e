"""Trends: questions per topic per ISO week per region, from QuestionSignal only."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from bot.console import fmt, trends
from bot.db import session_scope

from .conftest import CONTACT_NAME, CONTACT_PHONE, add_handover, add_signals, add_staff, audit_rows, console, login

TODAY = datetime.now(fmt.LOCAL).date()
THIS_MONDAY = TODAY - timedelta(days=TODAY.weekday())


def table_rows(html: str) -> dict:
    """{topic name: [counts per week..., total]} from the trends table."""
    table = html[html.index('id="trends-table"'):]
    table = table[:table.index("</table>")]
    rows = {}
    for name, cells in re.findall(r'<th scope="row">([^<]+)</th>(.*?)</tr>', table, re.S):
        rows[name] = [int(n) for n in re.findall(r"<td[^>]*>(\d+)</td>", cells)]
    return rows


def _signals(engine):
    add_signals(engine, [
        (THIS_MONDAY, "ask_debt_help", "AM01", 3),
        (THIS_MONDAY - timedelta(days=6), "ask_debt_help", "AM01", 2),   # Tuesday, last week
        (THIS_MONDAY - timedelta(days=7), "ask_retraining", "AM01", 1),  # Monday, last week
        (THIS_MONDAY - timedelta(days=1), "ask_language_help", "AM02", 4),
        (THIS_MONDAY - timedelta(weeks=10), "ask_debt_help", "AM01", 7),  # outside 8 weeks
        (THIS_MONDAY, "ask_vacancies", None, 1),                          # place not known
    ])


def test_weekly_counts_by_iso_week(engine):
    _signals(engine)
    with session_scope(engine) as session:
        t = trends.weekly_counts(session, weeks=2, region_code="AM01", today=TODAY)
    assert t.weeks == [(THIS_MONDAY - timedelta(weeks=1)).isocalendar()[:2], THIS_MONDAY.isocalendar()[:2]]
    assert t.counts == {"ask_debt_help": [2, 3], "ask_retraining": [1, 0]}
    assert t.topics == ["ask_debt_help", "ask_retraining"] and t.totals_per_week == [3, 3] and t.total == 6
    with session_scope(engine) as session:
        everywhere = trends.weekly_counts(session, weeks=12, region_code=None, today=TODAY)
    assert everywhere.total == 18 and len(everywhere.weeks) == 12
    chart = trends.line_chart(everywhere)
    assert len(chart.series) == 4 and all(len(s["dots"]) == 12 for s in chart.series)
    # The highest point is at the top of the scale or below it, never above the plot.
    assert min(y for s in chart.series for _, y in s["dots"]) >= chart.top


def test_iso_weeks_across_new_year():
    assert trends.week_start(date(2027, 1, 1)) == date(2026, 12, 28)
    chart_weeks = [(date(2026, 12, 28) + timedelta(weeks=i)).isocalendar()[:2] for i in range(2)]
    assert chart_weeks == [(2026, 53), (2027, 1)]


async def test_trends_page_defaults_to_own_region_and_filters(engine):
    _signals(engine)
    add_handover(engine, partner_id="uwv", region_code="AM01")  # personal data that must not show
    add_staff(engine, "wim", "werkcentrum", region="AM01")
    add_staff(engine, "pim", "partner", partner="uwv")  # a national partner: no region of its own
    async with console(engine) as client:
        await login(client, "wim")
        html = await (await client.get("/trends")).text()
        assert "Groningen: 6 vragen" in html
        rows = table_rows(html)
        assert rows["Schulden"][-3:] == [2, 3, 5] and rows["Omscholing of een opleiding"][-1] == 1
        assert "Nederlands leren" not in rows
        assert "<svg" in html and "<polyline" in html and "<script" not in html

        # Staff of any role may see every region: the numbers are aggregate.
        html = await (await client.get("/trends?region=AM02&weeks=4")).text()
        assert table_rows(html)["Nederlands leren"] == [0, 0, 4, 0, 4]
        html = await (await client.get("/trends?region=alle&weeks=12")).text()
        assert "Alle regio&#39;s: 18 vragen" in html
        assert table_rows(html)["Totaal"][-1] == 18
        html = await (await client.get("/trends?region=AM03")).text()
        assert "geen vragen" in html

        for bad in ("weeks=0", "weeks=53", "weeks=acht", "region=AM99", "region=%3Cscript%3E"):
            resp = await client.get("/trends?" + bad)
            assert resp.status == 400, bad
            assert "<script>" not in await resp.text()

        for page in ("/trends", "/trends?region=alle&weeks=52"):
            html = await (await client.get(page)).text()
            assert CONTACT_NAME not in html and CONTACT_PHONE not in html and "WC-" not in html

    async with console(engine) as client:
        await login(client, "pim")
        html = await (await client.get("/trends")).text()
        assert "Alle regio&#39;s: 11 vragen" in html  # 8 weeks, every region
    details = [e["detail"] for e in audit_rows(engine, action="trends")]
    assert details[0] == "region=AM01 weeks=8" and "region=alle weeks=8" in details
