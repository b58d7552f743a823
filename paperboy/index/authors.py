"""Which stored author names are one person's, as a reader typing a name means it: case and
accents aside ("Jose" is "José"), initials standing for given names ("J. R. Romero" is "José
Raúl Romero"), "Family, Given" as "Given Family". Pure."""

from __future__ import annotations

from paperboy.index.lexical_query import name_tokens

__all__ = ["family_name", "same_author"]


def _tokens(name: str) -> list[str]:
    family, comma, given = name.partition(",")
    return name_tokens(f"{given} {family}" if comma else name)


def family_name(name: str) -> str:
    """The family name as the word index keeps it (the last token of "Given Family")."""
    tokens = _tokens(name)
    return tokens[-1] if tokens else ""


def same_author(wanted: str, name: str) -> bool:
    """Whether the stored author `name` can be the person `wanted` names: the same family
    name, and given names that agree where both have them (an initial agrees with any name
    it begins)."""
    want, have = _tokens(wanted), _tokens(name)
    if not want or not have or want[-1] != have[-1]:
        return False
    for a, b in zip(want[:-1], have[:-1], strict=False):
        if not (a == b or (len(a) == 1 and b.startswith(a)) or (len(b) == 1 and a.startswith(b))):
            return False
    return True
