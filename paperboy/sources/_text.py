"""Small pure helpers every parser shares: identifiers, dates, names, links and title keys."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import urlsplit

_SUFFIX = re.compile(r"(Jr|Sr|II|III|IV)\.?", re.I)
# New-style ids (2202.12139v1), also inside arXiv's own DOIs (10.48550/arXiv.2202.12139).
_NEW_ID = re.compile(r"(?:(?<=arxiv\.)|(?<=arXiv\.)|(?<![\w.]))(\d{4}\.\d{4,5})(v\d+)?(?!\d)")
# Old-style ids (hep-th/9901001); a subject class (math.AG/0601001) is not part of the id.
_OLD_ID = re.compile(r"(?<![\w.-])([a-z][a-z-]*)(?:\.[A-Z]{2})?/(\d{7})(v\d+)?(?!\d)")
_URL = re.compile(r"https?://[^\s<>\"'\]\[{}|\\^`]+", re.I)
_CODE_HOST = re.compile(
    r"https?://(?:www\.)?(github\.com|gitlab\.com|bitbucket\.org|codeberg\.org)/"
    r"([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)",
    re.I,
)
_PROJECT_HINT = re.compile(r"(project\s+page|project\s+website|homepage|website)\W{0,12}$", re.I)

# LaTeX accent commands as arXiv metadata writes them (\'a, \"{o}, \c{c}) -> combining marks.
_ACCENTS = {"'": "\u0301", "`": "\u0300", '"': "\u0308", "^": "\u0302", "~": "\u0303",
            "=": "\u0304", ".": "\u0307", "c": "\u0327", "v": "\u030c", "u": "\u0306",
            "H": "\u030b", "k": "\u0328"}
_ACCENT = re.compile(r"""\\([`'"^~=.]|[cvuHk](?=[{\s]))\s*\{?\\?([A-Za-z])\}?""")
# and the letters LaTeX names (\ss, \o, \l), braced or not: {\o}, \o{}, \ss e (one space eaten)
_LETTERS = {"ss": "ß", "o": "ø", "O": "Ø", "ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ",
            "aa": "å", "AA": "Å", "l": "ł", "L": "Ł"}
_LETTER = re.compile(r"\{?\\(" + "|".join(sorted(_LETTERS, key=len, reverse=True))
                     + r")(?![A-Za-z])(?:\{\}| )?\}?")


def clean(text: str | None) -> str:
    """Collapse runs of whitespace (hard-wrapped arXiv abstracts), trim, and repair mojibake."""
    if not text:
        return ""
    text = " ".join(text.split())
    return _repair_mojibake(text) if ("Ã" in text or "Â" in text) else text


def _repair_mojibake(text: str) -> str:
    """UTF-8 that was decoded as Latin-1 once ("RamÃ­rez"), decoded right ("Ramírez")."""
    try:
        return text.encode("latin-1").decode("utf-8")
    except UnicodeError:  # not mojibake after all: a real "Ã" among other non-Latin-1 text
        return text


def delatex_accents(text: str) -> str:
    """Turn LaTeX accent commands into the accented letters they stand for."""

    def repl(m: re.Match[str]) -> str:
        return unicodedata.normalize("NFC", m.group(2) + _ACCENTS[m.group(1)])

    if "\\" not in text:
        return text
    return _LETTER.sub(lambda m: _LETTERS[m.group(1)], _ACCENT.sub(repl, text))


# Text-mode LaTeX in titles and abstracts, which no reader wants to see and which the word index
# would cut apart ("\\textbf{L}atent" read as "atent"). Math between $ signs is left to KaTeX.
_MATH = re.compile(r"(\$\$.+?\$\$|\$[^$]+\$)", re.S)
_TEXT_MACRO = re.compile(
    r"\\(?:text(?:bf|it|rm|sf|tt|sc|up|md|sl|normal)|emph|mbox|hbox|underline|textsuperscript)"
    r"\s*\{([^{}]*)\}")
_OLD_STYLE = re.compile(r"\{\\(?:bf|it|em|sc|rm|tt|sf|sl)\s+([^{}]*)\}")
_ESCAPED = re.compile(r"\\([&%#_])")
_DASHES = (("---", "\u2014"), ("--", "\u2013"))


def tex_text(text: str) -> str:
    """Text-mode LaTeX macros resolved to what they print: `\\textbf{L}atent` -> "Latent",
    `\\mbox{-}` -> "-", `\\textup{\\textsc{X}}` -> "X", `--` -> an en dash, `\\&` -> "&",
    `R\\'ev\\'esz` -> "Révész"; math between `$` signs unchanged."""
    if "\\" not in text and "--" not in text:
        return text
    parts = _MATH.split(text)
    for i in range(0, len(parts), 2):  # the even parts are outside math
        part = parts[i]
        while True:
            resolved = _OLD_STYLE.sub(r"\1", _TEXT_MACRO.sub(r"\1", part))
            if resolved == part:
                break
            part = resolved
        for dashes, glyph in _DASHES:
            part = part.replace(dashes, glyph)
        parts[i] = _ESCAPED.sub(r"\1", delatex_accents(part))
    return "".join(parts)


_LATEX_LEFTOVERS = re.compile(r"\\[a-z]+|[{}$]")
_WORD = re.compile(r"[^\W_]+")
_AUTHOR_SEPARATOR = re.compile(r",\s*(?:and\s+)?|\s+and\s+|;")
_ET_AL = re.compile(r"et\.? al\.?", re.I)


@lru_cache(maxsize=16384)  # the store asks for the same titles' keys several times a batch
def title_key(title: str) -> str:
    """The key two sources' titles are matched on: case, accents, LaTeX and punctuation removed."""
    text = delatex_accents(tex_text(title))
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.casefold()
    return " ".join(_WORD.findall(_LATEX_LEFTOVERS.sub(" ", text)))


def parse_arxiv_id(text: str | None) -> tuple[str, str | None] | None:
    """Find an arXiv id in an id, URL or OAI identifier: (id without version, ``vN`` or None)."""
    if not text:
        return None
    if m := _NEW_ID.search(text):
        return m.group(1), m.group(2)
    if m := _OLD_ID.search(text):
        return f"{m.group(1)}/{m.group(2)}", m.group(3)
    return None


def arxiv_id_month(arxiv_id: str | None) -> tuple[int, int] | None:
    """The year and month an arXiv id was assigned: `2503.11930` and `hep-th/9901001` carry
    them (YYMM; arXiv began in 1991, so 91-99 are the 1900s)."""
    parsed = parse_arxiv_id(arxiv_id)
    if parsed is None:
        return None
    digits = parsed[0].rsplit("/", 1)[-1][:4]
    if not digits.isdigit():
        return None
    year, month = int(digits[:2]), int(digits[2:])
    if not 1 <= month <= 12:
        return None
    return (1900 + year if year >= 91 else 2000 + year), month


def web_url(url: str | None) -> str | None:
    """`url` if it is an http(s) URL with a host, else None: a `javascript:` or `data:` link
    from a source field (a project page, an open-access PDF) must never become a link."""
    if not url or any(ord(c) < 0x21 for c in url.strip()):
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def normalize_doi(text: str | None) -> str | None:
    """A DOI in its canonical lower-case form without resolver prefix; the first of several."""
    if not text:
        return None
    first = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:\s*)", "", text.strip(), flags=re.I)
    first = first.split()[0] if first else ""
    return first.lower() if first.startswith("10.") else None


def parse_date(text: str | None) -> datetime | None:
    """Parse the date forms the sources use (ISO 8601, RFC 2822, plain day) into aware UTC."""
    if not text or not text.strip():
        return None
    text = text.strip()
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            value = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            try:
                value = datetime.combine(date.fromisoformat(text[:10]), datetime.min.time())
            except ValueError:
                return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def split_authors(text: str | None) -> list[str]:
    """Split an arXiv author string ("A. B, C. D, and E. F") into names, in order.

    Affiliations in parentheses, nested ones included ("A (1), B (2) ((1) MIT, (2) CERN)"),
    are dropped; "Jr."-style suffixes stay with their name; "et al" is not an author.
    """
    text = clean(delatex_accents(text or ""))
    if "(" in text or ")" in text:
        depth, kept = 0, []
        for char in text:
            if char == "(":
                depth += 1
            elif char == ")":
                depth = max(0, depth - 1)
            elif depth == 0:
                kept.append(char)
        text = "".join(kept)
    names: list[str] = []
    for part in _AUTHOR_SEPARATOR.split(text):
        name = clean(part)
        if not name or _ET_AL.fullmatch(name):
            continue
        if names and _SUFFIX.fullmatch(name):
            names[-1] = f"{names[-1]}, {name}"
        else:
            names.append(name)
    return names


def code_links(*texts: str | None) -> list[str]:
    """Repository URLs (GitHub, GitLab, Bitbucket, Codeberg) mentioned in the texts, in order."""
    found: list[str] = []
    for text in texts:
        for m in _CODE_HOST.finditer(text or ""):
            owner, repo = m.group(2), m.group(3).rstrip(".")
            if repo.endswith(".git"):
                repo = repo[:-4]
            url = f"https://{m.group(1).lower()}/{owner}/{repo}"
            if url.lower() not in (f.lower() for f in found):
                found.append(url)
    return found


def project_link(*texts: str | None) -> str | None:
    """A project page named as such ("Project page: https://...") or hosted on github.io."""
    for text in texts:
        text = text or ""
        for m in _URL.finditer(text):
            url = m.group(0).rstrip(".,;:)")
            if _CODE_HOST.match(url):
                continue
            if ".github.io" in url.lower() or _PROJECT_HINT.search(text[: m.start()]):
                return url
    return None


def arxiv_links(arxiv_id: str) -> tuple[str, str]:
    """The abstract page and PDF URLs of an arXiv paper."""
    return f"https://arxiv.org/abs/{arxiv_id}", f"https://arxiv.org/pdf/{arxiv_id}"


LEAD_CHARS = 320  # "the first lines of the abstract" on a card or in a digest


def lead(abstract: str, chars: int = LEAD_CHARS) -> str:
    """The abstract's beginning, cut at a word, with an ellipsis when cut."""
    if len(abstract) <= chars:
        return abstract
    cut = abstract[:chars].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"

