"""GitHub stars of the repositories papers link to, fetched for ``paperboy signals refresh``.

`repo_name` turns a code link into "owner/name"; `GitHubStars.check` asks GitHub's REST API about
one repository and returns a `RepoCheck` that says what became of it: stars counted ("ok"), not
changed since the ETag we sent ("unchanged"), renamed or transferred ("moved"), deleted or taken
down ("gone"), or a visible per-repository failure ("failed") that the refresh counts and reports.
A check never raises for one bad repository.

Each check is one conditional GET. The refresh keeps the ETag a check returns and sends it next
time; GitHub answers 304 when nothing changed, which for a request made with a token does not
count against the rate limit (60 requests an hour without a token, 5,000 with one). When the limit
is used up the client waits for the reset GitHub announces, within `max_wait_s`, reporting each
wait through `on_wait` so the CLI can say why it is pausing; the `clock`/`sleep` seams let tests
do this without sleeping. Transport (timeouts, 5xx retries with backoff, User-Agent) is
`HttpClient`'s.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal, Self
from urllib.parse import urljoin, urlsplit

import httpx

from paperboy.sources.http import FetchError, HostUnreachable, HttpClient, parse_retry_after

CheckStatus = Literal["ok", "unchanged", "moved", "gone", "failed"]

API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
MEDIA_TYPE = "application/vnd.github+json"

_REDIRECTS = frozenset({301, 302, 307, 308})
# 451: blocked for legal reasons (a DMCA takedown); as lost to us as a deleted repository.
_GONE = frozenset({404, 451})
_RATE_LIMIT_STATUSES = frozenset({403, 429})
# Every 4xx is an answer about this repository (or our token), not a transient failure, so
# HttpClient hands them back instead of raising or retrying; 429 is retried here, by GitHub's rules.
_PASS_STATUSES = _REDIRECTS | frozenset(range(400, 500))

# X-RateLimit-Reset has whole-second resolution and our clock may run a little behind GitHub's.
_RESET_MARGIN_S = 1.0
# GitHub's advice for a secondary rate limit that names no wait: "wait for at least one minute".
_SECONDARY_WAIT_S = 60.0
# A check that is still rate-limited after this many waits gives up rather than loop forever.
_MAX_RATE_LIMIT_WAITS = 3

# GitHub logins: letters, digits and hyphens, at most 39 (old accounts may bend the hyphen rules).
_OWNER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}")
_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
# First path segments that are GitHub's own pages, not accounts: github.com/topics/x is no repo.
_RESERVED_OWNERS = frozenset({
    "about", "account", "apps", "blog", "codespaces", "collections", "contact", "customer-stories",
    "dashboard", "enterprise", "events", "explore", "features", "issues", "join", "login",
    "logout", "marketplace", "new", "notifications", "organizations", "orgs", "pricing", "pulls",
    "readme", "search", "security", "settings", "site", "solutions", "sponsors", "stars", "team",
    "topics", "trending", "users",
})
_GITHUB_HOSTS = frozenset({"github.com", "www.github.com"})
_API_REPO_PATH = re.compile(r"/repos/([^/]+)/([^/]+)/?")


def repo_name(url: str) -> str | None:
    """"owner/name" of the GitHub repository `url` points into, case kept; None for anything else.

    Accepts http or https, ``www.``, a trailing slash or ``.git``, deeper paths (``/tree/main/x``)
    and a missing scheme ("github.com/owner/repo", as abstracts often write it). Gists, github.io
    pages, user pages and GitHub's own pages (/topics/, /orgs/ ...) are not repositories.
    """
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
    except ValueError:  # e.g. a malformed port or IPv6 literal
        return None
    if parts.scheme.lower() not in ("http", "https") or host not in _GITHUB_HOSTS:
        return None
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) < 2:
        return None
    owner, name = segments[0], segments[1]
    if name.lower().endswith(".git"):
        name = name[:-4]
    if owner.lower() in _RESERVED_OWNERS or not _is_repo(owner, name):
        return None
    return f"{owner}/{name}"


def _is_repo(owner: str, name: str) -> bool:
    return bool(_OWNER.fullmatch(owner) and _NAME.fullmatch(name)) and name not in (".", "..")


@dataclass(frozen=True, slots=True, kw_only=True)
class RepoCheck:
    """What one check learnt about `repo` (as asked), at `checked_at` (UTC).

    `etag` is the validator to send with the next check of `repo`: the response's for "ok", the
    one sent (or GitHub's echo of it) for "unchanged" and "failed", None otherwise. For "moved",
    `moved_to` is the new "owner/name" and `stars` its count, each None when the new location
    could not be read (then `error` says why). `error` is set for every "failed".
    """

    repo: str
    status: CheckStatus
    stars: int | None = None
    etag: str | None = None
    moved_to: str | None = None
    created_at: datetime | None = None
    error: str | None = None
    checked_at: datetime


class _CheckFailed(Exception):
    """Ends one check; its message becomes `RepoCheck.error`, so it names the repository."""


@dataclass(frozen=True, slots=True)
class _Repository:
    full_name: str
    stars: int
    created_at: datetime | None


class GitHubStars:
    """Checks repositories one at a time against GitHub's REST API; see the module docstring.

    `clock` returns epoch seconds (it is compared with X-RateLimit-Reset and stamps
    `checked_at`); `sleep` and `on_wait(seconds, reason)` see every wait, rate limits and
    HttpClient's retries alike. Rate-limit state is kept between checks, so one instance should
    serve a whole refresh, from one thread.
    """

    def __init__(
        self,
        *,
        api_url: str = API_URL,
        token: str | None = None,
        timeout_s: float = 30,
        retries: int = 3,
        backoff_s: float = 1.0,
        max_wait_s: float = 3600.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        on_wait: Callable[[float, str], None] | None = None,
    ) -> None:
        if max_wait_s < 0:
            raise ValueError(f"max_wait_s must be >= 0, got {max_wait_s}")
        self.api_url = api_url.rstrip("/")
        self.max_wait_s = max_wait_s
        self._token = token
        self._clock = clock
        self._sleep = sleep
        self._on_wait = on_wait
        self._http = HttpClient(
            timeout_s=timeout_s, retries=retries, backoff_s=backoff_s, sleep=sleep, on_wait=on_wait
        )
        # Epoch seconds before which no request may start, and why (a used-up rate limit).
        self._resume_at: float | None = None
        self._resume_why = ""

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
        self._http.close()

    def check(self, repo: str, etag: str | None = None) -> RepoCheck:
        """Ask GitHub about `repo` ("owner/name"), conditionally when `etag` is given."""
        owner, _, name = repo.partition("/")
        if not _is_repo(owner, name):
            return self._result(
                repo, "failed", etag=etag,
                error=f"{repo!r} is not a GitHub repository name of the form owner/name",
            )
        headers = self._headers()
        if etag:
            headers["If-None-Match"] = etag
        try:
            response = self._get(f"{self.api_url}/repos/{owner}/{name}", repo, headers)
            status = response.status_code
            if 200 <= status < 300:
                found = _read_repository(response, repo)
                return self._result(
                    repo, "ok", stars=found.stars, etag=response.headers.get("ETag"),
                    created_at=found.created_at,
                )
            if status == 304:
                return self._result(repo, "unchanged", etag=response.headers.get("ETag") or etag)
            if status in _REDIRECTS:
                return self._follow(repo, response)
            if status in _GONE:
                return self._result(repo, "gone")
            raise _CheckFailed(_refusal(repo, response, has_token=self._token is not None))
        except _CheckFailed as exc:
            return self._result(repo, "failed", etag=etag, error=str(exc))

    def _follow(self, repo: str, response: httpx.Response) -> RepoCheck:
        """Follow a renamed/transferred repository's redirect once to learn its name and stars."""
        location = response.headers.get("Location")
        if not location:
            return self._result(
                repo, "moved",
                error=f"GitHub answered HTTP {response.status_code} for {repo} without a Location",
            )
        target = urljoin(str(response.url), location)
        # GitHub points at /repositories/ID, which names nothing; a /repos/ path does.
        path = _API_REPO_PATH.fullmatch(urlsplit(target).path)
        named = f"{path[1]}/{path[2]}" if path and _is_repo(path[1], path[2]) else None
        if _origin(target) != _origin(self.api_url):
            return self._result(
                repo, "moved", moved_to=named,
                error=f"{repo} moved to {target}, outside {self.api_url}; not followed",
            )
        try:
            followed = self._get(target, repo, self._headers())
            if not 200 <= followed.status_code < 300:
                raise _CheckFailed(
                    f"{repo} moved to {target}, which answered HTTP {followed.status_code}"
                )
            found = _read_repository(followed, repo)
        except _CheckFailed as exc:
            return self._result(repo, "moved", moved_to=named, error=str(exc))
        if found.full_name.lower() == repo.lower():
            # A (temporary) redirect that lands on the same repository is no move.
            return self._result(repo, "ok", stars=found.stars, created_at=found.created_at)
        return self._result(
            repo, "moved", stars=found.stars, moved_to=found.full_name,
            created_at=found.created_at,
        )

    def _get(self, url: str, repo: str, headers: Mapping[str, str]) -> httpx.Response:
        """GET `url`, waiting out GitHub's rate limits; raise _CheckFailed when that fails."""
        for _ in range(_MAX_RATE_LIMIT_WAITS + 1):
            self._wait_for_rate_limit(repo)
            try:
                response = self._http.get(
                    url, headers=headers, follow_redirects=False, pass_statuses=_PASS_STATUSES
                )
            except HostUnreachable:
                raise  # not this repository's failure: the run stops (signals/refresh.py)
            except FetchError as exc:
                raise _CheckFailed(f"could not check {repo} on GitHub: {exc}") from exc
            self._note_rate_limit(response)
            if not self._rate_limited(response):
                return response
        raise _CheckFailed(
            f"GitHub still rate-limited the check of {repo} after {_MAX_RATE_LIMIT_WAITS} waits; "
            "try again later"
        )

    def _note_rate_limit(self, response: httpx.Response) -> None:
        """After any response that used up the limit, hold the next request until the reset."""
        if response.headers.get("X-RateLimit-Remaining") != "0":
            return
        reset = _float(response.headers.get("X-RateLimit-Reset"))
        if reset is None:
            return
        limit = response.headers.get("X-RateLimit-Limit")
        per_hour = f" ({limit} requests an hour)" if limit else ""
        at = datetime.fromtimestamp(reset, UTC).strftime("%H:%M:%S")
        why = f"GitHub API rate limit used up{per_hour}; it resets at {at} UTC"
        self._defer(reset + _RESET_MARGIN_S, why)

    def _rate_limited(self, response: httpx.Response) -> bool:
        """Whether `response` is a rate limit to wait out (the wait is then already deferred)."""
        if response.status_code not in _RATE_LIMIT_STATUSES:
            return False
        now = self._clock()
        retry_after = response.headers.get("Retry-After")
        seconds = None
        if retry_after is not None:
            seconds = parse_retry_after(retry_after, date_header=response.headers.get("Date"))
        if seconds is not None:
            self._defer(now + seconds, f"GitHub secondary rate limit (Retry-After {seconds:g} s)")
            return True
        if response.headers.get("X-RateLimit-Remaining") == "0":
            if _float(response.headers.get("X-RateLimit-Reset")) is None:
                self._defer(now + _SECONDARY_WAIT_S, "GitHub API rate limit used up (no reset)")
            return True
        if response.status_code == 429 or "rate limit" in _message(response).lower():
            self._defer(now + _SECONDARY_WAIT_S, "GitHub secondary rate limit (no Retry-After)")
            return True
        return False

    def _defer(self, until: float, why: str) -> None:
        if self._resume_at is None or until > self._resume_at:
            self._resume_at = until
            self._resume_why = why

    def _wait_for_rate_limit(self, repo: str) -> None:
        if self._resume_at is None:
            return
        wait = self._resume_at - self._clock()
        if wait > self.max_wait_s:
            # Keep the deadline: later checks fail at once too, without spending requests.
            at = datetime.fromtimestamp(self._resume_at, UTC).strftime("%Y-%m-%d %H:%M")
            hint = "" if self._token else "; a token raises the limit from 60 to 5,000 an hour"
            raise _CheckFailed(
                f"not checking {repo}: {self._resume_why}, {_duration(wait)} from now, longer "
                f"than the {_duration(self.max_wait_s)} a check may wait; try again after {at} "
                f"UTC{hint}"
            )
        self._resume_at = None
        if wait > 0:
            if self._on_wait is not None:
                self._on_wait(wait, self._resume_why)
            self._sleep(wait)

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": MEDIA_TYPE, "X-GitHub-Api-Version": API_VERSION}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def _result(
        self,
        repo: str,
        status: CheckStatus,
        *,
        stars: int | None = None,
        etag: str | None = None,
        moved_to: str | None = None,
        created_at: datetime | None = None,
        error: str | None = None,
    ) -> RepoCheck:
        return RepoCheck(
            repo=repo,
            status=status,
            stars=stars,
            etag=etag,
            moved_to=moved_to,
            created_at=created_at,
            error=error,
            checked_at=datetime.fromtimestamp(self._clock(), UTC),
        )


