"""GitHubStars against a real local server answering like api.github.com, and repo_name on URLs.

The bodies and headers follow recorded GitHub REST responses (GET /repos/{owner}/{repo}, 2022-11-28
API version). Only time is faked: the clock/sleep seams move a fake epoch clock, so rate-limit
waits of minutes are checked without sleeping.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from paperboy.signals.github import GitHubStars, repo_name
from tests.httpserver import LocalServer, Reply

NOW = 1_717_236_000.0  # 2024-06-01 10:00:00 UTC
ETAG = 'W/"8d6bd1fb5cc8b4a7e0d1a7f0b6e2b3c4d1b2a3f4e5d6c7b8a9f0e1d2c3b4a5f6"'
DOCS = "https://docs.github.com/rest/repos/repos#get-a-repository"


class FakeTime:
    """An epoch clock that only moves when the code under test sleeps."""

    def __init__(self, server: LocalServer) -> None:
        self.now = NOW
        self.server = server
        self.sleeps: list[float] = []
        self.waits: list[tuple[float, str]] = []
        self.requests_before_sleep: list[int] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.requests_before_sleep.append(len(self.server.requests))
        self.now += seconds

    def on_wait(self, seconds: float, reason: str) -> None:
        self.waits.append((seconds, reason))


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as srv:
        yield srv


@pytest.fixture
def fake(server: LocalServer) -> FakeTime:
    return FakeTime(server)


def stars_client(server: LocalServer, fake: FakeTime, **options: Any) -> GitHubStars:
    return GitHubStars(
        api_url=server.base_url,
        timeout_s=5,
        clock=fake.clock,
        sleep=fake.sleep,
        on_wait=fake.on_wait,
        **options,
    )


@pytest.fixture
def github(server: LocalServer, fake: FakeTime) -> Iterator[GitHubStars]:
    with stars_client(server, fake) as client:
        yield client


def repository(full_name: str, *, repo_id: int, stars: int, created_at: str) -> bytes:
    """A GET /repos/{owner}/{repo} body as GitHub sends it (trimmed of the *_url templates)."""
    owner, name = full_name.split("/")
    api = f"https://api.github.com/repos/{full_name}"
    return json.dumps({
        "id": repo_id,
        "node_id": "R_kgDOKxQ7rA",
        "name": name,
        "full_name": full_name,
        "private": False,
        "owner": {
            "login": owner,
            "id": 105203311,
            "node_id": "O_kgDOBkVfbw",
            "avatar_url": "https://avatars.githubusercontent.com/u/105203311?v=4",
            "url": f"https://api.github.com/users/{owner}",
            "html_url": f"https://github.com/{owner}",
            "type": "Organization",
            "site_admin": False,
        },
        "html_url": f"https://github.com/{full_name}",
        "description": "Universal perception large-kernel ConvNet for audio, video, point cloud, "
                       "time-series and image recognition",
        "fork": False,
        "url": api,
        "stargazers_url": f"{api}/stargazers",
        "created_at": created_at,
        "updated_at": "2024-05-30T08:12:44Z",
        "pushed_at": "2024-03-18T02:41:09Z",
        "homepage": "",
        "size": 2874,
        "stargazers_count": stars,
        "watchers_count": stars,
        "language": "Python",
        "has_issues": True,
        "forks_count": 64,
        "archived": False,
        "disabled": False,
        "open_issues_count": 21,
        "license": {"key": "apache-2.0", "name": "Apache License 2.0", "spdx_id": "Apache-2.0"},
        "topics": ["convnet", "large-kernel"],
        "visibility": "public",
        "forks": 64,
        "open_issues": 21,
        "watchers": stars,
        "default_branch": "main",
        "network_count": 64,
        "subscribers_count": 19,
    }).encode()


def error_body(message: str, status: int) -> bytes:
    body = {"message": message, "documentation_url": DOCS, "status": str(status)}
    return json.dumps(body).encode()


def rate_headers(remaining: int, *, reset: float = NOW + 3600, limit: int = 60) -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=utf-8",
        "X-GitHub-Media-Type": "github.v3; format=json",
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(int(reset)),
        "X-RateLimit-Used": str(limit - remaining),
        "X-RateLimit-Resource": "core",
    }


UNIREPLKNET = repository(
    "AILab-CVC/UniRepLKNet", repo_id=727318914, stars=1021, created_at="2023-12-04T15:52:27Z"
)
REPO_PATH = "/repos/AILab-CVC/UniRepLKNet"


def ok_reply(body: bytes = UNIREPLKNET, *, remaining: int = 59, reset: float = NOW + 3600) -> Reply:
    return Reply(200, body, headers={**rate_headers(remaining, reset=reset), "ETag": ETAG})


# --- 200, ETag, 304 ---------------------------------------------------------------------------


def test_200_gives_stars_etag_and_creation_date_then_304_keeps_the_etag(
    server: LocalServer, github: GitHubStars, fake: FakeTime
) -> None:
    server.route(REPO_PATH, [ok_reply(), Reply(304, headers={**rate_headers(59), "ETag": ETAG})])

    first = github.check("AILab-CVC/UniRepLKNet")
    second = github.check("AILab-CVC/UniRepLKNet", etag=first.etag)

    assert first.status == "ok"
    assert first.repo == "AILab-CVC/UniRepLKNet"
    assert first.stars == 1021
    assert first.etag == ETAG
    assert first.created_at == datetime(2023, 12, 4, 15, 52, 27, tzinfo=UTC)
    assert first.checked_at == datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
    assert first.moved_to is None and first.error is None

    assert second.status == "unchanged"
    assert second.stars is None
    assert second.etag == ETAG

    plain, conditional = server.requests_to(REPO_PATH)
    assert plain.headers["Accept"] == "application/vnd.github+json"
    assert plain.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert plain.headers["User-Agent"].startswith("paperboy/")
    assert plain.headers["If-None-Match"] is None
    assert plain.headers["Authorization"] is None  # no token given, none sent
    assert conditional.headers["If-None-Match"] == ETAG
    assert fake.sleeps == []


def test_token_is_sent_as_bearer_authorization(server: LocalServer, fake: FakeTime) -> None:
    server.route(REPO_PATH, ok_reply(remaining=4999))

    with stars_client(server, fake, token="ghp_16C7e42F292c6912E7710c838347Ae178B4a") as github:
        check = github.check("AILab-CVC/UniRepLKNet")

    assert check.status == "ok"
    (request,) = server.requests
    assert request.headers["Authorization"] == "Bearer ghp_16C7e42F292c6912E7710c838347Ae178B4a"


# --- rate limits --------------------------------------------------------------------------------


def test_403_rate_limited_waits_until_the_reset_then_succeeds(
    server: LocalServer, github: GitHubStars, fake: FakeTime
) -> None:
    limited = Reply(
        403,
        error_body("API rate limit exceeded for 203.0.113.7. (But here's the good news: "
                   "Authenticated requests get a higher rate limit. Check out the documentation "
                   "for more details.)", 403),
        headers=rate_headers(0, reset=NOW + 120),
    )
    server.route(REPO_PATH, [limited, ok_reply()])

    check = github.check("AILab-CVC/UniRepLKNet")

    assert check.status == "ok"
    assert check.stars == 1021
    assert len(server.requests) == 2
    # Until the announced reset (10:02:00 UTC), plus a second for GitHub's whole-second clock.
    assert fake.sleeps == [121.0]
    [(seconds, reason)] = fake.waits
    assert seconds == 121.0
    assert "rate limit" in reason and "10:02:00 UTC" in reason
    assert check.checked_at == datetime(2024, 6, 1, 10, 2, 1, tzinfo=UTC)


@pytest.mark.parametrize("status", [429, 403])
def test_secondary_rate_limit_honours_retry_after(
    server: LocalServer, github: GitHubStars, fake: FakeTime, status: int
) -> None:
    secondary = Reply(
        status,
        error_body("You have exceeded a secondary rate limit. Please wait a few minutes before "
                   "you try again.", status),
        headers={**rate_headers(41), "Retry-After": "30"},
    )
    server.route(REPO_PATH, [secondary, ok_reply()])

    check = github.check("AILab-CVC/UniRepLKNet")

    assert check.status == "ok"
    assert len(server.requests) == 2
    assert fake.sleeps == [30.0]
    assert "secondary rate limit" in fake.waits[0][1]
    assert "Retry-After" in fake.waits[0][1]


def test_secondary_rate_limit_without_retry_after_waits_a_minute(
    server: LocalServer, github: GitHubStars, fake: FakeTime
) -> None:
    secondary = Reply(
        403,
        error_body("You have exceeded a secondary rate limit. Please wait a few minutes before "
                   "you try again.", 403),
        headers=rate_headers(41),
    )
    server.route(REPO_PATH, [secondary, ok_reply()])

    assert github.check("AILab-CVC/UniRepLKNet").status == "ok"
    assert fake.sleeps == [60.0]


def test_a_used_up_limit_delays_the_next_request_until_the_reset(
    server: LocalServer, github: GitHubStars, fake: FakeTime
) -> None:
    other = repository("sail-sg/inceptionnext", repo_id=618052413, stars=612,
                       created_at="2023-03-23T10:01:52Z")
    server.route(REPO_PATH, ok_reply(remaining=0, reset=NOW + 300))
    server.route("/repos/sail-sg/inceptionnext", ok_reply(other, remaining=59))

    first = github.check("AILab-CVC/UniRepLKNet")
    assert first.status == "ok"  # the request that used up the limit still answered
    assert fake.sleeps == []

    second = github.check("sail-sg/inceptionnext")

    assert second.status == "ok" and second.stars == 612
    assert fake.sleeps == [301.0]
    assert fake.requests_before_sleep == [1]  # waited before the second request, not after it
    assert "rate limit" in fake.waits[0][1]


def test_a_wait_beyond_the_cap_fails_the_check_with_when_to_retry(
    server: LocalServer, github: GitHubStars, fake: FakeTime
) -> None:
    limited = Reply(
        403,
        error_body("API rate limit exceeded for 203.0.113.7.", 403),
        headers=rate_headers(0, reset=NOW + 2 * 3600),
    )
    server.route(REPO_PATH, limited)
    server.route("/repos/sail-sg/inceptionnext", ok_reply())

    check = github.check("AILab-CVC/UniRepLKNet")
    later = github.check("sail-sg/inceptionnext")

    assert check.status == "failed"
    assert check.error is not None
    assert "AILab-CVC/UniRepLKNet" in check.error
    assert "try again after 2024-06-01 12:00 UTC" in check.error
    assert "token" in check.error  # no token was given: say that one raises the limit
    assert fake.sleeps == []
    # The limit still holds for the next repository: it fails too, without spending a request.
    assert later.status == "failed" and "sail-sg/inceptionnext" in (later.error or "")
    assert len(server.requests) == 1


def test_403_that_is_not_a_rate_limit_fails_with_githubs_message(
    server: LocalServer, github: GitHubStars, fake: FakeTime
) -> None:
    server.route(REPO_PATH, Reply(
        403,
        error_body("Resource not accessible by personal access token", 403),
        headers=rate_headers(4998, limit=5000),
    ))

    check = github.check("AILab-CVC/UniRepLKNet", etag=ETAG)

    assert check.status == "failed"
    assert check.stars is None
    assert check.error is not None
    assert "AILab-CVC/UniRepLKNet" in check.error
    assert "HTTP 403" in check.error
    assert "Resource not accessible by personal access token" in check.error
    assert check.etag == ETAG  # nothing learnt: the next check can still be conditional
    assert len(server.requests) == 1
    assert fake.sleeps == []


# --- gone, moved --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, error_body("Not Found", 404)),
        (451, json.dumps({
            "message": "Repository access blocked",
            "block": {"reason": "dmca", "created_at": "2024-02-09T17:21:03Z",
                      "html_url": "https://github.com/github/dmca/blob/master/2024/02/x.md"},
        }).encode()),
    ],
)
def test_404_and_451_are_gone(
    server: LocalServer, github: GitHubStars, fake: FakeTime, status: int, body: bytes
) -> None:
    server.route(REPO_PATH, Reply(status, body, headers=rate_headers(58)))

    check = github.check("AILab-CVC/UniRepLKNet", etag=ETAG)

    assert check.status == "gone"
    assert check.stars is None and check.error is None
    assert len(server.requests) == 1  # an answer, not a failure to retry
    assert fake.sleeps == []


def moved_reply(server: LocalServer, repo_id: int, status: int = 301) -> Reply:
    location = server.url(f"/repositories/{repo_id}")
    return Reply(
        status,
        json.dumps({"message": "Moved Permanently", "url": location,
                    "documentation_url": "https://docs.github.com/v3/#http-redirects"}).encode(),
        headers={**rate_headers(58), "Location": location},
    )


def test_301_moved_is_followed_once_to_learn_the_new_name_and_stars(
    server: LocalServer, fake: FakeTime
) -> None:
    server.route("/repos/DingXiaoH/UniRepLKNet", moved_reply(server, 727318914))
    server.route("/repositories/727318914", ok_reply(remaining=57))

    with stars_client(server, fake, token="ghp_token") as github:
        check = github.check("DingXiaoH/UniRepLKNet", etag=ETAG)

    assert check.status == "moved"
    assert check.repo == "DingXiaoH/UniRepLKNet"
    assert check.moved_to == "AILab-CVC/UniRepLKNet"
    assert check.stars == 1021
    assert check.created_at == datetime(2023, 12, 4, 15, 52, 27, tzinfo=UTC)
    assert check.etag is None  # the old name's validator means nothing for the new one
    asked, followed = server.requests
    assert asked.path == "/repos/DingXiaoH/UniRepLKNet"
    assert asked.headers["If-None-Match"] == ETAG
    assert followed.path == "/repositories/727318914"
    assert followed.headers["Accept"] == "application/vnd.github+json"
    assert followed.headers["Authorization"] == "Bearer ghp_token"  # same API host
    assert followed.headers["If-None-Match"] is None


def test_moved_whose_new_location_fails_is_still_moved_without_stars(
    server: LocalServer, github: GitHubStars
) -> None:
    server.route("/repos/DingXiaoH/UniRepLKNet", moved_reply(server, 727318914))
    server.route("/repositories/727318914", Reply(404, error_body("Not Found", 404)))

    check = github.check("DingXiaoH/UniRepLKNet")

    assert check.status == "moved"
    assert check.moved_to is None
    assert check.stars is None
    assert check.error is not None and "404" in check.error
    assert len(server.requests) == 2  # followed once, no further


def test_a_redirect_to_another_host_is_not_followed(
    server: LocalServer, github: GitHubStars
) -> None:
    server.route("/repos/DingXiaoH/UniRepLKNet", Reply(
        301, b"", headers={"Location": "https://evil.example/repos/AILab-CVC/UniRepLKNet"}
    ))

    check = github.check("DingXiaoH/UniRepLKNet")

    assert check.status == "moved"
    assert check.moved_to == "AILab-CVC/UniRepLKNet"  # named by the Location path itself
    assert check.stars is None
    assert "not followed" in (check.error or "")
    assert len(server.requests) == 1


# --- transport failures -------------------------------------------------------------------------


def test_5xx_is_retried_with_backoff(
    server: LocalServer, github: GitHubStars, fake: FakeTime
) -> None:
    server.route(REPO_PATH, [
        Reply(502, b"Server Error", headers={"Content-Type": "text/html"}),
        Reply(503, error_body("Service Unavailable", 503)),
        ok_reply(),
    ])

    check = github.check("AILab-CVC/UniRepLKNet")

    assert check.status == "ok" and check.stars == 1021
    assert len(server.requests) == 3
    assert fake.sleeps == [1.0, 2.0]
    assert "502" in fake.waits[0][1] and "503" in fake.waits[1][1]


def test_5xx_after_all_retries_is_a_failed_check_naming_the_repo(
    server: LocalServer, fake: FakeTime
) -> None:
    server.route(REPO_PATH, Reply(502, b"Server Error"))

    with stars_client(server, fake, retries=2) as github:
        check = github.check("AILab-CVC/UniRepLKNet", etag=ETAG)

    assert check.status == "failed"
    assert check.error is not None
    assert "AILab-CVC/UniRepLKNet" in check.error
    assert "502" in check.error and "3 attempts" in check.error
    assert check.etag == ETAG
    assert len(server.requests) == 3


def test_unreachable_api_is_a_failed_check_not_an_exception(fake: FakeTime) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with GitHubStars(api_url=f"http://127.0.0.1:{port}", retries=1, clock=fake.clock,
                     sleep=fake.sleep) as github:
        check = github.check("AILab-CVC/UniRepLKNet")

    assert check.status == "failed"
    assert check.error is not None
    assert "AILab-CVC/UniRepLKNet" in check.error and "ConnectError" in check.error
    assert fake.sleeps == [1.0]


def test_a_name_that_is_no_repository_fails_without_a_request(
    server: LocalServer, github: GitHubStars
) -> None:
    check = github.check("https://github.com/AILab-CVC/UniRepLKNet")

    assert check.status == "failed"
    assert "owner/name" in (check.error or "")
    assert server.requests == []


# --- repo_name ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/AILab-CVC/UniRepLKNet", "AILab-CVC/UniRepLKNet"),
        ("https://github.com/AILab-CVC/UniRepLKNet/", "AILab-CVC/UniRepLKNet"),
        ("https://github.com/sail-sg/inceptionnext.git", "sail-sg/inceptionnext"),
        ("http://github.com/implus/SKNet", "implus/SKNet"),
        ("https://www.github.com/Hao840/OFAKD", "Hao840/OFAKD"),
        ("github.com/IST-DASLab/RoSA", "IST-DASLab/RoSA"),
        ("https://github.com/tensorflow/tpu/tree/master/models/official/efficientnet/condconv",
         "tensorflow/tpu"),
        ("https://github.com/IntelLabs/Hardware-Aware-Automated-Machine-Learning/tree/main/SparAMX",
         "IntelLabs/Hardware-Aware-Automated-Machine-Learning"),
        ("https://github.com/pnnl/projection_ntk#readme", "pnnl/projection_ntk"),
        ("https://github.com/OpenNLPLab/cosFormer?tab=readme-ov-file", "OpenNLPLab/cosFormer"),
        ("HTTPS://GitHub.com/RAIVNLab/MRL", "RAIVNLab/MRL"),
        ("https://github.com/openai/gpt-2.5", "openai/gpt-2.5"),
        ("https://gist.github.com/karpathy/d4dee566867f8291f086", None),
        ("https://tmtuan1307.github.io/NRR-DD", None),
        ("https://gitlab.com/AILab-CVC/UniRepLKNet", None),
        ("https://github.com.evil.example/AILab-CVC/UniRepLKNet", None),
        ("https://github.com/AILab-CVC", None),
        ("https://github.com/AILab-CVC/", None),
        ("https://github.com/", None),
        ("https://github.com/orgs/AILab-CVC/repositories", None),
        ("https://github.com/topics/large-kernel", None),
        ("https://github.com/features/copilot", None),
        ("https://github.com/sponsors/karpathy", None),
        ("https://github.com/owner/..", None),
        ("ftp://github.com/AILab-CVC/UniRepLKNet", None),
        ("https://api.github.com/repos/AILab-CVC/UniRepLKNet", None),
        ("not a url", None),
        ("", None),
    ],
)
def test_repo_name(url: str, expected: str | None) -> None:
    assert repo_name(url) == expected
