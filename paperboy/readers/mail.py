"""Email for readers' one-off messages (confirmation, sign-in), over the configured SMTP server
or mailbox folder (`digest/mailbox.py`)."""

from __future__ import annotations

from email.message import EmailMessage

from paperboy.readers.accounts import Mailer
from paperboy.settings import Settings


class MailError(RuntimeError):
    """The SMTP server did not take a message."""


def smtp_mailer(settings: Settings) -> tuple[Mailer | None, str]:
    """A function that sends one message now, and the sender address; (None, "") when no
    SMTP server is configured."""
    from paperboy.digest.mailbox import mail_transport
    from paperboy.digest.send import Outgoing

    sender, mail_from = mail_transport(settings.smtp_url, concurrency=1, retries=2,
                                       backoff_s=0.5)
    if sender is None:
        return None, ""

    def send(message: EmailMessage) -> None:
        (delivery,) = sender.send([Outgoing(key=str(message["To"]), to=str(message["To"]),
                                            message=message)])
        if delivery.status != "sent":
            raise MailError(f"the mail server did not take the message to {message['To']}: "
                            f"{delivery.error}")

    return send, mail_from
