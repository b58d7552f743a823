"""Parser for plain-text paper listings copied from a "trending papers" web page.

The text is a title line then an abstract line, per paper, after some page furniture: the
"Get trending papers in your email inbox" banner, and the "Subscribe" button text that copy-paste
glues onto the first title ("SubscribeCondConv: ..."). There are no ids, authors or dates; the
importer gives such papers an id of its own and merges them with arXiv later, so this parser
never guesses an arXiv id or DOI from the text.

Lines are split and decoded one at a time, so a stray invalid byte costs one paper, not the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from paperboy.models import Links, PaperRecord, RecordError, SourceError
from paperboy.sources._text import clean, code_links, project_link

NAME = "listing"

_BOM = b"\xef\xbb\xbf"
_BANNER = re.compile(r"get trending papers in your email inbox\b", re.I)
# The button text glued to the first title: "Subscribe" directly followed by the title's
# capital or digit. A title that merely starts with the word ("Subscriber churn ...") has a
# lower-case letter or a space there and is left alone.
_SUBSCRIBE = re.compile(r"^Subscribe(?=[A-Z0-9])")


def parse(data: bytes) -> Iterator[PaperRecord | RecordError]:
    """Parse a listing into title/abstract records; `SourceError` if it is UTF-16, not UTF-8."""
    lines = _content_lines(data)
    for i in range(0, len(lines) - 1, 2):
        (number, title, title_error), (_, abstract, abstract_error) = lines[i], lines[i + 1]
        error = title_error or abstract_error
        if error:
            yield RecordError(NAME, f"line {number}", error)
        else:
            yield PaperRecord(
                source=NAME,
                position=f"line {number}",
                title=title,
                abstract=abstract,
                links=Links(code=code_links(abstract), project=project_link(abstract)),
            )
    if len(lines) % 2:
        number, _, error = lines[-1]
        yield RecordError(NAME, f"line {number}", error or "title without abstract")


def _content_lines(data: bytes) -> list[tuple[int, str, str | None]]:
    """(line number, cleaned text, decode error) for each title or abstract line, in order.

    Blank lines and the banner are dropped wherever they are; the "Subscribe" button only
    before the first title. A line that is not UTF-8 stays in, as an error, so the lines after
    it still pair up as title and abstract.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SourceError("listing: the text is UTF-16; it must be UTF-8")
    offset = len(_BOM) if data.startswith(_BOM) else 0
    lines: list[tuple[int, str, str | None]] = []
    for number, raw in enumerate(data[offset:].splitlines(keepends=True), 1):
        start, offset = offset, offset + len(raw)
        try:
            text = clean(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            error = f"invalid UTF-8 at byte offset {start + exc.start} (line {number})"
            lines.append((number, "", error))
            continue
        if not text or _BANNER.match(text):
            continue
        if not lines:
            if text == "Subscribe":
                continue
            text = _SUBSCRIBE.sub("", text)
        lines.append((number, text, None))
    return lines
