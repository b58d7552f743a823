"""Parse arXiv API Atom feeds (``export.arxiv.org/api/query``) into paper records.

Both server formats are read: the current one (namespaces declared once on ``<feed>``,
single-line summaries, https links) and the 2016 one (``xmlns`` repeated on each element,
hard-wrapped text, ``primary_category`` with a ``scheme``). Elements are matched by namespace URI,
so the prefix spelling never matters. An error feed (one entry whose id lies under
``arxiv.org/api/errors``) raises `SourceError`; it never becomes a paper called "Error".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from lxml import etree

from paperboy.models import Links, PaperRecord, RecordError, SourceError, Version
from paperboy.sources._text import (
    arxiv_links,
    code_links,
    normalize_doi,
    parse_arxiv_id,
    parse_date,
    project_link,
)
from paperboy.sources._xml import (
    MalformedXml,
    child_text,
    element_text,
    malformed_error,
    release,
    xml_elements,
)

NAME = "arxiv_api"

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"

_ERROR_ID = re.compile(r"^https?://(?:export\.)?arxiv\.org/api/errors\b", re.I)

@dataclass(slots=True)
class ApiPage:
    """One page of API results and the OpenSearch counters needed to ask for the next page."""

    records: list[PaperRecord | RecordError] = field(default_factory=list)
    total_results: int = 0
    start_index: int = 0
    items_per_page: int = 0


def parse(data: bytes) -> Iterator[PaperRecord | RecordError]:
    """Yield the records of an API feed in order; raises `SourceError` for an error feed."""
    yield from _stream(data, ApiPage())


def parse_feed(data: bytes) -> ApiPage:
    """Read a whole API feed: its records and its paging counters."""
    page = ApiPage()
    page.records = list(_stream(data, page))
    return page


def _stream(data: bytes, page: ApiPage) -> Iterator[PaperRecord | RecordError]:
    """Yield entries while filling `page`'s counters as the feed header is read."""
    counters = {
        OPENSEARCH + "totalResults": "total_results",
        OPENSEARCH + "startIndex": "start_index",
        OPENSEARCH + "itemsPerPage": "items_per_page",
    }
    n = 0
    try:
        for element in xml_elements(data, ATOM + "feed"):
            if element.tag == ATOM + "entry":
                n += 1
                yield _entry(element, n)
                release(element)
            elif element.tag in counters:
                setattr(page, counters[element.tag], _int(element_text(element)))
    except MalformedXml as exc:
        yield malformed_error(NAME, exc)


def _entry(entry: etree._Element, n: int) -> PaperRecord | RecordError:
    position = f"entry {n} (line {entry.sourceline})"
    entry_id = child_text(entry, ATOM + "id")
    if _ERROR_ID.match(entry_id):
        # The API reports a bad query as a feed with one pseudo-entry; the summary says why.
        detail = child_text(entry, ATOM + "summary") or entry_id
        raise SourceError(f"arXiv API error: {detail}", code="arxiv_api_error")
    title = child_text(entry, ATOM + "title")
    if not title:
        return RecordError(NAME, position, "missing title")
    parsed = parse_arxiv_id(entry_id)
    if parsed is None:
        return RecordError(NAME, position, f"no arXiv id in <id> {entry_id!r}")
    arxiv_id, label = parsed

    published = parse_date(child_text(entry, ATOM + "published"))
    updated = parse_date(child_text(entry, ATOM + "updated"))
    versions = []
    if label:
        # `updated` is when the version in the id was submitted; for v1 that is `published`.
        when = (published or updated) if label == "v1" else (updated or published)
        versions.append(Version(label, when))

    abstract = child_text(entry, ATOM + "summary")
    comments = child_text(entry, ARXIV + "comment") or None
    abs_url, pdf_url = arxiv_links(arxiv_id)
    return PaperRecord(
        source=NAME,
        position=position,
        title=title,
        arxiv_id=arxiv_id,
        doi=normalize_doi(child_text(entry, ARXIV + "doi")),
        abstract=abstract,
        authors=_authors(entry),
        categories=_categories(entry),
        published=published,
        updated=updated,
        versions=versions,
        journal_ref=child_text(entry, ARXIV + "journal_ref") or None,
        comments=comments,
        links=Links(
            abstract=abs_url,
            pdf=pdf_url,
            code=code_links(abstract, comments),
            project=project_link(abstract, comments),
        ),
    )


def _authors(entry: etree._Element) -> list[str]:
    names = (child_text(author, ATOM + "name") for author in entry.iterfind(ATOM + "author"))
    return [name for name in names if name]


def _categories(entry: etree._Element) -> list[str]:
    """Primary category first, then the others in feed order, each once."""
    primary = entry.find(ARXIV + "primary_category")
    terms = [primary.get("term", "")] if primary is not None else []
    terms += [c.get("term", "") for c in entry.iterfind(ATOM + "category")]
    found: list[str] = []
    for term in (t.strip() for t in terms):
        if term and term not in found:
            found.append(term)
    return found


def _int(text: str) -> int:
    text = text.strip()
    return int(text) if text.isdigit() else 0
