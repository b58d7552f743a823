"""What citation managers read off a paper's page: Highwire Press `citation_*` meta tags (the
tags Google Scholar documents and Zotero's connector reads first) and a COinS span (an OpenURL
ContextObject, for the managers that read those). Both come from the paper's card."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

__all__ = ["coins", "meta_tags"]


def _day(value: str | None, sep: str = "/") -> str | None:
    return value[:10].replace("-", sep) if value else None


def meta_tags(card: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, content) of each meta tag, authors one tag each, in the order they are read."""
    links = card.get("links") or {}
    venue = card.get("journal_ref") or card.get("venue")
    tags: list[tuple[str, str | None]] = [
        ("citation_title", card["title"]),
        *(("citation_author", name) for name in card["authors"]),
        ("citation_publication_date", _day(card.get("published"))),
        ("citation_date", _day(card.get("published"))),
        ("citation_online_date", _day(card.get("updated") or card.get("published"))),
        ("citation_arxiv_id", card.get("arxiv_id")),
        ("citation_doi", card.get("doi")),
        ("citation_journal_title", venue),
        ("citation_pdf_url", links.get("pdf")),
        ("citation_abstract_html_url", links.get("abstract") or card.get("url")),
        ("citation_abstract", card.get("abstract") or None),
        ("citation_keywords", "; ".join(card["categories"]) or None),
    ]
    if card.get("arxiv_id") and not venue:
        tags.append(("citation_technical_report_institution", "arXiv"))
    return [(name, " ".join(value.split())) for name, value in tags if value]


def coins(card: dict[str, Any]) -> str:
    """The `title` of a `<span class="Z3988">`: the paper as an OpenURL 1.0 KEV ContextObject
    (a journal article when it has a venue, else a preprint)."""
    venue = card.get("journal_ref") or card.get("venue")
    pairs: list[tuple[str, str]] = [
        ("ctx_ver", "Z39.88-2004"),
        ("rft_val_fmt", "info:ofi/fmt:kev:mtx:journal"),
        ("rft.genre", "article" if venue else "preprint"),
        ("rft.atitle", card["title"]),
    ]
    pairs += [("rft.au", name) for name in card["authors"]]
    if card.get("published"):
        pairs.append(("rft.date", card["published"][:10]))
    if venue:
        pairs.append(("rft.jtitle", venue))
    if card.get("arxiv_id"):
        pairs.append(("rft_id", f"info:arxiv/{card['arxiv_id']}"))
    if card.get("doi"):
        pairs.append(("rft_id", f"info:doi/{card['doi']}"))
    if card.get("url"):
        pairs.append(("rft_id", card["url"]))
    return urlencode(pairs)
