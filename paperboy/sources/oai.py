"""Parse arXiv OAI-PMH ListRecords pages (metadataPrefix ``arXivRaw`` or ``arXiv``) into records.

`parse_page` gives a harvester what it needs to go on: the page's records, the resumptionToken
(None on the last page), cursor, completeListSize, responseDate and the largest header datestamp
(where the next incremental run can start). Every OAI-PMH error raises `OaiError` there,
``noRecordsMatch`` included, because the harvester must tell "nothing new" from a full page.
`parse` is for callers that only want records: for it ``noRecordsMatch`` just means no records.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from lxml import etree

from paperboy.models import Links, PaperRecord, RecordError, SourceError, Version
from paperboy.sources._text import (
    arxiv_links,
    clean,
    code_links,
    delatex_accents,
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

NAME = "oai"
RAW_NAME = "oai_arxivraw"
ARXIV_NAME = "oai_arxiv"

OAI = "{http://www.openarchives.org/OAI/2.0/}"
RAW = "{http://arxiv.org/OAI/arXivRaw/}"
ARXIV = "{http://arxiv.org/OAI/arXiv/}"

NO_RECORDS_MATCH = "noRecordsMatch"


class OaiError(SourceError):
    """An OAI-PMH ``<error>``; `code` is the protocol's code (``badResumptionToken`` ...)."""


@dataclass(slots=True)
class OaiPage:
    """One ListRecords response: its records and where the harvest goes from here."""

    records: list[PaperRecord | RecordError] = field(default_factory=list)
    resumption_token: str | None = None
    cursor: int | None = None
    complete_list_size: int | None = None
    response_date: datetime | None = None
    max_datestamp: date | str | None = None


def parse_page(data: bytes) -> OaiPage:
    """Read a whole ListRecords page; raises `OaiError` for any OAI-PMH error response."""
    page = OaiPage()
    page.records = list(_stream(data, page))
    return page


def parse(data: bytes) -> Iterator[PaperRecord | RecordError]:
    """Yield a page's records in order; ``noRecordsMatch`` yields nothing, other errors raise."""
    try:
        yield from _stream(data, OaiPage())
    except OaiError as exc:
        if exc.code != NO_RECORDS_MATCH:
            raise


def _stream(data: bytes, page: OaiPage) -> Iterator[PaperRecord | RecordError]:
    """Yield the page's live records, filling `page`'s harvest state as it is read."""
    n = 0
    try:
        for element in xml_elements(data, OAI + "OAI-PMH"):
            tag = element.tag
            if tag == OAI + "record":
                n += 1
                header = element.find(OAI + "header")
                stamp = child_text(header, OAI + "datestamp") if header is not None else ""
                if stamp:
                    # Deleted records count too: the high-water mark is about what was seen.
                    page.max_datestamp = _later(page.max_datestamp, stamp)
                if header is None or header.get("status") != "deleted":
                    yield _record(element, n)
                release(element)
            elif tag == OAI + "responseDate":
                page.response_date = parse_date(element_text(element))
            elif tag == OAI + "error":
                code = element.get("code") or "unknown"
                text = clean(element_text(element))
                raise OaiError(f"OAI-PMH error {code}: {text}", code=code)
            elif tag == OAI + "resumptionToken":
                page.resumption_token = clean(element_text(element)) or None
                page.cursor = _int_or_none(element.get("cursor"))
                page.complete_list_size = _int_or_none(element.get("completeListSize"))
    except MalformedXml as exc:
        yield malformed_error(NAME, exc)


def _record(record: etree._Element, n: int) -> PaperRecord | RecordError:
    position = f"record {n} (line {record.sourceline})"
    metadata = record.find(OAI + "metadata")
    raw = metadata.find(RAW + "arXivRaw") if metadata is not None else None
    arx = metadata.find(ARXIV + "arXiv") if metadata is not None else None
    if raw is not None:
        name, ns, body = RAW_NAME, RAW, raw
    elif arx is not None:
        name, ns, body = ARXIV_NAME, ARXIV, arx
    else:
        return RecordError(NAME, position, "no arXivRaw or arXiv metadata")

    title = child_text(body, ns + "title")
    if not title:
        return RecordError(name, position, "missing title")
    header = record.find(OAI + "header")
    identifier = child_text(header, OAI + "identifier") if header is not None else ""
    parsed = parse_arxiv_id(child_text(body, ns + "id")) or parse_arxiv_id(identifier)
    if parsed is None:
        return RecordError(name, position, "no arXiv id in <id> or header identifier")
    arxiv_id = parsed[0]

    oai: dict[str, object] = {
        "datestamp": child_text(header, OAI + "datestamp") if header is not None else "",
        "sets": [clean(element_text(s)) for s in header.iterfind(OAI + "setSpec")]
        if header is not None
        else [],
    }
    if raw is not None:
        versions = _raw_versions(body)
        published = next((v.date for v in versions if v.label == "v1"), None)
        updated = versions[-1].date if versions else None
        authors = split_authors(element_text(body.find(ns + "authors")))
        submitter = child_text(body, ns + "submitter")
        if submitter:
            oai["submitter"] = submitter
    else:
        published = parse_date(child_text(body, ns + "created"))
        updated = parse_date(child_text(body, ns + "updated"))
        # This format names only the first submission; later version numbers are unknown.
        versions = [Version("v1", published)] if published else []
        authors = _arxiv_authors(body)

    abstract = child_text(body, ns + "abstract")
    comments = child_text(body, ns + "comments") or None
    abs_url, pdf_url = arxiv_links(arxiv_id)
    return PaperRecord(
        source=name,
        position=position,
        title=title,
        arxiv_id=arxiv_id,
        doi=normalize_doi(child_text(body, ns + "doi")),
        abstract=abstract,
        authors=authors,
        categories=child_text(body, ns + "categories").split(),
        published=published,
        updated=updated,
        versions=versions,
        journal_ref=child_text(body, ns + "journal-ref") or None,
        comments=comments,
        license=child_text(body, ns + "license") or None,
        links=Links(
            abstract=abs_url,
            pdf=pdf_url,
            code=code_links(abstract, comments),
            project=project_link(abstract, comments),
        ),
        extras={"oai": oai},
    )


def _raw_versions(body: etree._Element) -> list[Version]:
    """arXivRaw's ``<version version="vN"><date>RFC 2822</date>`` list, oldest first."""
    versions = [
        Version(clean(v.get("version")), parse_date(child_text(v, RAW + "date")))
        for v in body.iterfind(RAW + "version")
        if clean(v.get("version"))
    ]
    return sorted(versions, key=lambda v: v.number)


def _arxiv_authors(body: etree._Element) -> list[str]:
    """``<author><keyname/><forenames/><suffix/>`` as "Forenames Keyname Suffix"."""
    names = []
    for author in body.iterfind(f"{ARXIV}authors/{ARXIV}author"):
        parts = (child_text(author, ARXIV + part) for part in ("forenames", "keyname", "suffix"))
        name = delatex_accents(" ".join(p for p in parts if p))
        if name:
            names.append(name)
    return names


def _later(current: date | str | None, stamp: str) -> date | str:
    """The later of two datestamps; day-granular ones become dates, anything else stays text."""
    try:
        value: date | str = date.fromisoformat(stamp)
    except ValueError:
        value = stamp
    # ISO 8601 text sorts chronologically, and str(date) is ISO, so mixed kinds compare fine.
    return value if current is None else max(current, value, key=str)


def _int_or_none(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() else None
