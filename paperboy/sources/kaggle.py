"""Parser for the Kaggle arXiv metadata snapshot (``arxiv-metadata-oai-snapshot.json``).

The snapshot is JSON Lines, one arXiv paper per line, about 2.7 million lines and 4 GB. It must
therefore stream: `parse_lines` takes any iterable of lines (a file opened in binary mode, a
gzip stream) and keeps nothing between lines. A broken line becomes a `RecordError` naming its
line number and parsing goes on, because one truncated line must not cost a multi-hour import.

This parser sits on the bulk-import hot path, so per-line work is kept to one `json.loads`, a
few dict lookups and precompiled regexes (inside the `_text` helpers).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Any

from paperboy.models import Links, PaperRecord, RecordError, Version
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

NAME = "kaggle"

_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


def parse(data: bytes) -> Iterator[PaperRecord | RecordError]:
    """Parse a whole snapshot (or a slice of one) held in memory."""
    return parse_lines(data.splitlines())


def parse_lines(
    lines: Iterable[bytes], *, first_line: int = 1
) -> Iterator[PaperRecord | RecordError]:
    """Parse snapshot lines one at a time; `first_line` numbers the first line for messages.

    Blank lines are skipped but still counted, so positions match what an editor shows.
    """
    for number, line in enumerate(lines, first_line):
        if not line or line.isspace():
            continue
        position = f"line {number}"
        try:
            obj = json.loads(line)
        except UnicodeDecodeError as exc:
            yield RecordError(NAME, position, f"invalid UTF-8 at byte {exc.start} of the line")
            continue
        except RecursionError:
            yield RecordError(NAME, position, "JSON nested too deeply to be a paper record")
            continue
        except json.JSONDecodeError as exc:
            # exc's own text says "line 1" (of the one-line document), which would contradict
            # the file line in `position`; the column is what helps.
            yield RecordError(NAME, position, f"invalid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(obj, dict):
            yield RecordError(NAME, position, f"expected a JSON object, got {_kind(obj)}")
            continue
        yield record_from_json(obj, position)


def record_from_json(obj: dict[str, Any], position: str) -> PaperRecord | RecordError:
    """Turn one decoded snapshot object into a record, or say why it cannot be one."""
    raw_id = obj.get("id")
    if raw_id is None or raw_id == "":
        return RecordError(NAME, position, "missing id")
    if not isinstance(raw_id, str):
        # Spreadsheet round-trips turn "0704.0010" into the number 704.001; guessing the lost
        # digits back would risk merging two different papers.
        return RecordError(NAME, position, f"id is not a string: {raw_id!r}")
    parsed = parse_arxiv_id(raw_id)
    if parsed is None:
        return RecordError(NAME, position, f"not an arXiv id: {raw_id!r}")
    arxiv_id = parsed[0]
    title = _squash(obj.get("title"))
    if not title:
        return RecordError(NAME, position, f"missing title ({arxiv_id})")

    abstract = _squash(obj.get("abstract"))
    comments = _squash(obj.get("comments")) or None
    versions = _versions(obj.get("versions"))
    update_date = _day(obj.get("update_date"))
    published = next((v.date for v in versions if v.label == "v1"), None)
    if published is None and versions:
        published = versions[0].date
    if versions:
        updated = versions[-1].date
    elif update_date:
        # Without versions the crawl day is the best "last changed" we have; it says nothing
        # about first submission, so `published` stays unknown.
        updated = datetime.fromisoformat(update_date).replace(tzinfo=UTC)
    else:
        updated = None

    abs_url, pdf_url = arxiv_links(arxiv_id)
    has_url = "://" in abstract or (comments is not None and "://" in comments)
    links = Links(
        abstract=abs_url,
        pdf=pdf_url,
        # Most abstracts carry no URL at all; skipping the regex scans for them is measurable.
        code=code_links(abstract, comments) if has_url else [],
        project=project_link(abstract, comments) if has_url else None,
    )

    kaggle: dict[str, Any] = {}
    submitter = _squash(obj.get("submitter"))
    if submitter:
        kaggle["submitter"] = submitter
    report_no = _squash(obj.get("report-no"))
    if report_no:
        kaggle["report_no"] = report_no
    if update_date:
        kaggle["update_date"] = update_date

    categories = obj.get("categories")
    return PaperRecord(
        source=NAME,
        position=position,
        title=title,
        arxiv_id=arxiv_id,
        doi=normalize_doi(_str(obj.get("doi"))),
        abstract=abstract,
        authors=_authors(obj.get("authors_parsed"), obj.get("authors")),
        categories=categories.split() if isinstance(categories, str) else [],
        published=published,
        updated=updated,
        versions=versions,
        journal_ref=_squash(obj.get("journal-ref")) or None,
        comments=comments,
        license=_squash(obj.get("license")) or None,
        links=links,
        extras={NAME: kaggle},
    )


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _squash(value: Any) -> str:
    """`clean` for a JSON value that may be null or not a string."""
    return clean(value) if isinstance(value, str) else ""


def _authors(parsed: Any, raw: Any) -> list[str]:
    """Names from ``authors_parsed`` ([keyname, forenames, suffix, affiliation...]).

    The parsed form is preferred: it has affiliations split off and accents already decoded,
    which the raw string (``"A (1 and 2) ((1) X, (2) Y)"``) does not.
    """
    names: list[str] = []
    if isinstance(parsed, list):
        for entry in parsed:
            if not isinstance(entry, list) or not entry:
                continue
            parts = [p for p in entry[:3] if isinstance(p, str)]
            if len(parts) != len(entry[:3]):
                continue
            key = parts[0]
            fore = parts[1] if len(parts) > 1 else ""
            suffix = parts[2] if len(parts) > 2 else ""
            if ". -" in fore:
                # arXiv's name splitter writes "C.-P." as "C. -P."; other sources keep the
                # original, and author matching across sources needs them to agree.
                fore = fore.replace(". -", ".-")
            name = " ".join(f"{fore} {key} {suffix}".split())
            if "\\" in name:
                name = delatex_accents(name)
            if name:
                names.append(name)
    if names:
        return names
    return split_authors(raw) if isinstance(raw, str) else []


def _versions(raw: Any) -> list[Version]:
    if not isinstance(raw, list):
        return []
    versions: list[Version] = []
    for entry in raw:
        if not isinstance(entry, dict):
            continue
        label = entry.get("version")
        if not isinstance(label, str) or not label:
            continue
        created = entry.get("created")
        versions.append(Version(label, _created(created) if isinstance(created, str) else None))
    return versions


def _created(text: str) -> datetime | None:
    """Parse a version date, which the snapshot always writes as ``Mon, 2 Apr 2007 19:18:42 GMT``.

    A direct split is several times faster than `email.utils`, and there are millions of these;
    anything else falls back to the general `parse_date`.
    """
    parts = text.split()
    if len(parts) == 6 and parts[5] == "GMT":
        month = _MONTHS.get(parts[2])
        clock = parts[4].split(":")
        if month and len(clock) == 3 and parts[1].isdigit() and parts[3].isdigit():
            try:
                return datetime(int(parts[3]), month, int(parts[1]),
                                int(clock[0]), int(clock[1]), int(clock[2]), tzinfo=UTC)
            except ValueError:
                pass
    return parse_date(text)


def _day(value: Any) -> str | None:
    """A ``YYYY-MM-DD`` day, or None when the value is missing or not a real date."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip()[:10]).isoformat()
    except ValueError:
        return None
