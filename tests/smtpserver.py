"""A real SMTP server (aiosmtpd) on 127.0.0.1 for tests: it keeps what it receives, and can
defer (4xx) or reject (5xx) chosen recipients."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

PASSWORD = "p@ss w/rd:#1"  # every character a URL could trip over


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool


class Inbox:
    """An aiosmtpd handler that keeps what it receives; `defer` and `reject` script replies."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.rcpt_attempts: Counter[str] = Counter()
        self.sessions: list[Any] = []  # one per connection that sent a RCPT
        self.logins: list[tuple[Any, str]] = []  # (session, mechanism) per AUTH attempt
        self._deferrals: dict[str, tuple[int, str]] = {}
        self._rejections: set[str] = set()

    def defer(self, address: str, times: int, reply: str = "451 4.3.0 try again later") -> None:
        self._deferrals[address] = (times, reply)

    def reject(self, address: str) -> None:
        self._rejections.add(address)

    def by_recipient(self) -> Counter[str]:
        return Counter(rcpt for mail in self.received for rcpt in mail.rcpt_tos)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:  # noqa: N802
        self.rcpt_attempts[address] += 1
        if not any(seen is session for seen in self.sessions):
            self.sessions.append(session)
        if address in self._rejections:
            return "550 5.1.1 no such user"
        times, reply = self._deferrals.get(address, (0, ""))
        if self.rcpt_attempts[address] <= times:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        tls = server.transport.get_extra_info("ssl_object") is not None
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, tls)
        )
        return "250 2.0.0 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        self.logins.append((session, mechanism))
        ok = auth_data.login == b"reader" and auth_data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)  # False: aiosmtpd answers 235 or 535


class EphemeralController(Controller):
    """aiosmtpd's Controller on a port the OS picks (port=0), which it does not support itself."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()
