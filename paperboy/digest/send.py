"""Sending built email messages through the configured SMTP server (``PAPERBOY_SMTP_URL``).

The digest builds one `EmailMessage` per reader and hands them here as `Outgoing` items;
`SmtpSender.send` delivers them over a few reused SMTP connections at once and reports one
`Delivery` per item, as soon as it is settled, so the caller can record each before the batch
ends. Nothing raises for a message the server refused: every outcome is a `Delivery`.

- "sent": the server took the message (250 after DATA).
- "temporary": a 4xx reply, or the connection failed (refused, reset, timed out), on every try:
  worth sending again in a later run. Each retry waits ``backoff_s``, 2x, 4x ... and starts on a
  fresh connection.
- "permanent": a 5xx reply, say 550 for an unknown mailbox; it is not retried.

Some failures concern the server rather than a message: a login refused with 535, a certificate
we do not trust, a STARTTLS we require and the server lacks, or a server that stays unreachable
through every retry while no connection to it is open. The first such failure ends the batch:
the remaining messages get the same status and error at once, with ``attempts == 0`` for those
never tried, instead of each hammering the server with the same bad login. Until one connection
has been set up, connections are opened one at a time, so a bad password is tried on one
connection only.

Waiting goes through the `sleep` seam, so tests run without real sleeps.
"""

from __future__ import annotations

import ipaddress
import math
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Literal, NamedTuple, Protocol
from urllib.parse import quote, unquote, urlsplit

Security = Literal["plain", "starttls", "tls"]
Status = Literal["sent", "temporary", "permanent"]

_DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
_SUBMISSION_PORT = 587  # RFC 6409 message submission: STARTTLS is expected there
_QUERY_KEYS = ("from", "cafile", "timeout", "starttls")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_MAX_BACKOFF_S = 300.0


