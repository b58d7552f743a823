"""A reader's library in and out of the formats reference managers use. Pure: bytes in,
entries out; papers in, text out.

Read: BibTeX (bibtexparser 2, with its `@string` resolution and LaTeX decoding of accents),
RIS (rispy), CSL-JSON (Zotero's and Mendeley's JSON export, read with `json`) and plain lists of
arXiv ids, DOIs and arXiv or DOI URLs, one per line. The format is told from the content, never
from the file name. Each entry says where it was (`line 12`, `item 3`) so a report can point at
the ones that matched no paper.

Written: the same three formats (not the plain list), carrying what Paperboy keeps of a paper:
title, authors, date, abstract, arXiv id, DOI, URL and journal reference; reading an export
back gives the same papers.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from paperboy.sources._text import clean, normalize_doi, parse_arxiv_id

__all__ = ["EXPORT_FORMATS", "Entry", "LibraryFileError", "read_entries", "write_library"]

EXPORT_FORMATS = {"bibtex": ("bib", "application/x-bibtex"),
                  "ris": ("ris", "application/x-research-info-systems"),
                  "csl-json": ("json", "application/vnd.citationstyles.csl+json")}
_RIS_START = re.compile(r"^TY  - ", re.M)


class LibraryFileError(ValueError):
    """A file that is none of the formats, or broken past reading."""


@dataclass
class Entry:
    where: str  # "line 12" (BibTeX, RIS, lists) or "item 3" (CSL-JSON)
    title: str = ""
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    arxiv_id: str | None = None
    doi: str | None = None
    url: str | None = None
    text: str = ""  # the line of a plain list, for the report


def read_entries(data: bytes, *, name: str = "input") -> tuple[str, list[Entry], list[str]]:
    """(format, entries, problems): the entries of a BibTeX, RIS, CSL-JSON file or id list,
    and what could not be read (each naming its line). Raises LibraryFileError."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise LibraryFileError(f"{name}: not UTF-8 text (byte {error.start})") from None
    stripped = text.lstrip()
    if not stripped:
        raise LibraryFileError(f"{name}: the file is empty")
    if stripped[0] in "[{":
        return "csl-json", *_csl_json(text, name)
    if _RIS_START.search(text):
        return "ris", *_ris(text)
    if re.search(r"^\s*@\w+\s*[{(]", text, re.M):
        return "bibtex", *_bibtex(text)
    return "list", *_id_list(text, name)


# -- reading -----------------------------------------------------------------------------------


def _bibtex(text: str) -> tuple[list[Entry], list[str]]:
    import bibtexparser
    from bibtexparser.middlewares import LatexDecodingMiddleware

    quiet = logging.getLogger("bibtexparser")  # it logs each broken block; the report says so
    level, quiet.level = quiet.level, logging.CRITICAL
    try:
        library = bibtexparser.parse_string(text,
                                            append_middleware=[LatexDecodingMiddleware()])
    finally:
        quiet.setLevel(level)
    entries = []
    for item in library.entries:
        fields = {k.lower(): str(v.value) for k, v in item.fields_dict.items()}
        eprint = fields.get("eprint", "")
        arxiv = parse_arxiv_id(eprint) if eprint and (
            "arxiv" in fields.get("archiveprefix", "arxiv").lower()) else None
        arxiv = arxiv or _arxiv_in(fields.get("url"), fields.get("journal"), fields.get("note"))
        entries.append(Entry(
            where=f"line {(item.start_line or 0) + 1}", title=_squash(fields.get("title", "")),
            authors=_bibtex_authors(fields.get("author", "")), year=_year(fields.get("year")),
            arxiv_id=arxiv[0] if arxiv else None, doi=normalize_doi(fields.get("doi")),
            url=fields.get("url") or None))
    problems = [f"line {(block.start_line or 0) + 1}: not a BibTeX entry ({_first_line(block)})"
                for block in library.failed_blocks]
    return entries, problems


def _bibtex_authors(value: str) -> list[str]:
    """"Last, First and First Last and {Org Name}" as "First Last" names."""
    names = []
    for part in re.split(r"\s+and\s+", _squash(value)):
        part = part.strip().strip("{}")
        if not part or part.lower() == "others":
            continue
        last, comma, first = part.partition(",")
        names.append(f"{first.strip()} {last.strip()}".strip() if comma else part)
    return names


