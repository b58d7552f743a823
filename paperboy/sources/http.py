"""The one HTTP client every Paperboy fetcher uses (arXiv API, OAI-PMH, Hugging Face, RSS, S2 ...).

Fetchers hand `HttpClient` a URL and get back a fully read 2xx/304 `httpx.Response`, or a
`FetchError` (a `SourceError`) that says what went wrong, for which URL, and after how many
attempts. Everything a polite, robust harvester needs lives here, so fetchers stay small:

- transient failures (5xx, 429, connection errors, timeouts, a body cut short) are retried with
  capped exponential backoff, or after the server's ``Retry-After`` when it sends one;
- other 4xx fail at once, keeping the body, because some APIs (arXiv) explain errors in it;
- ``min_interval_s`` spaces out requests to one host (arXiv asks for one every 3 seconds);
- after ``unreachable_after`` connection attempts in a row to a host fail (no network, a DNS
  failure, a host that is down), the client gives up on that host: the request and every later
  one to it raise `HostUnreachable` at once, so a step over thousands of URLs takes seconds, not
  hours, offline;
- a fetcher whose API answers with statuses (GitHub: 304, 301, 403, 404) names them in
  ``pass_statuses`` and gets those responses back as they are, neither raised nor retried.

Waiting goes through the `sleep`/`clock` seams and is announced through `on_wait`, so tests run
without real sleeps and the CLI can show why it is pausing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self

import httpx

from paperboy.models import SourceError

DEFAULT_USER_AGENT = "paperboy/0.1 (+https://github.com/paperboy/paperboy; research-paper radar)"

# How much of an error body we keep as text on FetchError; `content` keeps all the bytes.
_BODY_TEXT_LIMIT = 2048

# Transport failures worth another try: the server or network may well behave next time.
# Others (bad scheme, our own protocol misuse) would fail identically, so they are not retried.
_RETRYABLE_ERRORS: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,  # e.g. peer closed the connection before the whole body arrived
    httpx.DecodingError,  # a truncated gzip body can surface here rather than as a short read
)

_RETRY_AFTER_STATUSES = frozenset({429, 503})


class FetchError(SourceError):
    """An HTTP request that did not produce a usable response.

    `status` is the last HTTP status seen (None when no response arrived at all), `attempts` how
    many requests were made. For an HTTP error, `content` holds the response bytes and `body` the
    first 2 kB of its text, so callers can read error documents such as arXiv's Atom error feed.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str,
        status: int | None = None,
        attempts: int = 1,
        content: bytes = b"",
        body: str = "",
    ) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.attempts = attempts
        self.content = content
        self.body = body[:_BODY_TEXT_LIMIT]


class HostUnreachable(FetchError):
    """Connections to the host failed `unreachable_after` times in a row; the client no longer
    tries it."""

    def __init__(self, message: str, *, url: str, host: str, attempts: int = 1) -> None:
        super().__init__(message, url=url, attempts=attempts)
        self.host = host


# connection attempts that never reached the server: what being offline looks like
_CONNECT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout)


def _after(attempts: int) -> str:
    return f" after {attempts} attempts" if attempts > 1 else ""


def _describe_response(response: httpx.Response) -> str:
    reason = response.reason_phrase or httpx.codes.get_reason_phrase(response.status_code)
    return f"HTTP {response.status_code} {reason}".rstrip()