def _read_repository(response: httpx.Response, repo: str) -> _Repository:
    try:
        doc = response.json()
    except ValueError as exc:
        raise _CheckFailed(f"GitHub's answer for {repo} is not JSON: {exc}") from exc
    stars = doc.get("stargazers_count") if isinstance(doc, dict) else None
    if not isinstance(stars, int) or isinstance(stars, bool):
        raise _CheckFailed(f"GitHub's answer for {repo} has no stargazers_count")
    full_name = doc.get("full_name")
    return _Repository(
        full_name=full_name if isinstance(full_name, str) and full_name else repo,
        stars=stars,
        created_at=_utc(doc.get("created_at")),
    )


def _refusal(repo: str, response: httpx.Response, *, has_token: bool) -> str:
    """The error for a 4xx that is neither an answer about the repository nor a rate limit."""
    status = response.status_code
    reason = response.reason_phrase or httpx.codes.get_reason_phrase(status)
    text = f"GitHub refused the check of {repo}: HTTP {status} {reason}".rstrip()
    message = _message(response)
    if message:
        text += f": {message}"
    if status == 401 and has_token:
        text += " (the GitHub token was rejected; check or renew it)"
    return text


def _message(response: httpx.Response) -> str:
    """GitHub's explanation of an error: the JSON body's "message", else the start of the text."""
    try:
        doc = response.json()
    except ValueError:
        return response.text.strip()[:200]
    message = doc.get("message") if isinstance(doc, dict) else None
    return message.strip() if isinstance(message, str) else ""


def _utc(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = httpx.URL(url)
    return parsed.scheme, parsed.host, parsed.port


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
