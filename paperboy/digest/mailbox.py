"""A mailbox folder in place of an SMTP server, for one researcher on a laptop.

With ``PAPERBOY_SMTP_URL=file:DIR`` (``file:~/paperboy-mail``, ``file:///var/mail/paperboy``)
every email Paperboy would send (confirmations, sign-in links, digests) is written to DIR as an
RFC 5322 ``.eml`` file, which any mail program opens, and its links are logged (``paperboy
serve`` prints them), so subscribing, signing in and everything personal work without a mail
server. `MailboxSender` has `SmtpSender`'s interface: the digest and the readers' mail use
either through `mail_transport`.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from paperboy.digest.send import Delivery, Outgoing, SmtpConfig, SmtpSender, Transport

DEFAULT_FROM = "paperboy@localhost"
log = logging.getLogger("paperboy.mail")
_LINK = re.compile(r"https?://[^\s<>\"]+")


def is_mailbox(url: str) -> bool:
    return url.strip().lower().startswith("file:")


def mailbox_folder(url: str) -> Path:
    """The folder of a ``file:DIR`` URL (``file:///abs``, ``file:rel``, ``file:~/dir``)."""
    rest = url.strip()[len("file:"):]
    rest = rest[2:] if rest.startswith("//") else rest
    rest, _, _ = rest.partition("?")
    if not rest:
        raise ValueError("bad mailbox URL: name a folder, as in file:~/paperboy-mail")
    return Path(rest).expanduser()


class MailboxSender:
    """Writes each message to a folder instead of sending it; every write is a "sent"."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._count = 0

    def send(self, outgoing: Sequence[Outgoing],
             on_result: Callable[[Delivery], None] | None = None) -> list[Delivery]:
        deliveries = []
        for item in outgoing:
            try:
                path = self.write(item.message)
                delivery = Delivery(item.key, item.to, "sent", attempts=1)
                log.warning("mail to %s written to %s%s", item.to, path, _links(item.message))
            except OSError as error:
                delivery = Delivery(item.key, item.to, "temporary", attempts=1,
                                    error=f"cannot write to the mailbox {self.folder}: "
                                          f"{error.strerror or error}")
            if on_result is not None:
                on_result(delivery)
            deliveries.append(delivery)
        return deliveries

    def write(self, message: EmailMessage) -> Path:
        """Write `message` atomically as DIR/<time>-<n>-<recipient>.eml; return its path."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._count += 1
        to = re.sub(r"[^A-Za-z0-9@._-]+", "_", str(message.get("To", "unknown")))[:80]
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = self.folder / f"{stamp}-{os.getpid()}-{self._count}-{to}.eml"
        data = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
        with tempfile.NamedTemporaryFile(dir=self.folder, suffix=".tmp", delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, path)
        return path


def mail_transport(url: str, *, concurrency: int = 4, retries: int = 3,
                   backoff_s: float = 2.0) -> tuple[Transport | None, str]:
    """The transport for PAPERBOY_SMTP_URL and the From address; (None, "") when unset."""
    if not url:
        return None, ""
    if is_mailbox(url):
        sender = re.search(r"[?&]from=([^&]+)", url)
        return MailboxSender(mailbox_folder(url)), sender.group(1) if sender else DEFAULT_FROM
    config = SmtpConfig.from_url(url)
    return SmtpSender(config, concurrency=concurrency, retries=retries,
                      backoff_s=backoff_s), config.sender


def _links(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    links = list(dict.fromkeys(_LINK.findall(text)))
    return "".join(f"\n  {link}" for link in links[:6])