def _url_error(what: str) -> ValueError:
    # Never echo the URL itself: it may hold the password, and a password with an unencoded
    # "/", "?" or "#" ends up in whichever part urlsplit cut it into.
    return ValueError(f"bad SMTP URL: {what}")


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Where and how to send email; build it with `from_url`. Its repr and str hide the password."""

    host: str
    port: int
    security: Security
    sender: str
    user: str | None = None
    password: str | None = None
    cafile: str | None = None
    timeout_s: float = 30.0

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        """Parse ``smtp://[user[:password]@]host[:port][?from=&cafile=&timeout=&starttls=]``.

        ``smtp://`` is plain SMTP on port 25, with STARTTLS required on port 587 or with
        ``starttls=1``; ``smtps://`` is implicit TLS on port 465. User and password may be
        percent-encoded (they must be when they hold ``/ ? # @ :``). Raises ValueError naming
        what is wrong, never quoting the password.
        """
        scheme, sep, _ = url.strip().partition("://")
        if not sep:
            raise _url_error("expected smtp://host or smtps://host")
        scheme = scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            shown = scheme if scheme.isascii() and scheme.isalnum() else "?"
            raise _url_error(f"unknown scheme {shown!r}: use smtp:// (plain, or STARTTLS) or "
                             "smtps:// (implicit TLS)")
        parts = urlsplit(url.strip())
        fields = _query_fields(parts.query)
        if _userinfo_spilled(parts.path, parts.fragment, parts.query, fields):
            raise _url_error("the user or password holds a character that must be "
                             "percent-encoded: / as %2F, ? as %3F, # as %23, @ as %40")
        if parts.path not in ("", "/"):
            raise _url_error("a path is not allowed after host:port")
        if parts.fragment:
            raise _url_error("a #fragment is not allowed")
        host = parts.hostname
        if not host:
            raise _url_error("missing host, as in smtp://mail.example.org:587")
        try:
            explicit_port = parts.port
            if explicit_port == 0:
                raise ValueError("port 0")
        except ValueError:
            raise _url_error("bad port: it must be a number from 1 to 65535") from None
        port = _DEFAULT_PORTS[scheme] if explicit_port is None else explicit_port

        query: dict[str, str] = {}
        for key, value in fields:
            if key not in _QUERY_KEYS:
                raise _url_error(f"unknown option {key!r}; known are {', '.join(_QUERY_KEYS)}")
            if key in query:
                raise _url_error(f"option {key!r} is given twice")
            query[key] = value

        starttls_value = query.get("starttls")
        if starttls_value is None:
            starttls = scheme == "smtp" and port == _SUBMISSION_PORT
        elif starttls_value.lower() in _TRUE | _FALSE:
            starttls = starttls_value.lower() in _TRUE
        else:
            raise _url_error(f"starttls={starttls_value!r}: use starttls=1 or starttls=0")
        if scheme == "smtps" and starttls:
            raise _url_error("smtps:// is already TLS; starttls=1 applies to smtp:// only")
        security: Security = "tls" if scheme == "smtps" else "starttls" if starttls else "plain"

        sender = query.get("from", f"paperboy@{_mail_domain(host)}")
        if "@" not in sender or any(c.isspace() or c in "<>" for c in sender):
            raise _url_error(f"from={sender!r} is not an email address like news@example.org")

        cafile = query.get("cafile")
        if cafile is not None and not cafile:
            raise _url_error("cafile= is empty; give the path of a PEM CA bundle")
        if cafile is not None and security == "plain":
            raise _url_error("cafile= needs TLS: use smtps:// or starttls=1")

        timeout_s = 30.0
        if "timeout" in query:
            try:
                timeout_s = float(query["timeout"])
            except ValueError:
                timeout_s = math.nan
            if not (math.isfinite(timeout_s) and timeout_s > 0):
                raise _url_error(f"timeout={query['timeout']!r}: give seconds, such as timeout=30")

        user = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        if password is not None and user is None:
            raise _url_error("a password without a user name")
        return cls(host=host, port=port, security=security, sender=sender, user=user,
                   password=password, cafile=cafile, timeout_s=timeout_s)

    def redacted_url(self) -> str:
        """The configuration as a URL with the password shown as ``***``."""
        scheme = "smtps" if self.security == "tls" else "smtp"
        userinfo = ""
        if self.user is not None:
            userinfo = quote(self.user, safe="") + (":***" if self.password is not None else "")
            userinfo += "@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        options = [f"from={self.sender}"]
        if self.security == "starttls":
            options.append("starttls=1")
        if self.cafile is not None:
            options.append(f"cafile={self.cafile}")
        options.append(f"timeout={self.timeout_s:g}")
        return f"{scheme}://{userinfo}{host}:{self.port}?{'&'.join(options)}"

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that verifies the server against the system CAs, or `cafile`."""
        try:
            return ssl.create_default_context(cafile=self.cafile)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"cannot load the SMTP CA bundle cafile={self.cafile}: {exc}") from exc

    def __str__(self) -> str:
        return self.redacted_url()

    def __repr__(self) -> str:
        return f"SmtpConfig({self.redacted_url()!r})"


def _mail_domain(host: str) -> str:
    """`host` as the domain of an address: IP addresses go in brackets (RFC 5321 4.1.3)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    return f"[IPv6:{ip}]" if ip.version == 6 else f"[{ip}]"


def _query_fields(query: str) -> list[tuple[str, str]]:
    # Not parse_qsl: it reads "+" as a space, and "+" is common in addresses (news+ml@...).
    fields = []
    for field in query.split("&"):
        if field:
            key, _, value = field.partition("=")
            fields.append((unquote(key), unquote(value)))
    return fields


def _userinfo_spilled(path: str, fragment: str, query: str,
                      fields: list[tuple[str, str]]) -> bool:
    """Whether an unencoded / ? or # in the user info pushed part of it past the host.

    Such a URL parses "successfully" into nonsense, with the password's tail in the path, query
    or fragment: the telltale is an "@" there, outside the one place one belongs (from=).
    """
    if "@" in path or "@" in fragment:
        return True
    if "@" not in query:
        return False
    from_values = [value for key, value in fields if key == "from"]
    return query.count("@") > sum(value.count("@") for value in from_values)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One fully built message (From, To, Subject, List-Unsubscribe ...) for one recipient.

    `key` is the caller's id for it ("reader 12 / 2026-11-28"); it comes back on its Delivery.
    """

    key: str
    to: str
    message: EmailMessage

    def __post_init__(self) -> None:
        # RFC 5322 3.6: a message has a Date, and should have a Message-ID; a message built
        # without them gets them here, so nothing leaves Paperboy without
        if "Date" not in self.message:
            self.message["Date"] = format_datetime(datetime.now(UTC))
        if "Message-ID" not in self.message:
            sender = str(self.message.get("From", ""))
            domain = sender.rpartition("@")[2].strip(" >") or "paperboy.local"
            self.message["Message-ID"] = make_msgid(domain=domain)


