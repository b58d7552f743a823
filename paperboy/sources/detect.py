"""Which source format a file is in, told from its first bytes, never from its name."""

from __future__ import annotations

import json
import re

from paperboy.models import SourceError

FORMATS = {
    "arxiv_api": "arXiv API Atom feed",
    "oai": "arXiv OAI-PMH ListRecords (metadataPrefix arXiv or arXivRaw)",
    "arxiv_rss": "arXiv listing RSS",
    "kaggle": "Kaggle arXiv metadata snapshot (JSON Lines, plain or gzip)",
    "hf_daily": "Hugging Face daily papers JSON",
    "s2": "Semantic Scholar paper JSON (batch, search or single paper)",
    "listing": "plain listing (a title line, then an abstract line, per paper)",
}

HEAD_BYTES = 256 * 1024
_XML_ROOT = re.compile(rb"<(?:[\w.-]+:)?(feed|OAI-PMH|rss)[\s>/]")
_XML_PROLOGUE = re.compile(rb"\A\s*(<\?xml[^>]*\?>\s*|<!--.*?-->\s*|<!DOCTYPE[^>]*>\s*)*", re.S)
_BANNER = "get trending papers in your email inbox"


class HeadTooShort(Exception):  # noqa: N818 - a request for more, not a failure
    """The head ends inside the first JSON record: detect again from more bytes."""


class UnknownFormatError(SourceError):
    def __init__(self, what: str) -> None:
        accepted = "; ".join(FORMATS.values())
        super().__init__(f"{what}: not a format Paperboy reads. Accepted: {accepted}.",
                         code="unknown_format")


def detect(head: bytes, *, name: str = "input", cut: bool = False) -> str:
    """The format of an input from its first bytes (decompressed); raises UnknownFormatError.

    `cut`: the input goes on past `head`. A JSON input whose first record does not end
    within such a head raises HeadTooShort, for the caller to try again with more."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<"):
        match = _XML_ROOT.match(text, _XML_PROLOGUE.match(text).end())  # type: ignore[union-attr]
        if match:
            return {b"feed": "arxiv_api", b"OAI-PMH": "oai", b"rss": "arxiv_rss"}[match.group(1)]
        raise UnknownFormatError(name)
    if text[:1] in (b"[", b"{"):
        found = _detect_json(text)
        if found:
            return found
        if cut and _first_json_object(text) is None:
            raise HeadTooShort(name)
        raise UnknownFormatError(name)
    if b"\x00" not in text and _looks_like_listing(text.decode("utf-8", errors="ignore")):
        return "listing"
    raise UnknownFormatError(name)


def _detect_json(text: bytes) -> str | None:
    first = _first_json_object(text)
    if first is None:
        return None
    if "paper" in first and isinstance(first["paper"], dict):
        return "hf_daily"
    if "paperId" in first or ("data" in first and "total" in first):
        return "s2"
    if "id" in first and ("abstract" in first or "authors_parsed" in first):
        return "kaggle"
    return None


def _first_json_object(text: bytes) -> dict[str, object] | None:
    """The first object of a JSON array or JSON Lines stream, reading only what the head holds."""
    decoder = json.JSONDecoder()
    body = text.decode("utf-8", errors="ignore")
    if body.startswith("["):
        position = 1
        while position < len(body):
            position = len(body) - len(body[position:].lstrip(" \t\r\n,"))
            if body.startswith("null", position):
                position += 4
                continue
            try:
                value, _ = decoder.raw_decode(body, position)
            except (json.JSONDecodeError, RecursionError):
                return None
            return value if isinstance(value, dict) else None
        return None
    for line in body.splitlines():
        try:
            value = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            continue
        if isinstance(value, dict):
            return value
    try:
        value, _ = decoder.raw_decode(body)  # one pretty-printed object
    except (json.JSONDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _looks_like_listing(text: str) -> bool:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if _BANNER not in line.lower()]
    if len(lines) > 2 and not text.endswith("\n"):
        lines = lines[:-1]  # the head may cut the last line short
    pairs = list(zip(lines[::2], lines[1::2], strict=False))
    if not pairs:
        return False
    plausible = sum(1 for title, abstract in pairs if len(title) <= 400 and len(abstract) >= 80)
    return plausible >= 0.8 * len(pairs)
