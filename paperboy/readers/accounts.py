"""Subscribing, confirming, signing in and out by email: no passwords.

Every link Paperboy emails is signed with the secret key and expires (`LINK_LIFETIMES`); a
confirmation or sign-in link works once (it carries the reader's count of used links, which
using it increases). A new
address gets a confirmation link (double opt-in); a known one gets a sign-in link instead. The
mail goes out from a queue after the answer (readers/outbox.py), so the answer on the page and
its time are the same either way: the form does not tell who subscribed. Both are rate limited
per address and per client.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any, Literal

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from paperboy.clock import Clock, system_clock
from paperboy.readers.outbox import Outbox
from paperboy.settings import Settings
from paperboy.store import Store

LINK_LIFETIMES = {
    "confirm": timedelta(days=7),
    "signin": timedelta(minutes=30),
    "unsubscribe": timedelta(days=365),  # in every digest; RFC 8058 wants it to keep working
}
RATE_PER_ADDRESS = 3  # subscribe or sign-in mails per address per hour
RATE_PER_CLIENT = 20  # per client address per hour
_EMAIL = re.compile(r"^[^@\s<>\"(),;:]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")

Mailer = Callable[[EmailMessage], None]
Outcome = Literal["sent", "invalid", "rate_limited", "no_email"]


class LinkError(ValueError):
    """A link that is not Paperboy's, was altered, or has expired."""


