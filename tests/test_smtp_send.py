"""SmtpSender against a real SMTP server (aiosmtpd) on 127.0.0.1: plain, STARTTLS, implicit TLS
and AUTH, with a handler that defers or rejects chosen recipients. Only `sleep` is faked."""

from __future__ import annotations

import socket
import ssl
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.smtp import AuthResult
from smtpserver import PASSWORD

from paperboy.digest.send import Delivery, Outgoing, SmtpConfig, SmtpSender

pytestmark = pytest.mark.filterwarnings(
    "ignore:Requiring AUTH while not requiring TLS:UserWarning"  # aiosmtpd, on the plain tests
)

SENDER = "news@example.org"
PASSWORD_IN_URL = "p%40ss%20w%2Frd%3A%231"


@dataclass
class Tls:
    cafile: Path
    server_context: ssl.SSLContext


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """A throwaway CA and a certificate it signed for 127.0.0.1."""
    ca = trustme.CA()
    cafile = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return Tls(cafile, context)


class FakeSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def message(to: str, subject: str = "Your papers") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Paperboy <{SENDER}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["List-Unsubscribe"] = "<https://paperboy.example.org/unsubscribe?t=abc>"
    msg.set_content(f"Hello {to}\n")
    return msg


def outgoing(*recipients: str) -> list[Outgoing]:
    return [Outgoing(key=f"reader {i}", to=to, message=message(to))
            for i, to in enumerate(recipients)]


def sender(url: str, **options: Any) -> tuple[SmtpSender, FakeSleep]:
    sleep = FakeSleep()
    return SmtpSender(SmtpConfig.from_url(url), sleep=sleep, **options), sleep


def unix(text: str) -> str:
    return text.replace("\r\n", "\n")  # SMTP carries CRLF line ends; the server keeps them


def refuse_logins(logins: list[Any]) -> Callable[..., AuthResult]:
    """An aiosmtpd authenticator that answers every login with 535, noting each session."""

    def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
        logins.append(session)
        return AuthResult(success=False, handled=False)  # handled=False: aiosmtpd replies 535

    return authenticate


def by_to(deliveries: list[Delivery]) -> dict[str, Delivery]:
    return {delivery.to: delivery for delivery in deliveries}


def test_message_arrives_with_headers_and_body_intact(smtp_server) -> None:
    inbox, port = smtp_server()
    msg = EmailMessage()
    msg["From"] = f"Paperboy <{SENDER}>"
    msg["To"] = "alice@example.org"
    msg["Subject"] = "Papers for 28 Nov — Über-Transformer, 3 new"
    msg["List-Unsubscribe"] = "<https://paperboy.example.org/unsubscribe?t=abc>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    text = "Today:\n  1. A paper\n.a line starting with a dot\n"
    msg.set_content(text)
    msg.add_alternative("<p>Today: 1 paper, 5 €</p>\n", subtype="html")
    smtp, _ = sender(f"smtp://127.0.0.1:{port}?from={SENDER}")

    (delivery,) = smtp.send([Outgoing(key="reader 1 / 2026-11-28", to="alice@example.org",
                                      message=msg)])

    assert delivery == Delivery("reader 1 / 2026-11-28", "alice@example.org", "sent", 250, None, 1)
    (mail,) = inbox.received
    assert (mail.mail_from, mail.rcpt_tos, mail.tls) == (SENDER, ["alice@example.org"], False)
    got = message_from_bytes(mail.content, policy=policy.default)
    for header in ("From", "To", "Subject", "List-Unsubscribe", "List-Unsubscribe-Post"):
        assert got[header] == msg[header]
    assert unix(got.get_body(("plain",)).get_content()) == text
    assert unix(got.get_body(("html",)).get_content()) == "<p>Today: 1 paper, 5 €</p>\n"


def test_many_messages_over_few_connections_arrive_exactly_once(smtp_server) -> None:
    inbox, port = smtp_server()
    recipients = [f"reader{i}@example.org" for i in range(30)]
    smtp, sleep = sender(f"smtp://127.0.0.1:{port}", concurrency=4)
    reported: list[Delivery] = []

    deliveries = smtp.send(outgoing(*recipients), on_result=reported.append)

    assert [d.key for d in deliveries] == [f"reader {i}" for i in range(30)]
    assert [d.to for d in deliveries] == recipients
    assert {d.status for d in deliveries} == {"sent"}
    assert sorted(reported, key=deliveries.index) == deliveries
    assert inbox.by_recipient() == Counter(recipients)
    assert 1 < len(inbox.sessions) <= 4  # in parallel, each worker reusing its connection
    assert sleep.delays == []


