"""A digest as an email: an HTML part with inline CSS (tables, as mail clients need) and a
plain-text part, with one-click unsubscribe headers (RFC 2369 and RFC 8058)."""

from __future__ import annotations

from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from paperboy.digest.compose import Digest
from paperboy.sources._text import lead

_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                   autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True,
                   auto_reload=False)
_env.filters["lead"] = lead


def subject(digest: Digest) -> str:
    new = digest.new
    if new:
        return f"Paperboy: {new} new paper{'s' if new != 1 else ''} for you, {digest.day}"
    return f"Paperboy: trending papers, {digest.day}"


def render(digest: Digest, *, base_url: str, unsubscribe_url: str) -> tuple[str, str]:
    """(html, text) of the digest."""
    context = {"digest": digest, "day": digest.day, "reader": digest.reader,
               "sections": digest.parts(), "base_url": base_url, "unsubscribe_url": unsubscribe_url,
               "subject": subject(digest)}
    return (_env.get_template("digest.html").render(context),
            _env.get_template("digest.txt").render(context))


# RFC 5322's line limit (998) rather than Python's 78: a long List-Unsubscribe URL is then kept
# whole, as RFC 2369 needs (`<https://…>`), instead of being folded into RFC 2047 encoded-words
# that mail providers do not decode there. Non-ASCII headers are still encoded.
MAIL_POLICY = policy.SMTP.clone(max_line_length=998)


def message(digest: Digest, *, sender: str, base_url: str, unsubscribe_url: str,
            now: datetime) -> EmailMessage:
    html, text = render(digest, base_url=base_url, unsubscribe_url=unsubscribe_url)
    mail = EmailMessage(policy=MAIL_POLICY)
    mail["From"] = sender
    mail["To"] = digest.reader["email"]
    mail["Subject"] = subject(digest)
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = make_msgid(domain=(sender.rpartition("@")[2] or "paperboy.local"))
    mail["List-Id"] = "Paperboy daily digest <digest.paperboy>"
    mail["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    if unsubscribe_url.startswith("https://"):  # RFC 8058 3.1: one click is for https only
        mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(text)
    mail.add_alternative(html, subtype="html")
    return mail