@dataclass(frozen=True, slots=True)
class Delivery:
    """What became of one Outgoing: `code` is the last SMTP reply code seen (None when no reply
    came, as for a refused connection), `attempts` how many times it was tried (0: never tried,
    because an earlier failure ended the batch)."""

    key: str
    to: str
    status: Status
    code: int | None = None
    error: str | None = None
    attempts: int = 0


class Transport(Protocol):
    """What delivers Outgoing messages: `SmtpSender`, or `digest/mailbox.py`'s folder."""

    def send(self, outgoing: Sequence[Outgoing],
             on_result: Callable[[Delivery], None] | None = None) -> list[Delivery]: ...


class _Failure(NamedTuple):
    status: Literal["temporary", "permanent"]
    code: int | None
    error: str
    ends_batch: bool = False


class _Batch:
    """What the workers of one `send` call share."""

    def __init__(self, items: Sequence[Outgoing]) -> None:
        self.lock = threading.Lock()
        self.first_connect = threading.Lock()
        self.connected_once = False
        self.open_connections = 0
        self.ended_by: _Failure | None = None
        self.results: list[Delivery | None] = [None] * len(items)
        self._todo: Iterator[tuple[int, Outgoing]] = iter(enumerate(items))

    def next_item(self) -> tuple[int, Outgoing] | None:
        with self.lock:
            return next(self._todo, None)

    def end(self, failure: _Failure) -> None:
        with self.lock:
            if self.ended_by is None:
                self.ended_by = failure


class _Connection:
    """One worker's SMTP connection, opened on demand and reused across its messages."""

    def __init__(self) -> None:
        self.smtp: smtplib.SMTP | None = None

    def usable(self) -> bool:
        # smtplib drops its socket after a 421 or a disconnect; such a connection is spent.
        return self.smtp is not None and self.smtp.sock is not None