def test_a_4xx_is_retried_after_backoff_and_then_delivered(smtp_server) -> None:
    inbox, port = smtp_server()
    inbox.defer("bob@example.org", times=1)
    smtp, sleep = sender(f"smtp://127.0.0.1:{port}", backoff_s=2.0)

    deliveries = by_to(smtp.send(outgoing("alice@example.org", "bob@example.org")))

    assert deliveries["bob@example.org"].status == "sent"
    assert deliveries["bob@example.org"].attempts == 2
    assert deliveries["alice@example.org"].attempts == 1
    assert sleep.delays == [2.0]
    assert inbox.by_recipient() == {"alice@example.org": 1, "bob@example.org": 1}


def test_a_4xx_on_every_try_is_temporary_after_the_retries_and_the_batch_goes_on(
        smtp_server) -> None:
    inbox, port = smtp_server()
    inbox.defer("carol@example.org", times=100)
    smtp, sleep = sender(f"smtp://127.0.0.1:{port}", concurrency=1, retries=3, backoff_s=0.5)

    carol, dave = smtp.send(outgoing("carol@example.org", "dave@example.org"))

    assert (carol.status, carol.code, carol.attempts) == ("temporary", 451, 4)
    assert carol.error is not None and "451 4.3.0 try again later" in carol.error
    assert sleep.delays == [0.5, 1.0, 2.0]
    assert inbox.rcpt_attempts["carol@example.org"] == 4
    assert dave.status == "sent"
    assert inbox.by_recipient() == {"dave@example.org": 1}


def test_a_421_drops_the_connection_and_the_retry_reconnects(smtp_server) -> None:
    inbox, port = smtp_server()
    inbox.defer("bob@example.org", times=1, reply="421 4.7.0 too busy, closing")
    smtp, sleep = sender(f"smtp://127.0.0.1:{port}", concurrency=1)

    (bob,) = smtp.send(outgoing("bob@example.org"))

    assert (bob.status, bob.attempts) == ("sent", 2)
    assert len(inbox.sessions) == 2
    assert sleep.delays == [2.0]


def test_a_5xx_is_permanent_at_once_and_the_others_are_delivered(smtp_server) -> None:
    inbox, port = smtp_server()
    inbox.reject("nobody@example.org")
    smtp, sleep = sender(f"smtp://127.0.0.1:{port}", concurrency=1)

    alice, nobody, carol = smtp.send(
        outgoing("alice@example.org", "nobody@example.org", "carol@example.org")
    )

    assert (nobody.status, nobody.code, nobody.attempts) == ("permanent", 550, 1)
    assert nobody.error is not None and "550 5.1.1 no such user" in nobody.error
    assert "nobody@example.org" in nobody.error
    assert inbox.rcpt_attempts["nobody@example.org"] == 1
    assert (alice.status, carol.status) == ("sent", "sent")
    assert inbox.by_recipient() == {"alice@example.org": 1, "carol@example.org": 1}
    assert len(inbox.sessions) == 1  # the connection outlives a refused recipient
    assert sleep.delays == []


def test_auth_with_user_and_percent_encoded_password(smtp_server) -> None:
    inbox, port = smtp_server(auth=True, auth_require_tls=False)
    smtp, _ = sender(f"smtp://reader:{PASSWORD_IN_URL}@127.0.0.1:{port}", concurrency=2)
    recipients = ["alice@example.org", "bob@example.org", "carol@example.org"]

    deliveries = smtp.send(outgoing(*recipients))

    assert {d.status for d in deliveries} == {"sent"}
    assert inbox.by_recipient() == Counter(recipients)
    assert inbox.logins and all(mechanism in ("PLAIN", "LOGIN") for _, mechanism in inbox.logins)


