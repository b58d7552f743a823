"""What a reader muted, as one test per paper: a word (stemmed as search stems it, in the title
or abstract), an author (case, accents and initials' dots aside, as follows match authors) or a
category (exactly, or a whole archive: `cs` mutes cs.*). Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from paperboy.index.lexical_query import name_tokens, word_stems

__all__ = ["Mutes"]


@dataclass(frozen=True)
class Mutes:
    words: dict[str, str] = field(default_factory=dict)  # stem -> the word as muted
    authors: dict[str, str] = field(default_factory=dict)  # name tokens -> the name as muted
    categories: dict[str, str] = field(default_factory=dict)  # lower-case -> as muted

    @classmethod
    def of(cls, rows: Iterable[Mapping[str, Any]]) -> Mutes:
        """From the reader's rows of the `mutes` table."""
        mutes = cls()
        for row in rows:
            value = str(row["value"])
            if row["kind"] == "word":
                mutes.words.update(dict.fromkeys(word_stems(value), value))
            elif row["kind"] == "author":
                mutes.authors[" ".join(name_tokens(value))] = value
            elif row["kind"] == "category":
                mutes.categories[value.lower()] = value
        return mutes

    def __bool__(self) -> bool:
        return bool(self.words or self.authors or self.categories)

    def hides(self, paper: Mapping[str, Any]) -> str | None:
        """Why the paper is hidden ("muted word “x”"), or None when nothing muted is in it."""
        if not self:
            return None
        for category in paper.get("categories") or ():
            lower = str(category).lower()
            for muted in (lower, lower.split(".", 1)[0]):
                if muted in self.categories:
                    return f"muted category “{self.categories[muted]}”"
        for author in paper.get("authors") or ():
            if (key := " ".join(name_tokens(str(author)))) in self.authors:
                return f"muted author “{self.authors[key]}”"
        if self.words:
            text = f"{paper.get('title') or ''} {paper.get('abstract') or ''}"
            for stem in word_stems(text):
                if stem in self.words:
                    return f"muted word “{self.words[stem]}”"
        return None