def _describe_error(exc: Exception, timeout_s: float) -> str:
    # Name the symptom a user can act on; httpx's own text follows for the details.
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return f"connection dropped ({type(exc).__name__}: {exc})"
    if isinstance(exc, httpx.TimeoutException):
        return f"{type(exc).__name__}: no progress for {timeout_s:g} s"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def parse_retry_after(value: str, *, date_header: str | None = None) -> float | None:
    """Seconds a ``Retry-After`` value asks us to wait, or None when it cannot be read.

    The HTTP-date form is measured against the response's own ``Date`` header when there is one,
    so a skewed local clock does not stretch or shrink the wait; otherwise against local UTC.
    """
    value = value.strip()
    try:
        # RFC 9110 says whole seconds, but some servers send "1.5"; honour those too.
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = datetime.now(UTC)
    if date_header:
        try:
            now = parsedate_to_datetime(date_header)
        except (TypeError, ValueError):
            pass
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class HttpClient:
    """A retrying, rate-limited wrapper around `httpx.Client`; see the module docstring.

    Thread-safe as far as politeness goes: concurrent callers reserve successive slots per host.
    POSTs are retried too, which suits the read-only query APIs Paperboy posts to (S2 batch).
    """

    def __init__(
        self,
        *,
        user_agent: str = DEFAULT_USER_AGENT,
        timeout_s: float = 30.0,
        retries: int = 4,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        max_retry_after_s: float = 300.0,
        min_interval_s: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
        on_wait: Callable[[float, str], None] | None = None,
        unreachable_after: int = 3,
    ) -> None:
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        if unreachable_after < 1:
            raise ValueError(f"unreachable_after must be >= 1, got {unreachable_after}")
        for name, value in (
            ("timeout_s", timeout_s),
            ("backoff_s", backoff_s),
            ("max_backoff_s", max_backoff_s),
            ("max_retry_after_s", max_retry_after_s),
            ("min_interval_s", min_interval_s),
        ):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        self.user_agent = user_agent
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_retry_after_s = max_retry_after_s
        self.min_interval_s = min_interval_s
        self._sleep = sleep
        self._clock = clock
        self._on_wait = on_wait
        self.unreachable_after = unreachable_after
        self._failed_connects: dict[str, int] = {}  # host -> connection failures in a row
        self._unreachable: dict[str, str] = {}  # host -> why it was given up on
        self._next_slot: dict[str, float] = {}
        self._slot_lock = threading.Lock()
        self._client = httpx.Client(
            headers={"User-Agent": user_agent},
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
            # arXiv and others redirect http->https and old paths; following is always wanted.
            follow_redirects=True,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def get(
        self,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        follow_redirects: bool = True,
        pass_statuses: Collection[int] = (),
    ) -> httpx.Response:
        """GET `url` and return the fully read 2xx/304 response, or raise FetchError.

        Responses whose status is in `pass_statuses` are returned too, without a retry; with
        `follow_redirects=False` a redirect is an error unless its status is passed.
        """
        return self._request(
            "GET",
            url,
            params=params,
            headers=headers,
            follow_redirects=follow_redirects,
            pass_statuses=pass_statuses,
        )

    def post(
        self,
        url: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """POST `json` to `url` and return the fully read 2xx/304 response, or raise FetchError."""
        return self._request("POST", url, json=json, params=params, headers=headers)

    def backoff_for(self, attempt: int) -> float:
        """Seconds to wait after failed attempt `attempt` (0-based) absent a Retry-After."""
        return float(min(self.backoff_s * 2**attempt, self.max_backoff_s))

    def _request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        json: Any = None,
        follow_redirects: bool = True,
        pass_statuses: Collection[int] = (),
    ) -> httpx.Response:
        request = self._client.build_request(
            method, url, params=params, headers=headers, json=json
        )
        full_url = str(request.url)
        host = request.url.host
        attempts = self.retries + 1
        for attempt in range(attempts):
            if host in self._unreachable:
                raise HostUnreachable(f"{method} {full_url} not tried: {self._unreachable[host]}",
                                      url=full_url, host=host, attempts=attempt)
            self._wait_for_slot(host)
            try:
                # send() without stream=True reads the whole body, so a short body raises here.
                response = self._client.send(request, follow_redirects=follow_redirects)
            except _RETRYABLE_ERRORS as exc:
                what = _describe_error(exc, self.timeout_s)
                if isinstance(exc, _CONNECT_ERRORS) and self._connect_failed(host, what):
                    raise HostUnreachable(f"{method} {full_url} failed: {self._unreachable[host]}",
                                          url=full_url, host=host, attempts=attempt + 1) from exc
                if attempt + 1 == attempts:
                    raise FetchError(
                        f"{method} {full_url} failed{_after(attempts)}: {what}",
                        url=full_url,
                        attempts=attempts,
                    ) from exc
                self._wait(
                    self.backoff_for(attempt),
                    f"retry {attempt + 1} of {self.retries} after {what} from {host}",
                )
                continue
            except httpx.HTTPError as exc:
                raise FetchError(
                    f"{method} {full_url} failed: {_describe_error(exc, self.timeout_s)}",
                    url=full_url,
                    attempts=attempt + 1,
                ) from exc

            self._failed_connects.pop(host, None)
            status = response.status_code
            if 200 <= status < 300 or status == 304 or status in pass_statuses:
                return response
            what = _describe_response(response)
            retryable = status >= 500 or status == 429
            if not retryable or attempt + 1 == attempts:
                raise FetchError(
                    f"{method} {full_url} failed{_after(attempt + 1)}: {what}",
                    url=full_url,
                    status=status,
                    attempts=attempt + 1,
                    content=response.content,
                    body=response.text[:_BODY_TEXT_LIMIT],
                )
            delay, why = self._retry_delay(response, attempt)
            retry = f"retry {attempt + 1} of {self.retries}"
            self._wait(delay, f"{retry} after {what} from {host}{why}")
        raise AssertionError("unreachable: the loop returns or raises on its last attempt")

    def _connect_failed(self, host: str, what: str) -> bool:
        """Count a failed connection to `host`; True when that makes it unreachable."""
        with self._slot_lock:
            failures = self._failed_connects.get(host, 0) + 1
            self._failed_connects[host] = failures
            if failures >= self.unreachable_after and host not in self._unreachable:
                self._unreachable[host] = (f"gave up on {host} after {failures} failed "
                                           f"connection attempts in a row (last: {what})")
            return host in self._unreachable

    def _retry_delay(self, response: httpx.Response, attempt: int) -> tuple[float, str]:
        """How long to wait before retrying `response`, and a note saying where that came from."""
        header = response.headers.get("Retry-After")
        if header is not None and response.status_code in _RETRY_AFTER_STATUSES:
            seconds = parse_retry_after(header, date_header=response.headers.get("Date"))
            if seconds is not None:
                return min(seconds, self.max_retry_after_s), " (server's Retry-After)"
        return self.backoff_for(attempt), ""

    def _wait_for_slot(self, host: str) -> None:
        """Keep request starts to one host at least `min_interval_s` apart."""
        if self.min_interval_s <= 0:
            return
        # Reserve the slot under the lock but sleep outside it, so threads queue up in order
        # without holding each other up longer than the interval requires.
        with self._slot_lock:
            now = self._clock()
            start = max(now, self._next_slot.get(host, now))
            self._next_slot[host] = start + self.min_interval_s
        self._wait(start - now, f"{host} rate limit ({self.min_interval_s:g} s between requests)")

    def _wait(self, seconds: float, reason: str) -> None:
        if seconds <= 0:
            return
        if self._on_wait is not None:
            self._on_wait(seconds, reason)
        self._sleep(seconds)