def test_a_wrong_password_is_permanent_for_all_after_one_login(smtp_server) -> None:
    logins: list[Any] = []
    inbox, port = smtp_server(authenticator=refuse_logins(logins), auth_required=True,
                        auth_require_tls=False)
    url = f"smtp://reader:wrong-{PASSWORD_IN_URL}@127.0.0.1:{port}"
    smtp, sleep = sender(url, concurrency=4)

    deliveries = smtp.send(outgoing(*(f"reader{i}@example.org" for i in range(10))))

    assert {(d.status, d.code) for d in deliveries} == {("permanent", 535)}
    assert sorted(d.attempts for d in deliveries) == [0] * 9 + [1]
    assert all(d.error == deliveries[0].error for d in deliveries)
    assert deliveries[0].error is not None and "535" in deliveries[0].error
    assert "wrong-" not in deliveries[0].error and "w/rd" not in deliveries[0].error
    assert len({id(session) for session in logins}) == 1  # one connection tried it
    assert inbox.received == []
    assert sleep.delays == []


def test_starttls_with_a_certificate_trusted_through_cafile(smtp_server, tls) -> None:
    inbox, port = smtp_server(tls_context=tls.server_context, require_starttls=True, auth=True)
    url = (f"smtp://reader:{PASSWORD_IN_URL}@127.0.0.1:{port}"
           f"?starttls=1&cafile={tls.cafile}&from={SENDER}")
    smtp, _ = sender(url)

    deliveries = smtp.send(outgoing("alice@example.org", "bob@example.org"))

    assert [d.status for d in deliveries] == ["sent", "sent"]
    assert [mail.tls for mail in inbox.received] == [True, True]


def test_starttls_with_an_untrusted_certificate_fails_for_all_without_retries(
        smtp_server, tls) -> None:
    inbox, port = smtp_server(tls_context=tls.server_context, require_starttls=True)
    smtp, sleep = sender(f"smtp://127.0.0.1:{port}?starttls=1", concurrency=2)

    deliveries = smtp.send(outgoing("alice@example.org", "bob@example.org", "carol@example.org"))

    assert {d.status for d in deliveries} == {"permanent"}
    assert sum(d.attempts for d in deliveries) == 1
    assert deliveries[0].error is not None and "not trusted" in deliveries[0].error
    assert inbox.received == []
    assert sleep.delays == []


def test_implicit_tls_smtps_with_a_certificate_trusted_through_cafile(smtp_server, tls) -> None:
    # aiosmtpd counts only STARTTLS as TLS for AUTH, hence auth_require_tls=False here.
    inbox, port = smtp_server(ssl_context=tls.server_context, auth=True, auth_require_tls=False)
    smtp, _ = sender(f"smtps://reader:{PASSWORD_IN_URL}@127.0.0.1:{port}?cafile={tls.cafile}")

    deliveries = smtp.send(outgoing("alice@example.org", "bob@example.org"))

    assert [d.status for d in deliveries] == ["sent", "sent"]
    assert [mail.tls for mail in inbox.received] == [True, True]


