"""A paper as Markdown, for `/papers/{id}.md` (and `Accept: text/markdown`), the Hugging Face
compatible `/hf/papers/{id}.md` that `huggingface_hub.read_paper` reads, and the MCP server's
paper resource: title, authors, dates, identifiers, links, what sources said, the abstract."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["paper_markdown"]

# Markdown's own punctuation in running text: escaped so a title cannot start a list or a link
_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


def _text(value: str) -> str:
    return _SPECIAL.sub(r"\\\1", " ".join(value.split()))


def paper_markdown(card: dict[str, Any]) -> str:
    """The paper (a card, as web/views.py makes them) as a Markdown document."""
    lines = [f"# {_text(card['title'])}", ""]
    if card["authors"]:
        lines += [f"**Authors:** {_text(', '.join(card['authors']))}", ""]
    facts = []
    if card.get("published"):
        facts.append(f"- Published: {card['published'][:10]}")
    if card.get("updated") and card["updated"][:10] != (card.get("published") or "")[:10]:
        facts.append(f"- Updated: {card['updated'][:10]}")
    if card.get("arxiv_id"):
        version = card.get("version")
        facts.append(f"- arXiv: {card['arxiv_id']}" + (
            f" (v{version})" if isinstance(version, int) else f" ({version})" if version
            else ""))
    if card.get("doi"):
        facts.append(f"- DOI: {card['doi']}")
    if card["categories"]:
        facts.append(f"- Categories: {', '.join(card['categories'])}")
    if card.get("venue"):
        facts.append(f"- Venue: {_text(card['venue'])}")
    if card.get("citations") is not None:
        facts.append(f"- Citations: {card['citations']:,} (Semantic Scholar)")
    if card.get("upvotes"):
        facts.append(f"- Upvotes: {card['upvotes']}")
    links = card.get("links") or {}
    for label, url in (("Abstract", links.get("abstract")), ("PDF", links.get("pdf")),
                       ("Project page", links.get("project")), ("Paperboy", card.get("url"))):
        if url:
            facts.append(f"- {label}: <{url}>")
    for code in card.get("code") or []:
        stars = f" ({code['stars']:,} stars)" if code.get("stars") is not None else ""
        facts.append(f"- Code: <{code['url']}>{stars}")
    lines += facts + ([""] if facts else [])
    if card.get("summary"):
        lines += ["## Summary (Hugging Face)", "", _text(card["summary"]), ""]
    if card.get("keywords"):
        lines += [f"**Keywords (Hugging Face):** {_text(', '.join(card['keywords']))}", ""]
    lines += ["## Abstract", "", " ".join((card.get("abstract") or "").split())
              or "(no abstract)", ""]
    if card.get("comments"):
        lines += [f"**Comments:** {_text(card['comments'])}", ""]
    if card.get("journal_ref"):
        lines += [f"**Journal reference:** {_text(card['journal_ref'])}", ""]
    return "\n".join(lines)