def _ris(text: str) -> tuple[list[Entry], list[str]]:
    import rispy

    starts = [text.count("\n", 0, m.start()) + 1 for m in _RIS_START.finditer(text)]
    try:
        records = rispy.loads(text)
    except (ValueError, KeyError, TypeError, IndexError) as error:
        raise LibraryFileError(f"RIS could not be read: {error}") from None
    entries = []
    for n, record in enumerate(records):
        urls = record.get("urls") or ([record["url"]] if record.get("url") else [])
        arxiv = _arxiv_in(*urls, record.get("notes_abstract"), *(record.get("notes") or []))
        title = record.get("title") or record.get("primary_title") or ""
        authors = record.get("authors") or record.get("first_authors") or []
        entries.append(Entry(
            where=f"line {starts[n] if n < len(starts) else '?'}", title=_squash(title),
            authors=[_last_first(a) for a in authors],
            year=_year(record.get("year") or record.get("publication_year")),
            arxiv_id=arxiv[0] if arxiv else None, doi=normalize_doi(record.get("doi")),
            url=urls[0] if urls else None))
    return entries, []


def _csl_json(text: str, name: str) -> tuple[list[Entry], list[str]]:
    try:
        items = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise LibraryFileError(f"{name}: not JSON ({error})") from None
    items = [items] if isinstance(items, dict) else items
    if not isinstance(items, list):
        raise LibraryFileError(f"{name}: CSL-JSON is a list of items")
    entries, problems = [], []
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict):
            problems.append(f"item {n}: not a CSL-JSON item")
            continue
        strings = {k: v for k, v in item.items() if isinstance(v, str)}
        arxiv = _arxiv_in(strings.get("number"), strings.get("URL"),
                          strings.get("archive_location"), strings.get("id"), strings.get("note"))
        authors = [_csl_name(a) for a in item.get("author") or [] if isinstance(a, dict)]
        entries.append(Entry(
            where=f"item {n}", title=_squash(strings.get("title", "")),
            authors=[a for a in authors if a], year=_csl_year(item.get("issued")),
            arxiv_id=arxiv[0] if arxiv else None, doi=normalize_doi(strings.get("DOI")),
            url=strings.get("URL")))
    return entries, problems


def _id_list(text: str, name: str) -> tuple[list[Entry], list[str]]:
    entries, problems = [], []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        arxiv, doi = parse_arxiv_id(line), normalize_doi(line)
        if doi and "arxiv" in doi:  # 10.48550/arXiv.2301.00001 is the arXiv id as a DOI
            arxiv = parse_arxiv_id(doi) or arxiv
        if arxiv or doi:
            entries.append(Entry(where=f"line {n}", arxiv_id=arxiv[0] if arxiv else None,
                                 doi=None if arxiv else doi, text=line))
        else:
            problems.append(f"line {n}: not an arXiv id, DOI or arXiv/DOI URL: {line[:80]!r}")
    if not entries and problems:
        raise LibraryFileError(f"{name}: neither BibTeX, RIS, CSL-JSON nor a list of arXiv "
                               f"ids, DOIs or URLs ({problems[0]})")
    return entries, problems


# -- writing -----------------------------------------------------------------------------------


def write_library(papers: Iterable[Mapping[str, Any]], fmt: str) -> str:
    """The papers as a BibTeX, RIS or CSL-JSON document (`EXPORT_FORMATS`)."""
    papers = list(papers)
    if fmt == "bibtex":
        return _write_bibtex(papers)
    if fmt == "ris":
        import rispy

        class Unnumbered(rispy.RisWriter):  # rispy numbers records ("1."), RIS does not
            def set_header(self, count: int) -> str:
                return ""

        return str(rispy.dumps([_ris_record(p) for p in papers], implementation=Unnumbered))
    if fmt == "csl-json":
        return json.dumps([_csl_item(p) for p in papers], ensure_ascii=False, indent=2) + "\n"
    raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(EXPORT_FORMATS)}")


def _write_bibtex(papers: list[Mapping[str, Any]]) -> str:
    import bibtexparser
    from bibtexparser import model

    library = bibtexparser.Library()
    keys: set[str] = set()
    for paper in papers:
        published = _published(paper)
        fields = {"title": paper.get("title") or "",
                  "author": " and ".join(paper.get("authors") or []),
                  "year": str(published.year) if published else None,
                  "abstract": paper.get("abstract") or None, "doi": paper.get("doi"),
                  "url": _url(paper), "journal": paper.get("journal_ref")}
        if paper.get("arxiv_id"):
            fields |= {"eprint": paper["arxiv_id"], "archivePrefix": "arXiv",
                       "primaryClass": (paper.get("categories") or [None])[0]}
        key = _cite_key(paper, keys)
        entry_type = "article" if paper.get("journal_ref") else "misc"
        library.add(model.Entry(entry_type, key, [
            model.Field(k, _bibtex_escape(v)) for k, v in fields.items() if v]))
    return str(bibtexparser.write_string(library))