def test_a_server_that_is_down_gives_temporary_after_the_retries() -> None:
    with socket.socket() as probe:  # a port nothing listens on once this socket is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp, sleep = sender(f"smtp://127.0.0.1:{port}?timeout=2", concurrency=1, retries=2,
                         backoff_s=1.0)

    first, second, third = smtp.send(outgoing("a@example.org", "b@example.org", "c@example.org"))

    assert {d.status for d in (first, second, third)} == {"temporary"}
    assert {d.code for d in (first, second, third)} == {None}
    assert first.error is not None and f"cannot connect to 127.0.0.1:{port}" in first.error
    assert "ConnectionRefusedError" in first.error
    # One message's retries show the server is down; the rest are not hammered at it too.
    assert [first.attempts, second.attempts, third.attempts] == [3, 0, 0]
    assert second.error == third.error == first.error
    assert sleep.delays == [1.0, 2.0]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.org",
         dict(host="mail.example.org", port=25, security="plain",
              sender="paperboy@mail.example.org", user=None, password=None)),
        ("smtp://mail.example.org:587",
         dict(port=587, security="starttls")),
        ("smtp://mail.example.org:2525?starttls=1",
         dict(port=2525, security="starttls")),
        ("smtp://mail.example.org:587?starttls=0",
         dict(port=587, security="plain")),
        ("smtps://mail.example.org",
         dict(port=465, security="tls")),
        ("SMTPS://Mail.Example.org:2465?cafile=/etc/ca.pem&timeout=7.5",
         dict(host="mail.example.org", port=2465, security="tls", cafile="/etc/ca.pem",
              timeout_s=7.5)),
        (f"smtp://al%40ice:{PASSWORD_IN_URL}@mail.example.org:587?from=news%2Bml@example.org",
         dict(user="al@ice", password=PASSWORD, sender="news+ml@example.org")),
        ("smtp://news+ml%40example.org@mail.example.org?from=news+ml@example.org",
         dict(user="news+ml@example.org", password=None, sender="news+ml@example.org")),
        ("smtp://127.0.0.1:8025", dict(host="127.0.0.1", port=8025, sender="paperboy@[127.0.0.1]")),
        ("smtp://[::1]:8025", dict(host="::1", sender="paperboy@[IPv6:::1]")),
    ],
)
def test_url_parsing(url: str, expected: dict[str, Any]) -> None:
    config = SmtpConfig.from_url(url)
    for name, value in expected.items():
        assert getattr(config, name) == value, name


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://reader:SeCrEt@mail.example.org", "unknown scheme 'http'"),
        ("mail.example.org:25", "expected smtp://host"),
        ("smtp://reader:SeCrEt@", "missing host"),
        ("smtp://reader:SeCrEt@:25", "missing host"),
        ("smtp://reader:SeCrEt@mail.example.org:99999", "bad port"),
        ("smtp://reader:SeCrEt@mail.example.org:0", "bad port"),
        ("smtp://reader:SeCrEt@mail.example.org:smtp", "bad port"),
        ("smtp://reader:SeCrEt@mail.example.org:-1", "bad port"),
        ("smtp://reader:SeC/rEt@mail.example.org", "percent-encoded"),
        ("smtp://reader:SeC?rEt@mail.example.org", "percent-encoded"),
        ("smtp://reader:SeC#rEt@mail.example.org", "percent-encoded"),
        ("smtp://reader:SeC?rEt@mail.example.org?from=a@example.org", "percent-encoded"),
        ("smtp://reader:SeCrEt@mail.example.org/inbox", "path"),
        ("smtp://reader:SeCrEt@mail.example.org?password=SeCrEt", "unknown option 'password'"),
        ("smtp://reader:SeCrEt@mail.example.org?timeout=soon", "timeout="),
        ("smtp://reader:SeCrEt@mail.example.org?timeout=0", "timeout="),
        ("smtp://reader:SeCrEt@mail.example.org?starttls=maybe", "starttls="),
        ("smtps://reader:SeCrEt@mail.example.org?starttls=1", "already TLS"),
        ("smtp://reader:SeCrEt@mail.example.org?cafile=/ca.pem", "cafile= needs TLS"),
        ("smtp://reader:SeCrEt@mail.example.org?from=nobody", "from="),
        ("smtp://reader:SeCrEt@mail.example.org?from=a@x.org&from=b@x.org", "given twice"),
        ("smtp://:SeCrEt@mail.example.org", "password without a user"),
    ],
)
def test_bad_urls_say_what_is_wrong_without_the_password(url: str, complaint: str) -> None:
    with pytest.raises(ValueError) as caught:
        SmtpConfig.from_url(url)
    message = str(caught.value)
    assert complaint in message
    assert "SeC" not in message and "rEt" not in message


def test_the_password_stays_out_of_repr_and_str() -> None:
    config = SmtpConfig.from_url(f"smtps://reader:{PASSWORD_IN_URL}@mail.example.org")
    assert config.password == PASSWORD
    for shown in (repr(config), str(config), repr([config]), f"{config}"):
        assert "w/rd" not in shown and "w%2Frd" not in shown
        assert "reader:***@mail.example.org:465" in shown


def test_a_missing_cafile_fails_when_the_sender_is_built() -> None:
    config = SmtpConfig.from_url("smtps://mail.example.org?cafile=/nonexistent/ca.pem")
    with pytest.raises(ValueError, match="cafile=/nonexistent/ca.pem"):
        SmtpSender(config)
