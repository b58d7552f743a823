"""How one source's record of a paper is folded into the stored paper. Pure: rows are plain dicts.

Every field remembers who gave it (`field_sources`: source, version, when). A record's claim on a
field is `(version, source rank, source name)`: a newer arXiv version beats an older one, and at
the same version the richer source wins. An empty value never replaces a present one, and a
source may always correct what it said itself. Because claims are totally ordered, the merged
paper does not depend on the order sources were ingested in.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from paperboy.models import PaperRecord
from paperboy.sources._text import arxiv_id_month, tex_text, title_key, web_url

# How complete and authoritative each source's metadata is, on equal versions.
SOURCE_RANK = {
    "arxiv_api": 60,
    "oai_arxivraw": 60,
    "oai_arxiv": 55,
    "kaggle": 50,
    "arxiv_rss": 40,
    "s2": 30,
    "hf_daily": 20,
    "listing": 10,
}

TITLE_KEY_LENGTH = 500
# The `field_sources` name of a published date Paperboy worked out itself (see
# `derived_published`); any source's own date replaces it.
DERIVED = "derived"

_FIELDS = ("arxiv_id", "doi", "title", "abstract", "authors", "categories", "published",
           "journal_ref", "comments", "license")
_LINKS = ("abstract", "pdf", "project")


def title_id(key: str) -> str:
    """The id of a paper known only by its title: stable across sources and runs."""
    return "t-" + hashlib.sha1(key.encode()).hexdigest()[:16]


def empty_row(now: datetime) -> dict[str, Any]:
    return {
        "id": "", "arxiv_id": None, "doi": None, "title_key": "", "title": "", "abstract": "",
        "authors": [], "categories": [], "primary_category": None, "published": None,
        "published_precision": None, "updated": None, "version": 0, "versions": [],
        "journal_ref": None, "comments": None, "license": None,
        "links": {"abstract": None, "pdf": None, "code": [], "project": None},
        "extras": {}, "field_sources": {}, "sources": {}, "first_seen": now, "last_changed": now,
    }


def merge(row: dict[str, Any], record: PaperRecord, now: datetime) -> dict[str, Any]:
    """The row with the record folded in; equal to `row` when the record adds nothing."""
    out = dict(row)
    fields = dict(row["field_sources"])
    version = record.version  # computed from the versions list: once
    claim = (version, SOURCE_RANK.get(record.source, 0), record.source)
    stamp = {"source": record.source, "version": version, "at": now.isoformat()}

    def offer(name: str, value: Any, current: Any) -> Any:
        if _empty(value) or value == current:
            return current
        previous = fields.get(name)
        if not _empty(current) and previous is not None:
            if previous["source"] == record.source:
                if version < previous["version"]:
                    return current
            elif claim < (previous["version"], SOURCE_RANK.get(previous["source"], 0),
                          previous["source"]):
                return current
        fields[name] = stamp
        return value

    values = {
        "arxiv_id": record.arxiv_id, "doi": record.doi, "title": tex_text(record.title),
        "abstract": tex_text(record.abstract), "authors": record.authors,
        "categories": record.categories, "published": record.published,
        "journal_ref": record.journal_ref, "comments": record.comments,
        "license": record.license,
    }
    for name in _FIELDS:
        out[name] = offer(name, values[name], row[name])

    if record.updated and (row["updated"] is None or record.updated > row["updated"]):
        out["updated"] = record.updated
        fields["updated"] = stamp
    out["versions"] = _merge_versions(row["versions"], record)
    out["version"] = max(row["version"], version)

    links = dict(row["links"])
    new_links = {"abstract": web_url(record.links.abstract), "pdf": web_url(record.links.pdf),
                 "project": web_url(record.links.project)}
    for name in _LINKS:
        links[name] = offer(f"links.{name}", new_links[name], links.get(name))
    code = list(links.get("code") or [])
    seen = {c.lower() for c in code}
    code += [c for c in record.links.code if web_url(c) and c.lower() not in seen]
    links["code"] = code
    out["links"] = links

    extras = dict(row["extras"])
    for namespace, value in record.extras.items():
        if extras.get(namespace) != value:
            extras[namespace] = value
            fields[f"extras.{namespace}"] = stamp
    out["extras"] = extras

    if record.source not in row["sources"]:
        out["sources"] = {**row["sources"], record.source: now.isoformat()}
    if fields.get("published", {}).get("source") in (None, DERIVED):  # no source dated it
        when, precision = derived_published(out["arxiv_id"], out["updated"])
        if when is not None:
            out["published"] = when
            fields["published"] = {"source": DERIVED, "version": 0, "at": None}
    else:
        precision = None
    out["published_precision"] = precision if out["published"] is not None else None
    out["title_key"] = title_key(out["title"])[:TITLE_KEY_LENGTH]
    out["primary_category"] = out["categories"][0] if out["categories"] else None
    out["id"] = out["arxiv_id"] or out["doi"] or row["id"] or title_id(out["title_key"])
    out["field_sources"] = fields
    if out != row:
        out["last_changed"] = now
    return out


def derived_published(arxiv_id: str | None, updated: datetime | None,
                      ) -> tuple[datetime | None, str | None]:
    """The first-published date of a paper no source dated (a Kaggle record without versions),
    with its precision: the day it last changed when that falls in the month its arXiv id was
    assigned (so it changed only in its first month: that day, or at most weeks after v1), else
    the id's month ("month"); (None, None) without an arXiv id."""
    month = arxiv_id_month(arxiv_id)
    if month is None:
        return None, None
    if updated is not None and (updated.year, updated.month) == month:
        return updated, "day"
    return datetime(*month, 1, tzinfo=UTC), "month"


def _merge_versions(stored: list[dict[str, Any]], record: PaperRecord) -> list[dict[str, Any]]:
    by_label = {v["label"]: v for v in stored}
    for version in record.versions:
        date = version.date.isoformat() if version.date else None
        known = by_label.get(version.label)
        if known is None or (known["date"] is None and date is not None):
            by_label[version.label] = {"label": version.label, "date": date}
    merged = sorted(by_label.values(), key=lambda v: _version_number(v["label"]))
    return merged if merged != stored else stored


def _version_number(label: str) -> int:
    digits = label.lstrip("v")
    return int(digits) if digits.isdigit() else 0


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}
