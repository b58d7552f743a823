"""Parser for Semantic Scholar Graph API paper responses.

Three shapes arrive here: the batch response (``POST /graph/v1/paper/batch``, a JSON array with
``null`` where an id was not found), the search envelope (``GET /graph/v1/paper/search``:
``{total, offset, next, data: [...]}``) and a single paper (``GET /graph/v1/paper/{id}``). Every
field depends on the ``fields=`` of the request, so any of them may be missing.

Semantic Scholar is mostly read for what only it knows (citation counts, its own ids); those go
to ``extras["s2"]``. Its ``fieldsOfStudy`` are not arXiv categories, so `categories` stays empty.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from paperboy.models import Links, PaperRecord, RecordError, SourceError
from paperboy.sources._text import (
    arxiv_links,
    clean,
    code_links,
    normalize_doi,
    parse_arxiv_id,
    parse_date,
    project_link,
)

NAME = "s2"

# (extras key, API field) for the values kept verbatim in extras["s2"].
_EXTRAS = (
    ("paper_id", "paperId"),
    ("citation_count", "citationCount"),
    ("influential_citation_count", "influentialCitationCount"),
    ("reference_count", "referenceCount"),
    ("venue", "venue"),
    ("year", "year"),
    ("fields_of_study", "fieldsOfStudy"),
    ("url", "url"),
    ("publication_types", "publicationTypes"),
)


@dataclass(slots=True)
class S2Page:
    """One page of search results and where the next page starts (None on the last page)."""

    records: list[PaperRecord | RecordError] = field(default_factory=list)
    total: int | None = None
    offset: int = 0
    next: int | None = None


def parse(data: bytes) -> Iterator[PaperRecord | RecordError]:
    """Parse a batch, search or single-paper response; `SourceError` if it is none of them."""
    doc = _load(data)
    if isinstance(doc, list):
        items = doc
    elif isinstance(doc, dict) and "data" in doc and not _looks_like_paper(doc):
        items = _data(doc)
    elif isinstance(doc, dict) and _looks_like_paper(doc):
        items = [doc]
    else:
        raise _not_a_paper_response(doc)
    for n, item in enumerate(items, 1):
        # In a batch, null means "no paper with that id": an answer, not a broken record.
        if item is not None:
            yield _record(item, f"record {n}")


def parse_search(data: bytes) -> S2Page:
    """Parse a search response envelope, keeping the paging fields for the next request."""
    doc = _load(data)
    if not isinstance(doc, dict) or "data" not in doc:
        raise _not_a_paper_response(doc)
    records = [
        _record(item, f"record {n}") for n, item in enumerate(_data(doc), 1) if item is not None
    ]
    return S2Page(
        records=records,
        total=_int(doc.get("total")),
        offset=_int(doc.get("offset")) or 0,
        next=_int(doc.get("next")),
    )


def _load(data: bytes) -> Any:
    try:
        return json.loads(data)
    except UnicodeDecodeError as exc:
        raise SourceError(f"s2: invalid UTF-8 at byte {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise SourceError(f"s2: invalid JSON ({exc.msg} at char {exc.pos})") from exc
    except RecursionError:
        raise SourceError("s2: JSON nested too deeply to be a source document") from None


def _data(doc: dict[str, Any]) -> list[Any]:
    items = doc["data"]
    if not isinstance(items, list):
        raise SourceError(f"s2: 'data' is {_kind(items)}, expected a list of papers")
    return items


def _looks_like_paper(doc: dict[str, Any]) -> bool:
    return "paperId" in doc or "title" in doc


def _not_a_paper_response(doc: Any) -> SourceError:
    if isinstance(doc, dict):
        # Errors come back as JSON too: {"error": "Paper not found"}, {"message": "Too Many
        # Requests"}; say what the API said rather than "unknown format".
        message = doc.get("error") or doc.get("message")
        if isinstance(message, str) and message:
            return SourceError(f"s2: the API returned an error: {message}")
    return SourceError(f"s2: expected a paper, a list of papers or a search page, got {_kind(doc)}")


def _record(paper: Any, position: str) -> PaperRecord | RecordError:
    if not isinstance(paper, dict):
        return RecordError(NAME, position, f"expected a JSON object, got {_kind(paper)}")
    title = clean(_str(paper.get("title")))
    if not title:
        return RecordError(NAME, position, "missing title")

    external = paper.get("externalIds")
    external = external if isinstance(external, dict) else {}
    parsed = parse_arxiv_id(_str(external.get("ArXiv")))
    arxiv_id = parsed[0] if parsed else None
    abstract = clean(_str(paper.get("abstract")))

    if arxiv_id:
        abs_url, pdf_url = arxiv_links(arxiv_id)
        links = Links(abstract=abs_url, pdf=pdf_url)
    else:
        oa = paper.get("openAccessPdf")
        # S2 sends {"url": ""} when it knows of no PDF.
        links = Links(pdf=(_str(oa.get("url")) or None) if isinstance(oa, dict) else None)
    links.code = code_links(abstract)
    links.project = project_link(abstract)

    authors = []
    listed = paper.get("authors")
    for author in listed if isinstance(listed, list) else []:
        name = clean(_str(author.get("name"))) if isinstance(author, dict) else ""
        if name:
            authors.append(name)

    return PaperRecord(
        source=NAME,
        position=position,
        title=title,
        arxiv_id=arxiv_id,
        doi=normalize_doi(_str(external.get("DOI"))),
        abstract=abstract,
        authors=authors,
        # A bare `year` is not a publication date; inventing Jan 1 would mis-sort the paper.
        published=parse_date(_str(paper.get("publicationDate"))),
        journal_ref=_journal_ref(paper.get("journal")),
        links=links,
        extras={NAME: _extras(paper, external)},
    )


def _journal_ref(journal: Any) -> str | None:
    """``"Name volume, pages"`` from S2's journal object, or None when it names no journal.

    S2 files arXiv preprints under a journal named "ArXiv" with volume ``abs/2004.05150``;
    that is the preprint itself, not a journal reference.
    """
    if not isinstance(journal, dict):
        return None
    name = clean(_str(journal.get("name")))
    if not name or name.casefold() == "arxiv":
        return None
    volume = clean(_str(journal.get("volume")))
    pages = clean(_str(journal.get("pages")))
    ref = f"{name} {volume}" if volume else name
    return f"{ref}, {pages}" if pages else ref


def _extras(paper: dict[str, Any], external: dict[str, Any]) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    for key, api_field in _EXTRAS:
        value = paper.get(api_field)
        if value is not None and value != "" and value != []:
            extras[key] = value
    # Search responses carry the corpus id only inside externalIds.
    corpus_id = paper.get("corpusId")
    if corpus_id is None:
        corpus_id = external.get("CorpusId")
    if corpus_id is not None:
        extras["corpus_id"] = corpus_id
    return extras


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