def secret_key(settings: Settings) -> str:
    """The configured key, else one generated once and kept (owner-only) in the home."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.home) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(secrets.token_urlsafe(48), encoding="ascii")
        temporary.chmod(0o600)
        temporary.replace(path)
    return path.read_text(encoding="ascii").strip()


def valid_email(address: str) -> str | None:
    """The address, trimmed and lower-cased, or None when it cannot be one."""
    address = address.strip().lower()
    return address if len(address) <= 254 and _EMAIL.match(address) else None


@dataclass
class Links:
    """Signed, expiring links for one purpose each (see LINK_LIFETIMES)."""

    secret: str
    base_url: str

    def token(self, purpose: str, reader_id: int, uses: int = 0) -> str:
        return self._serializer(purpose).dumps([reader_id, uses])

    def url(self, purpose: str, reader_id: int, uses: int = 0) -> str:
        path = {"confirm": "/confirm", "signin": "/signin/link",
                "unsubscribe": "/unsubscribe"}[purpose]
        return f"{self.base_url}{path}?token={self.token(purpose, reader_id, uses)}"

    def read(self, purpose: str, token: str) -> tuple[int, int]:
        """(reader id, the reader's used-link count when the link was made)."""
        lifetime = LINK_LIFETIMES[purpose]
        try:
            value = self._serializer(purpose).loads(token,
                                                    max_age=int(lifetime.total_seconds()))
        except SignatureExpired as exc:
            raise LinkError("this link has expired; ask for a new one") from exc
        except BadSignature as exc:
            raise LinkError("this link is not valid (it may have been cut or altered)") from exc
        if not (isinstance(value, list) and len(value) == 2
                and all(isinstance(v, int) for v in value)):
            raise LinkError("this link is not valid")
        return value[0], value[1]

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        if purpose not in LINK_LIFETIMES:
            raise ValueError(f"unknown link purpose {purpose!r}")
        return URLSafeTimedSerializer(self.secret, salt=f"paperboy-{purpose}")


class Accounts:
    """The flows behind the subscribe and sign-in forms and the emailed links."""

    def __init__(self, store: Store, links: Links, mailer: Mailer | None, *, sender: str,
                 clock: Clock = system_clock, outbox: Outbox | None = None) -> None:
        self.store = store
        self.links = links
        self.mailer = mailer
        self.sender = sender
        self.clock = clock
        self.outbox = outbox or Outbox()

    def subscribe(self, address: str, client: str) -> Outcome:
        """Start a subscription: a confirmation link for a new address, a sign-in link for a
        known one."""
        return self._mail_link(address, client, subscribing=True)

    def request_sign_in(self, address: str, client: str) -> Outcome:
        return self._mail_link(address, client, subscribing=False)

    def _mail_link(self, address: str, client: str, *, subscribing: bool) -> Outcome:
        email = valid_email(address)
        if email is None:
            return "invalid"
        if self.mailer is None:
            return "no_email"
        now = self.clock()
        if not self.store.readers.attempt([f"mail:{email}"], now, limit=RATE_PER_ADDRESS,
                                          per=timedelta(hours=1)) or \
                not self.store.readers.attempt([f"client:{client}"], now,
                                               limit=RATE_PER_CLIENT, per=timedelta(hours=1)):
            return "rate_limited"
        # Whether the address is known is looked up after answering, by the outbox: the
        # answer and its time are the same for everyone (readers/outbox.py).
        what = "the subscription mail" if subscribing else "the sign-in mail"
        self.outbox.put(f"{what} to {email}", lambda: self._mail(email, subscribing))
        return "sent"

    def _mail(self, email: str, subscribing: bool) -> None:
        """A confirmation link for a new address (subscribing), a sign-in link for a known
        one, nothing for an unknown one signing in. A reader created here is removed again
        when the mail cannot be sent: nobody could confirm it."""
        reader = self.store.readers.by_email(email)
        if reader is None and not subscribing:
            return
        created = reader is None
        if reader is None:
            reader = self.store.readers.create(email, self.clock())
        try:
            self._send_link(email, reader)
        except Exception:
            if created:
                self.store.readers.delete(reader["id"])
            raise

    def _send_link(self, email: str, reader: dict[str, Any]) -> None:
        assert self.mailer is not None
        if reader["status"] == "pending":
            self.mailer(self._message(email, "Confirm your Paperboy subscription", (
                "Someone (we hope you) asked to receive Paperboy's daily digest of trending "
                "and new research papers at this address.\n\nConfirm within 7 days by opening "
                f"this link:\n\n{self.links.url('confirm', reader['id'], reader['link_uses'])}"
                "\n\n"
                "If it was not you, ignore this email: nothing will be sent.")))
        else:
            self.mailer(self._message(email, "Your Paperboy sign-in link", (
                "Open this link within 30 minutes to sign in to Paperboy:\n\n"
                f"{self.links.url('signin', reader['id'], reader['link_uses'])}\n\n"
                "If you did not ask for it, ignore this email.")))

    def confirm(self, token: str) -> dict[str, Any]:
        """The reader a confirmation link names, now confirmed (raises LinkError)."""
        reader = self._spend(*self.links.read("confirm", token))
        self.store.readers.confirm(reader["id"], self.clock())
        return self._reader(reader["id"])

    def sign_in(self, token: str) -> dict[str, Any]:
        """The reader a sign-in link names (raises LinkError)."""
        return self._spend(*self.links.read("signin", token))

    def unsubscribe(self, token: str) -> dict[str, Any]:
        """Stop a reader's digests (their account and library stay); raises LinkError. The
        link stays valid: it is in every digest, and one click must always work."""
        reader = self._reader(self.links.read("unsubscribe", token)[0])
        self.store.readers.update(reader["id"], status="paused")
        return reader

    def _spend(self, reader_id: int, uses: int) -> dict[str, Any]:
        reader = self._reader(reader_id)
        if not self.store.readers.use_link(reader_id, uses):
            raise LinkError("this link was already used (each works once); ask for a new one")
        return reader

    def _reader(self, reader_id: int) -> dict[str, Any]:
        reader = self.store.readers.get(reader_id)
        if reader is None:
            raise LinkError("this link is for an account that no longer exists")
        return reader

    def _message(self, to: str, subject: str, body: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = format_datetime(self.clock())  # RFC 5322 requires it
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or
                                           "paperboy.local")
        message.set_content(body)
        return message
