"""Parse arXiv listing RSS 2.0 feeds (``rss.arxiv.org/rss/<category>``) into paper records.

One item is one announcement: a new paper, a cross-list or a replacement. The item's pubDate is
the announcement, so it becomes the publication date only for ``new`` items; for a replacement
or cross-list the paper was first published earlier, on a date the feed does not give.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.utils import parsedate_to_datetime

from lxml import etree

from paperboy.models import Links, PaperRecord, RecordError, Version
from paperboy.sources._text import (
    arxiv_links,
    clean,
    code_links,
    normalize_doi,
    parse_arxiv_id,
    parse_date,
    project_link,
    split_authors,
)
from paperboy.sources._xml import (
    MalformedXml,
    child_text,
    element_text,
    malformed_error,
    release,
    xml_elements,
)

NAME = "arxiv_rss"

ARXIV = "{http://arxiv.org/schemas/atom}"
DC = "{http://purl.org/dc/elements/1.1/}"

# "arXiv:2604.21952v1 Announce Type: new \nAbstract: ..." opens every item description.
_DESCRIPTION_HEAD = re.compile(
    r"^\s*arXiv:(?P<id>\S+)\s+Announce Type:\s*(?P<type>[\w-]+)\s*", re.IGNORECASE
)
_ABSTRACT_LABEL = re.compile(r"^\s*Abstract:\s*", re.IGNORECASE)


def parse(data: bytes) -> Iterator[PaperRecord | RecordError]:
    """Yield one record per item, in feed order."""
    n = 0
    channel_date = ""
    try:
        for element in xml_elements(data, "rss"):
            if element.tag == "item":
                n += 1
                yield _item(element, n, channel_date)
                release(element)
            elif element.tag == "pubDate" and _parent_tag(element) == "channel":
                # The listing's own date stands in for an item that lacks one.
                channel_date = clean(element_text(element))
    except MalformedXml as exc:
        yield malformed_error(NAME, exc)


def _item(item: etree._Element, n: int, channel_date: str) -> PaperRecord | RecordError:
    position = f"item {n} (line {item.sourceline})"
    title = child_text(item, "title")
    if not title:
        return RecordError(NAME, position, "missing title")

    description = element_text(item.find("description"))
    head = _DESCRIPTION_HEAD.match(description)
    parsed = (
        parse_arxiv_id(child_text(item, "guid"))
        or parse_arxiv_id(head.group("id") if head else None)
        or parse_arxiv_id(child_text(item, "link"))
    )
    if parsed is None:
        return RecordError(NAME, position, "no arXiv id in guid, description or link")
    arxiv_id, label = parsed

    announce_type = child_text(item, ARXIV + "announce_type") or (
        head.group("type") if head else ""
    )
    announce_type = announce_type.lower() or None
    pub_date = child_text(item, "pubDate") or channel_date
    abstract = clean(_ABSTRACT_LABEL.sub("", description[head.end() :] if head else description))

    abs_url, pdf_url = arxiv_links(arxiv_id)
    return PaperRecord(
        source=NAME,
        position=position,
        title=title,
        arxiv_id=arxiv_id,
        doi=normalize_doi(child_text(item, ARXIV + "DOI")),
        abstract=abstract,
        authors=split_authors(element_text(item.find(DC + "creator"))),
        categories=_categories(item),
        published=parse_date(pub_date) if announce_type == "new" else None,
        versions=[Version(label)] if label else [],
        journal_ref=child_text(item, ARXIV + "journal_reference") or None,
        license=child_text(item, DC + "rights") or None,
        links=Links(
            abstract=abs_url,
            pdf=pdf_url,
            code=code_links(abstract),
            project=project_link(abstract),
        ),
        extras={NAME: {"announce_type": announce_type, "announced": _announced_day(pub_date)}},
    )


def _parent_tag(element: etree._Element) -> object:
    parent = element.getparent()
    return parent.tag if parent is not None else None


def _categories(item: etree._Element) -> list[str]:
    """The item's categories in feed order, each once; the first is the listing's primary."""
    found: list[str] = []
    for category in item.iterfind("category"):
        term = clean(element_text(category))
        if term and term not in found:
            found.append(term)
    return found


def _announced_day(text: str) -> str | None:
    """The announcement day on the feed's own calendar (US Eastern), not the UTC day."""
    try:
        return parsedate_to_datetime(text).date().isoformat()
    except (TypeError, ValueError, IndexError):
        value = parse_date(text)
        return value.date().isoformat() if value else None