class SmtpSender:
    """Delivers `Outgoing` messages over up to `concurrency` SMTP connections; see the module
    docstring for retries and for which failures end a batch."""

    def __init__(
        self,
        config: SmtpConfig,
        *,
        concurrency: int = 4,
        retries: int = 3,
        backoff_s: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        for name, value, least in (("concurrency", concurrency, 1), ("retries", retries, 0),
                                   ("backoff_s", backoff_s, 0)):
            if value < least:
                raise ValueError(f"{name} must be >= {least}, got {value}")
        self.config = config
        self.concurrency = concurrency
        self.retries = retries
        self.backoff_s = backoff_s
        self._sleep = sleep
        # Built now so that a bad cafile fails here, once, rather than once per message.
        self._context = config.ssl_context() if config.security != "plain" else None
        self._local_hostname: str | None = None

    def backoff_for(self, attempt: int) -> float:
        """Seconds to wait after failed attempt `attempt` (1-based)."""
        return min(self.backoff_s * 2 ** (attempt - 1), _MAX_BACKOFF_S)

    def send(
        self,
        outgoing: Sequence[Outgoing],
        on_result: Callable[[Delivery], None] | None = None,
    ) -> list[Delivery]:
        """Deliver every item and return their Deliveries in input order.

        `on_result` is called with each Delivery as soon as it is settled, from a worker thread.
        """
        if not outgoing:
            return []
        if self._local_hostname is None:
            # smtplib looks up our FQDN (for EHLO) on every connection unless told; once will do.
            self._local_hostname = smtplib.SMTP().local_hostname
        batch = _Batch(outgoing)
        workers = min(self.concurrency, len(outgoing))
        with ThreadPoolExecutor(workers, thread_name_prefix="paperboy-smtp") as pool:
            futures = [pool.submit(self._work, batch, on_result) for _ in range(workers)]
        for future in futures:
            future.result()  # a worker's unexpected exception (a bug) surfaces here
        return [delivery for delivery in batch.results if delivery is not None]

    def _work(self, batch: _Batch, on_result: Callable[[Delivery], None] | None) -> None:
        connection = _Connection()
        try:
            while (item := batch.next_item()) is not None:
                index, outgoing = item
                delivery = self._deliver(outgoing, connection, batch)
                batch.results[index] = delivery
                if on_result is not None:
                    on_result(delivery)
        finally:
            self._close(connection, batch, polite=True)

    def _deliver(self, outgoing: Outgoing, connection: _Connection, batch: _Batch) -> Delivery:
        attempts = 0
        while True:
            if batch.ended_by is not None:
                return _settled(outgoing, batch.ended_by, attempts)
            failure: _Failure | None = None
            connecting = not connection.usable()
            if connecting:
                self._close(connection, batch, polite=False)
                try:
                    connection.smtp = self._connect(batch)
                except (smtplib.SMTPException, OSError) as exc:
                    failure = self._connect_failure(exc)
                else:
                    if connection.smtp is None:
                        continue  # another worker ended the batch while this one waited
            attempts += 1
            if failure is None:
                assert connection.smtp is not None
                connecting = False
                try:
                    connection.smtp.send_message(outgoing.message, from_addr=self.config.sender,
                                                 to_addrs=[outgoing.to])
                except (smtplib.SMTPException, OSError) as exc:
                    failure = self._send_failure(exc, outgoing)
                else:
                    return Delivery(outgoing.key, outgoing.to, "sent", 250, None, attempts)
            if failure.ends_batch:
                self._close(connection, batch, polite=False)
                batch.end(failure)
                return _settled(outgoing, failure, attempts)
            if failure.status == "permanent":
                return _settled(outgoing, failure, attempts)
            # A retry starts on a fresh connection, whatever state this one was left in.
            self._close(connection, batch, polite=failure.code is not None)
            if attempts > self.retries:
                # A server that takes no connection while none is open will not take the next
                # message either: end the batch rather than wait out every message's retries.
                with batch.lock:
                    unreachable = connecting and batch.open_connections == 0
                if unreachable:
                    batch.end(failure._replace(ends_batch=True))
                return _settled(outgoing, failure, attempts)
            self._sleep(self.backoff_for(attempts))

    def _connect(self, batch: _Batch) -> smtplib.SMTP | None:
        if batch.connected_once:
            smtp = self._open()
        else:
            # Until one connection has worked, open them one at a time: a wrong password or an
            # untrusted certificate then shows on one connection, not on `concurrency` of them.
            with batch.first_connect:
                if batch.ended_by is not None:
                    return None
                smtp = self._open()
                batch.connected_once = True
        with batch.lock:
            batch.open_connections += 1
        return smtp

    def _open(self) -> smtplib.SMTP:
        config = self.config
        smtp: smtplib.SMTP
        if config.security == "tls":
            smtp = smtplib.SMTP_SSL(config.host, config.port, self._local_hostname,
                                    timeout=config.timeout_s, context=self._context)
        else:
            smtp = smtplib.SMTP(config.host, config.port, self._local_hostname,
                                timeout=config.timeout_s)
        try:
            if config.security == "starttls":
                smtp.starttls(context=self._context)
            if config.user is not None:
                smtp.login(config.user, config.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _close(self, connection: _Connection, batch: _Batch, *, polite: bool) -> None:
        smtp, connection.smtp = connection.smtp, None
        if smtp is None:
            return
        with batch.lock:
            batch.open_connections -= 1
        try:
            # QUIT only on a connection that still answers; on a stalled one it would wait out
            # the whole timeout first.
            if polite and smtp.sock is not None:
                smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            smtp.close()

    def _connect_failure(self, exc: smtplib.SMTPException | OSError) -> _Failure:
        where = f"{self.config.host}:{self.config.port}"
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            what = f"login as {self.config.user!r} refused"
        elif isinstance(exc, smtplib.SMTPConnectError):
            what = f"{where} refused the connection"
        elif isinstance(exc, smtplib.SMTPHeloError):
            what = f"{where} refused our EHLO/HELO"
        elif isinstance(exc, smtplib.SMTPResponseException):
            what = f"{where} refused STARTTLS"
        elif isinstance(exc, smtplib.SMTPNotSupportedError):
            # STARTTLS we require, or AUTH we need, is missing: no retry will conjure it.
            return _Failure("permanent", None, f"{where}: {exc}", ends_batch=True)
        elif isinstance(exc, ssl.SSLCertVerificationError):
            return _Failure(
                "permanent", None,
                f"the TLS certificate of {where} is not trusted ({exc.verify_message}); "
                "name the CA that signed it with ?cafile=",
                ends_batch=True,
            )
        elif isinstance(exc, smtplib.SMTPServerDisconnected):
            return _Failure("temporary", None, f"{where} closed the connection: {exc}")
        elif isinstance(exc, smtplib.SMTPException):
            # e.g. "No suitable authentication method found": our setup, not a passing glitch.
            return _Failure("permanent", None, f"{where}: {exc}", ends_batch=True)
        else:
            return _Failure("temporary", None, f"cannot connect to {where}: {_describe(exc)}")
        code, reply = exc.smtp_code, _reply_text(exc.smtp_error)
        if _is_permanent(code):
            return _Failure("permanent", code, f"{what}: {code} {reply}", ends_batch=True)
        return _Failure("temporary", code, f"{what}: {code} {reply}")

    def _send_failure(self, exc: smtplib.SMTPException | OSError, outgoing: Outgoing) -> _Failure:
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            code, raw = next(iter(exc.recipients.values()))
            what, reply = f"recipient <{outgoing.to}> refused", _reply_text(raw)
        elif isinstance(exc, smtplib.SMTPSenderRefused):
            what, code = f"sender <{self.config.sender}> refused", exc.smtp_code
            reply = _reply_text(exc.smtp_error)
        elif isinstance(exc, smtplib.SMTPResponseException):
            what, code, reply = "message refused", exc.smtp_code, _reply_text(exc.smtp_error)
        elif isinstance(exc, smtplib.SMTPServerDisconnected):
            return _Failure("temporary", None, f"the server closed the connection: {exc}")
        elif isinstance(exc, smtplib.SMTPException):
            # e.g. an international address to a server without SMTPUTF8.
            return _Failure("permanent", None, str(exc))
        else:
            return _Failure("temporary", None, f"connection failed: {_describe(exc)}")
        status: Literal["temporary", "permanent"] = (
            "permanent" if _is_permanent(code) else "temporary"
        )
        return _Failure(status, code, f"{what}: {code} {reply}")


def _settled(outgoing: Outgoing, failure: _Failure, attempts: int) -> Delivery:
    return Delivery(outgoing.key, outgoing.to, failure.status, failure.code, failure.error,
                    attempts)


def _is_permanent(code: int) -> bool:
    # 4xx and anything odd (smtplib uses -1 for "no proper reply") are worth another try.
    return 500 <= code < 600


def _reply_text(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return " ".join(text.split())


def _describe(exc: OSError) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
