"""The secret address of a reader's private feeds: their id and feed generation, signed with
the secret key. Nothing secret is stored; making a new address (the generation plus one)
revokes the old one, as a leaked address must be."""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, Signer

from paperboy.store import Store

__all__ = ["FeedKeys"]


class FeedKeys:
    def __init__(self, secret: str) -> None:
        self._signer = Signer(secret, salt="paperboy-private-feed")

    def token(self, reader: dict[str, Any]) -> str:
        """The token of the reader's current feed address (URL-safe)."""
        return self._signer.sign(f"{reader['id']}-{reader['feed_generation']}").decode()

    def reader(self, store: Store, token: str) -> dict[str, Any] | None:
        """The reader a token is the current address of; None for any other token."""
        try:
            value = self._signer.unsign(token).decode()
        except (BadSignature, UnicodeDecodeError):
            return None
        reader_id, _, generation = value.partition("-")
        if not (reader_id.isdigit() and generation.isdigit()):
            return None
        reader = store.readers.get(int(reader_id))
        if reader is None or reader["feed_generation"] != int(generation):
            return None
        return reader

    @staticmethod
    def renew(store: Store, reader: dict[str, Any]) -> None:
        """A new address; the old one stops working."""
        store.readers.update(reader["id"], feed_generation=reader["feed_generation"] + 1)
