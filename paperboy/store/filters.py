"""The search filters (date range, category, has code) as SQL conditions on the papers table."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, func, text

from paperboy.models import Filters
from paperboy.store.tables import papers


def paper_filters(dialect: str, filters: Filters) -> list[ColumnElement[bool]]:
    """Conditions a paper row must meet to pass `filters` (on SQLite or PostgreSQL)."""
    clauses: list[ColumnElement[bool]] = []
    if filters.date_from:
        clauses.append(papers.c.published >= _day_start(filters.date_from))
    if filters.date_to:
        clauses.append(papers.c.published < _day_start(filters.date_to + timedelta(days=1)))
    postgres = dialect == "postgresql"
    if filters.category:  # any of the paper's categories, ignoring case (as the index)
        elements = ("jsonb_array_elements_text(papers.categories) AS c(value)" if postgres
                    else "json_each(papers.categories) AS c")
        clauses.append(text(f"EXISTS (SELECT 1 FROM {elements} "
                            "WHERE lower(c.value) = lower(:category))").bindparams(
            category=filters.category))
    if filters.has_code is not None:
        length = (func.jsonb_array_length(papers.c.links["code"]) if postgres else
                  func.json_array_length(papers.c.links, "$.code"))
        clauses.append(length > 0 if filters.has_code else length == 0)
    return clauses


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)
