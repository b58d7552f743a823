"""The hardened, streaming XML reader the arXiv API, OAI-PMH and RSS parsers share."""

from __future__ import annotations

from collections.abc import Iterator
from io import BytesIO

from lxml import etree

from paperboy.models import RecordError, SourceError
from paperboy.sources._text import clean

# Entities are never expanded and no DTD or network resource is fetched, so a hostile document
# cannot read local files (XXE), reach the network or blow up memory through entity expansion.
_HARDENED = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
}


class MalformedXml(Exception):
    """The XML broke at `line`; everything read before that point is still good."""

    def __init__(self, line: int, detail: str) -> None:
        super().__init__(f"line {line}: {detail}")
        self.line = line
        self.detail = detail


def xml_elements(data: bytes, root: str) -> Iterator[etree._Element]:
    """Yield each element of `data` as soon as its end tag is read, with a hardened parser.

    Streaming means the records before a syntax error reach the caller before `MalformedXml`
    is raised. A document whose root is not `root` (Clark notation) raises `SourceError`, so an
    HTML error page or the wrong feed type is refused instead of yielding nothing.
    """
    first = True
    try:
        for event, element in etree.iterparse(BytesIO(data), events=("start", "end"), **_HARDENED):
            if event == "start":
                if first and element.tag != root:
                    raise SourceError(
                        f"expected a <{root}> document, got <{element.tag}>",
                        code="unknown_format",
                    )
                first = False
                continue
            yield element
    except etree.XMLSyntaxError as exc:
        # An empty body reports line 0; there is no line 0 to point a reader at.
        raise MalformedXml(max(exc.lineno or 1, 1), exc.msg or str(exc)) from exc


def malformed_error(source: str, exc: MalformedXml) -> RecordError:
    """The one error a parser yields when the XML breaks off; nothing is read after it."""
    return RecordError(source, f"line {exc.line}", f"malformed XML, parsing stopped: {exc.detail}")


def element_text(element: etree._Element | None) -> str:
    """The text of an element and its child elements, skipping unexpanded entity references.

    lxml's ``itertext`` would return an unresolved ``&xxe;`` literally; a reference is dropped
    here, so nothing an entity names can ever surface in a record.
    """
    if element is None:
        return ""
    parts = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str):
            parts.append(element_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def child_text(element: etree._Element, tag: str) -> str:
    """The whitespace-collapsed text of the first `tag` child; empty when absent."""
    return clean(element_text(element.find(tag)))


def release(element: etree._Element) -> None:
    """Free a handled record and its already handled siblings, so memory stays flat."""
    element.clear(keep_tail=True)
    parent = element.getparent()
    while parent is not None and element.getprevious() is not None:
        del parent[0]