def _ris_record(paper: Mapping[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {"type_of_reference": "JOUR" if paper.get("journal_ref") else "GEN",
                              "title": paper.get("title") or "",
                              "authors": [_comma_name(a) for a in paper.get("authors") or []]}
    if published := _published(paper):
        record["year"] = str(published.year)
        record["date"] = published.strftime("%Y/%m/%d")
    for key, value in (("abstract", paper.get("abstract")), ("doi", paper.get("doi")),
                       ("journal_name", paper.get("journal_ref"))):
        if value:
            record[key] = value
    if url := _url(paper):
        record["urls"] = [url]
    return record


def _csl_item(paper: Mapping[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {"id": paper["id"], "type": "article-journal" if paper.get(
        "journal_ref") else "article", "title": paper.get("title") or "",
        "author": [_csl_author(a) for a in paper.get("authors") or []]}
    if day := _published(paper):
        item["issued"] = {"date-parts": [[day.year, day.month, day.day]]}
    for key, value in (("abstract", paper.get("abstract")), ("DOI", paper.get("doi")),
                       ("URL", _url(paper)), ("container-title", paper.get("journal_ref"))):
        if value:
            item[key] = value
    if paper.get("arxiv_id"):
        item["number"] = f"arXiv:{paper['arxiv_id']}"
        item["publisher"] = "arXiv"
    return item


# -- small helpers ---------------------------------------------------------------------------


def _arxiv_in(*texts: Any) -> tuple[str, str | None] | None:
    for text in texts:
        if isinstance(text, str) and "arxiv" in text.lower() and (found := parse_arxiv_id(text)):
            return found
    return None


def _squash(text: str) -> str:
    return clean(re.sub(r"[{}]", "", text or ""))


def _year(value: Any) -> int | None:
    match = re.search(r"\b(1[5-9]\d\d|2[0-2]\d\d)\b", str(value or ""))
    return int(match.group(1)) if match else None


def _csl_year(issued: Any) -> int | None:
    if isinstance(issued, dict):
        parts = issued.get("date-parts")
        if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
            return _year(parts[0][0])
        return _year(issued.get("raw") or issued.get("literal"))
    return None


def _csl_name(author: Mapping[str, Any]) -> str:
    if isinstance(author.get("literal"), str):
        return clean(author["literal"])
    given, family = author.get("given"), author.get("family")
    return clean(" ".join(str(p) for p in (given, family) if isinstance(p, str) and p))


def _csl_author(name: str) -> dict[str, str]:
    given, _, family = name.rpartition(" ")
    return {"family": family, "given": given} if given else {"literal": name}


def _last_first(name: str) -> str:
    last, comma, first = name.partition(",")
    return f"{first.strip()} {last.strip()}".strip() if comma else name.strip()


def _comma_name(name: str) -> str:
    given, _, family = name.rpartition(" ")
    return f"{family}, {given}" if given else name


def _url(paper: Mapping[str, Any]) -> str | None:
    if paper.get("arxiv_id"):
        return f"https://arxiv.org/abs/{paper['arxiv_id']}"
    links = paper.get("links") or {}
    return links.get("abstract") or (f"https://doi.org/{paper['doi']}" if paper.get("doi")
                                     else paper.get("url"))


def _published(paper: Mapping[str, Any]) -> datetime | None:
    """The first-published time of a stored row (a datetime) or of a card (ISO text)."""
    value = paper.get("published")
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return value if isinstance(value, datetime) else None


def _cite_key(paper: Mapping[str, Any], taken: set[str]) -> str:
    authors = paper.get("authors") or ["anon"]
    family = re.sub(r"[^a-z]", "", authors[0].rpartition(" ")[2].lower()) or "anon"
    published = _published(paper)
    year = str(published.year) if published else ""
    word = next((w for w in re.findall(r"[a-z]{4,}", (paper.get("title") or "").lower())), "")
    key, n = f"{family}{year}{word}", 1
    while key in taken:
        n += 1
        key = f"{family}{year}{word}{n}"
    taken.add(key)
    return key


def _bibtex_escape(value: str) -> str:
    """Braces balanced (a stray one would end the field), &, % and # escaped as LaTeX reads
    them; math and accents as they are."""
    value = re.sub(r"(?<!\\)([&%#])", r"\\\1", value)
    depth, out = 0, []
    for char in value:
        if char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                continue
            depth -= 1
        out.append(char)
    return "".join(out) + "}" * depth


def _first_line(block: Any) -> str:
    raw = str(getattr(block, "raw", "") or "")
    return raw.strip().splitlines()[0][:60] if raw.strip() else "empty"
