"""Readers and the daily digest against a real SMTP server on 127.0.0.1 (aiosmtpd).

Papers come from the recorded fixtures; vectors from the deterministic hashing embedder.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import mailcheck
import pytest
from conftest import FIXTURES, LISTING, NOW, follow_emailed_link, mails_sent, make_settings
from fastapi.testclient import TestClient
from smtpserver import Inbox
from typer.testing import CliRunner

from paperboy.cli import app
from paperboy.clock import FixedClock
from paperboy.digest.run import local_day
from paperboy.embed import HashingEmbedder
from paperboy.service import Paperboy
from paperboy.web.app import create_app

BASE = "https://papers.example.org"
SOURCES = [LISTING, FIXTURES / "arxiv_kaggle_snapshot.jsonl", FIXTURES / "arxiv_api_query.xml",
           FIXTURES / "hf_daily_papers.json", FIXTURES / "arxiv_rss.xml"]
TODAY = NOW.date()


@pytest.fixture
def mail(smtp_server: Callable[..., tuple[Inbox, int]]) -> tuple[Inbox, str]:
    inbox, port = smtp_server()
    return inbox, f"smtp://127.0.0.1:{port}?from=digest@paperboy.test"


@pytest.fixture
def service(tmp_path: Path, mail: tuple[Inbox, str], clock: FixedClock) -> Iterator[Paperboy]:
    paperboy = Paperboy(make_settings(tmp_path / "home", smtp_url=mail[1], base_url=BASE,
                                      smtp_backoff_s=0.01),
                        embedder=HashingEmbedder(dim=64), clock=clock)
    paperboy.ingest([str(s) for s in SOURCES])
    paperboy.embed()
    yield paperboy
    paperboy.close()


def _messages(inbox: Inbox) -> list[EmailMessage]:
    return [message_from_bytes(m.content, policy=policy.default)  # type: ignore[misc]
            for m in inbox.received]


def _reader(service: Paperboy, email: str, *follows: tuple[str, str]) -> dict[str, object]:
    reader = service.store.readers.create(email, service.clock(), confirmed=True)
    for kind, value in follows:
        service.follow(int(reader["id"]), kind, value)  # type: ignore[call-overload]
    return reader


def _link(message: EmailMessage, path: str) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    url = re.search(rf"{re.escape(BASE)}{path}\?token=\S+", body).group(0)  # type: ignore[union-attr]
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_subscribe_confirm_and_sign_in_by_emailed_links(service: Paperboy,
                                                        mail: tuple[Inbox, str]) -> None:
    inbox, _ = mail
    with TestClient(create_app(service, base_url=BASE), base_url="https://testserver") as web:
        token = re.search(r'name="csrf" value="([^"]+)"', web.get("/").text).group(1)  # type: ignore[union-attr]
        answer = web.post("/subscribe", data={"email": "Ada@Example.org", "csrf": token})
        assert answer.status_code == 200 and "Check your inbox" in answer.text
        assert mails_sent(web)
        (confirmation,) = _messages(inbox)
        assert confirmation["To"] == "ada@example.org"
        assert confirmation["Subject"] == "Confirm your Paperboy subscription"
        assert service.store.readers.by_email("ada@example.org")["status"] == "pending"  # type: ignore[index]
        assert web.get(_link(confirmation, "/confirm")).status_code == 200  # a page, not yet
        assert service.store.readers.by_email("ada@example.org")["status"] == "pending"  # type: ignore[index]
        page = follow_emailed_link(web, _link(confirmation, "/confirm"))
        assert page.url.path == "/account" and "ada@example.org" in page.text
        assert service.store.readers.by_email("ada@example.org")["status"] == "active"  # type: ignore[index]

        signed_in_token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        web.post("/signout", data={"csrf": signed_in_token})
        assert web.get("/account", follow_redirects=False).headers["location"] == "/signin"
        web.post("/signin", data={"email": "ada@example.org", "csrf": token})
        assert mails_sent(web)
        sign_in = _messages(inbox)[-1]
        assert sign_in["Subject"] == "Your Paperboy sign-in link"
        link = _link(sign_in, "/signin/link")
        for _ in range(2):  # a mail scanner's prefetch: a page with a button, nothing spent
            prefetched = web.get(link)
            assert prefetched.status_code == 200 and 'action="/signin/link"' in prefetched.text
            assert "pb_session" not in prefetched.headers.get("set-cookie", "")
        account = follow_emailed_link(web, link)
        assert account.url.path == "/account"
        token = re.search(r'name="csrf" value="([^"]+)"', account.text).group(1)  # type: ignore[union-attr]
        assert follow_emailed_link(web, link).status_code == 400  # the link is spent now
        tampered = follow_emailed_link(web, link[:-3] + "xyz")
        assert tampered.status_code == 400 and "not valid" in tampered.text
        # an unknown address gets the same answer, and no mail
        before = len(inbox.received)
        unknown = web.post("/signin", data={"email": "nobody@example.org", "csrf": token})
        assert "Check your inbox" in unknown.text
        assert mails_sent(web) and len(inbox.received) == before


def test_subscribing_is_rate_limited_per_address(service: Paperboy,
                                                 mail: tuple[Inbox, str]) -> None:
    with TestClient(create_app(service, base_url=BASE), base_url="https://testserver") as web:
        token = re.search(r'name="csrf" value="([^"]+)"', web.get("/").text).group(1)  # type: ignore[union-attr]
        codes = [web.post("/subscribe", data={"email": "eve@example.org", "csrf": token})
                 .status_code for _ in range(5)]
        assert mails_sent(web)
    assert codes == [200, 200, 200, 429, 429]
    assert len(mail[0].received) == 3


def test_the_digest_holds_followed_new_papers_with_links_and_unsubscribe_headers(
        service: Paperboy, mail: tuple[Inbox, str]) -> None:
    inbox, _ = mail
    _reader(service, "ada@example.org", ("query", "kernel thinning"), ("category", "cs.SE"))
    run = service.send_digests(day=TODAY)
    assert (run.due, run.sent, run.failed) == (1, 1, 0)
    (digest,) = _messages(inbox)
    assert digest["Subject"].startswith("Paperboy: ") and str(TODAY) in digest["Subject"]
    unsubscribe = digest["List-Unsubscribe"]
    assert unsubscribe.startswith(f"<{BASE}/unsubscribe?token=")
    # on the wire as RFC 2369 has it: the URL in angle brackets, never RFC 2047 encoded-words
    raw = inbox.received[0].content.decode("utf-8", errors="replace")
    header = re.search(r"^List-Unsubscribe: (.*?)\r?\n(?![ \t])", raw, re.M | re.S)
    assert header is not None and header.group(1) == unsubscribe and "=?" not in header.group(1)
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = digest.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    text = digest.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "<script" not in html and 'style="' in html
    assert "Kernel Thinning" in html and "matches your topic “kernel thinning”" in text
    assert f"{BASE}/papers/2202.12139" in html and "https://arxiv.org/abs/2202.12139" in html
    assert "in cs.SE, which you follow" in text
    ids = re.findall(rf"{re.escape(BASE)}/papers/(\S+)", text)
    assert len(ids) == len(set(ids))  # no paper twice
    assert service.store.readers.digests(1)[0]["status"] == "sent"


def test_no_second_digest_after_a_crash_or_with_two_schedulers(
        service: Paperboy, mail: tuple[Inbox, str]) -> None:
    inbox, _ = mail
    for n in range(6):
        _reader(service, f"reader{n}@example.org", ("query", "kernel"))
    # a run that claimed reader0's digest and crashed before sending it
    service.store.readers.claim_digest(1, str(TODAY), [], service.clock())
    runs = []
    threads = [threading.Thread(target=lambda: runs.append(service.send_digests(day=TODAY)))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    again = service.send_digests(day=TODAY)
    received = inbox.by_recipient()
    assert "reader0@example.org" not in received  # at most once: the crashed claim stands
    assert all(received[f"reader{n}@example.org"] == 1 for n in range(1, 6))
    assert sum(run.sent for run in runs) == 5 and again.sent == 0


def test_a_4xx_is_retried_and_a_5xx_recorded_then_repeated_bounces_pause(
        service: Paperboy, mail: tuple[Inbox, str]) -> None:
    inbox, _ = mail
    _reader(service, "slow@example.org", ("query", "kernel"))
    _reader(service, "gone@example.org", ("query", "kernel"))
    _reader(service, "down@example.org", ("query", "kernel"))
    inbox.defer("slow@example.org", times=1)
    inbox.defer("down@example.org", times=4)  # more than one run's retries
    inbox.reject("gone@example.org")
    first = service.send_digests(day=TODAY)
    assert (first.sent, first.failed, first.temporary) == (1, 1, 1)
    assert inbox.rcpt_attempts["slow@example.org"] == 2
    later = service.send_digests(day=TODAY)  # the deferred digest is tried again, once
    assert later.sent == 1 and inbox.by_recipient()["down@example.org"] == 1
    gone = service.store.readers.by_email("gone@example.org")
    (record,) = service.store.readers.digests(gone["id"])  # type: ignore[index]
    assert record["status"] == "failed" and "550" in record["error"]
    for n in (1, 2):
        service.send_digests(day=TODAY + timedelta(days=n))
    gone = service.store.readers.by_email("gone@example.org")
    assert gone["status"] == "bounced" and gone["bounces"] == 3  # type: ignore[index]
    assert not service.send_digests(day=TODAY + timedelta(days=3)).failed


def test_one_click_unsubscribe_stops_the_digest(service: Paperboy,
                                                mail: tuple[Inbox, str]) -> None:
    inbox, _ = mail
    _reader(service, "ada@example.org", ("query", "kernel"))
    service.send_digests(day=TODAY)
    (digest,) = _messages(inbox)
    url = urlsplit(digest["List-Unsubscribe"].strip("<>"))
    with TestClient(create_app(service, base_url=BASE), base_url="https://testserver") as web:
        answer = web.post(f"{url.path}?{url.query}", content=b"List-Unsubscribe=One-Click",
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200 and "unsubscribed" in answer.text
    assert service.store.readers.by_email("ada@example.org")["status"] == "paused"  # type: ignore[index]
    assert service.send_digests(day=TODAY + timedelta(days=1)).due == 0


def test_nothing_new_means_no_email(service: Paperboy, mail: tuple[Inbox, str]) -> None:
    _reader(service, "ada@example.org", ("author", "Nobody Atall"), ("category", "econ.TH"))
    run = service.send_digests(day=TODAY)
    assert run.empty == 1 and run.sent == 0 and not mail[0].received


def test_a_followed_search_keeps_its_filters_and_upvotes_teach_recommendations(
        service: Paperboy) -> None:
    reader = _reader(service, "ada@example.org")
    service.follow(int(reader["id"]), "query", "learning",  # type: ignore[call-overload]
                   filters={"category": "cs.SE"})
    digest, _ = service.preview_digest("ada@example.org")
    followed = digest.section("followed")
    assert followed and all("cs.SE" in item.paper["categories"] for item in followed)
    assert all("your topic" in item.why for item in digest.section("recommended"))  # cold
    for paper_id in ("2202.12139", "0704.0002"):
        service.store.signals.vote("reader:1", paper_id, service.clock())
    digest, html = service.preview_digest("ada@example.org")
    recommended = digest.section("recommended")
    assert recommended and all("in your library" in item.why for item in recommended)
    assert not {"2202.12139", "0704.0002"} & {item.paper["id"] for item in digest.items}
    assert recommended[0].paper["title"] in html


def test_a_reader_is_due_at_their_hour_in_their_time_zone() -> None:
    reader = {"timezone": "Asia/Tokyo", "digest_hour": 7}
    assert local_day(reader, datetime(2026, 11, 28, 21, 30, tzinfo=UTC), None) is None
    assert local_day(reader, datetime(2026, 11, 28, 22, 30, tzinfo=UTC), None) == "2026-11-29"
    assert local_day(reader, datetime(2026, 11, 28, 1, 0, tzinfo=UTC), date(2026, 1, 2)) == \
        "2026-01-02"


def test_readers_cli_preview_daily_and_status(tmp_path: Path, mail: tuple[Inbox, str],
                                              clock: FixedClock) -> None:
    home = tmp_path / "home"
    env = {"PAPERBOY_DATABASE_URL": "", "PAPERBOY_EMBEDDING_MODEL": "hashing-64",
           "PAPERBOY_SMTP_URL": mail[1], "PAPERBOY_SOURCES": ",".join(map(str, SOURCES)),
           "PAPERBOY_GITHUB_API_URL": "http://127.0.0.1:9", "PAPERBOY_HTTP_RETRIES": "0"}

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, ["--home", str(home), *args], env=env, obj=clock)
        return result.exit_code, " ".join(result.stdout.split())  # as one line, unwrapped

    assert run("readers", "add", "ada@example.org", "--follow", "kernel thinning",
               "--category", "cs.SE")[0] == 0
    code, out = run("readers", "list", "--json")
    (reader,) = json.loads(out)
    assert reader["status"] == "active" and {"kind": "query", "value": "kernel thinning"} in \
        reader["follows"]
    code, out = run("daily", "--json")  # at 06:00 UTC, before the reader's hour (07:00)
    steps = {step["step"]: step for step in json.loads(out)}
    assert list(steps) == ["harvest", "embed", "signals", "digest"]
    assert steps["harvest"]["ok"] and steps["harvest"]["counts"]["added"] > 200
    assert steps["embed"]["ok"] and steps["embed"]["counts"]["embedded"] > 200
    assert not steps["signals"]["ok"]  # no GitHub here: recorded, and the chain went on
    assert steps["digest"]["counts"]["due"] == 0 and not mail[0].received
    code, out = run("status", "--json")
    state = json.loads(out)
    assert state["readers"] == {"active": 1}
    assert state["runs"]["signals"]["status"] == "failed" and state["runs"]["signals"]["error"]
    assert state["runs"]["harvest"]["status"] == "ok"
    assert state["runs"]["harvest"]["started_at"] == NOW.isoformat()
    preview = tmp_path / "preview.html"
    code, out = run("digest", "preview", "ada@example.org", "-o", str(preview))
    assert code == 0 and f"The digest of {TODAY}" in out and "new in the last day" in out
    assert "Kernel Thinning" in preview.read_text()

    # once the reader's hour has come, the next daily run sends it; the preview is then of
    # tomorrow's digest, which holds only what arrived since
    clock.advance(timedelta(hours=2))
    result = CliRunner().invoke(app, ["--home", str(home), "daily", "--json"], env=env,
                                obj=clock)
    steps = {step["step"]: step for step in json.loads(result.stdout)}
    assert steps["digest"]["counts"]["sent"] == 1
    warned = " ".join(result.stderr.split())  # no PAPERBOY_BASE_URL here
    assert "PAPERBOY_BASE_URL is not set, so the digests' links (papers, unsubscribe) point " \
           "at http://localhost:8000" in warned
    (sent,) = _messages(mail[0])
    assert "Kernel Thinning" in sent.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    code, out = run("digest", "preview", "ada@example.org", "-o", str(preview))
    tomorrow = TODAY + timedelta(days=1)
    assert code == 0 and f"The digest of {tomorrow}: " in out
    assert "0 new since the last digest (2026-06-15 08:00 UTC)" in out
    assert "Kernel Thinning" not in preview.read_text()
    assert run("digest", "preview", "nobody@example.org")[0] == 1


def test_the_mail_check_sees_what_a_provider_refuses() -> None:
    good = (b"From: Paperboy <digest@paperboy.test>\r\nTo: ada@example.org\r\n"
            b"Subject: Papers\r\nDate: Mon, 15 Jun 2026 07:00:00 +0000\r\n"
            b"Message-ID: <1@paperboy.test>\r\nList-Unsubscribe: <https://p.example/u?t=1>\r\n"
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n")
    assert mailcheck.problems(good) == []
    broken = {
        b"List-Unsubscribe: <https://p.example/u?t=1>":
            b"List-Unsubscribe: =?utf-8?q?=3Chttps=3A//p.example/u=3Ft=3D1=3E?=",
        b"<https://p.example/u?t=1>": b"<http://p.example/u?t=1>",
        b"Date: Mon, 15 Jun 2026 07:00:00 +0000\r\n": b"",
        b"Message-ID: <1@paperboy.test>": b"Message-ID: one",
        b"Hello\r\n": b"Hello\n\xc3\xa9\r\n",
        b"Subject: Papers": b"Subject: Papers\r\nSubject: twice",
    }
    for old, new in broken.items():
        assert mailcheck.problems(good.replace(old, new)), new


def test_a_digest_offers_one_click_unsubscribe_only_over_https() -> None:
    from paperboy.digest.compose import Digest
    from paperboy.digest.render import message

    digest = Digest(reader={"email": "ada@example.org", "id": 1, "timezone": "UTC"},
                    day=str(TODAY), since=NOW)
    for url, one_click in (("https://p.example/unsubscribe?t=1", True),
                           ("http://localhost:8000/unsubscribe?t=1", False)):
        mail = message(digest, sender="digest@paperboy.test", base_url=url.rsplit("/", 1)[0],
                       unsubscribe_url=url, now=NOW)
        assert ("List-Unsubscribe-Post" in mail) is one_click
        assert mailcheck.problems(mail.as_bytes()) == []


def test_mutes_keep_words_authors_and_categories_out_of_the_digest_and_say_how_many(
        service: Paperboy, mail: tuple[Inbox, str]) -> None:
    reader = _reader(service, "ada@example.org", ("query", "kernel thinning"),
                     ("category", "cs.SE"))
    rid = int(reader["id"])  # type: ignore[call-overload]
    before = service.for_you(rid)
    followed = [i.paper for i in before.section("followed")]
    thinning = [p for p in followed if "thinning" in p["title"].lower()]
    in_se = [p for p in followed if "cs.SE" in (p["categories"] or ())]
    authored = next(p for p in in_se if p["authors"])
    assert thinning and in_se and before.hidden == 0
    service.store.readers.mute(rid, "author", authored["authors"][0].upper(), NOW)  # case aside
    shown = {i.paper["id"] for i in service.for_you(rid).items}
    assert authored["id"] not in shown and {p["id"] for p in thinning} <= shown
    service.store.readers.mute(rid, "category", "cs", NOW)  # a whole archive
    service.store.readers.mute(rid, "word", "Thinnings", NOW)  # stemmed, as search stems
    after = service.for_you(rid)
    shown = {i.paper["id"] for i in after.items}
    assert not shown & {p["id"] for p in thinning + in_se}
    assert after.hidden >= len({p["id"] for p in thinning + in_se})
    run = service.send_digests(day=TODAY)
    assert run.sent == 1
    (digest,) = _messages(mail[0])
    text = digest.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert not [p for p in thinning + in_se if f"/papers/{p['id']}" in text]
    assert re.search(rf"\d+ papers? hidden by your mutes: {re.escape(BASE)}/account#mutes", text)


def test_for_you_shows_the_next_digest_with_reasons_and_its_actions_come_back_to_it(
        service: Paperboy, mail: tuple[Inbox, str]) -> None:
    reader = _reader(service, "ada@example.org", ("query", "kernel thinning"))
    app = create_app(service, base_url=BASE)
    with TestClient(app, base_url="https://testserver") as web:
        assert web.get("/for-you", follow_redirects=False).headers["location"] == "/signin"
        denied = web.get("/api/for-you")
        assert denied.status_code == 401 and denied.json()["error"]["code"] == "sign_in_required"
        token = re.search(r'name="csrf" value="([^"]+)"', web.get("/signin").text).group(1)  # type: ignore[union-attr]
        web.post("/signin", data={"email": "ada@example.org", "csrf": token})
        assert mails_sent(web)
        follow_emailed_link(web, _link(_messages(mail[0])[-1], "/signin/link"))
        page = web.get("/for-you")
        assert page.status_code == 200 and "New on what you follow" in page.text
        assert "matches your topic “kernel thinning”" in page.text
        data = web.get("/api/for-you").json()
        assert set(data["sections"]) == {"updates", "followed", "recommended", "trending"}
        first = data["sections"]["followed"][0]
        assert first["why"] and first["url"].startswith(f"{BASE}/papers/")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        saved = web.post(f"/papers/{first['id']}/save", data={"csrf": token, "next": "/for-you"},
                         follow_redirects=False)
        assert saved.status_code == 303 and saved.headers["location"] == "/for-you"
        assert first["id"] in service.store.library.papers(int(reader["id"]))  # type: ignore[call-overload]
        again = web.get("/api/for-you").json()["sections"]
        assert first["id"] not in [p["id"] for p in again["followed"]]  # in the library now
        elsewhere = web.post(f"/papers/{first['id']}/upvote",
                             data={"csrf": token, "next": "//evil.example/"},
                             follow_redirects=False)
        assert elsewhere.headers["location"] == f"/papers/{first['id']}"
        in_place = web.post(f"/papers/{first['id']}/unsave",
                            data={"csrf": token, "next": "/for-you"},
                            headers={"HX-Request": "true"})  # htmx: a fragment, no redirect
        assert in_place.status_code == 200 and 'role="status"' in in_place.text
        assert in_place.text.startswith('<div class="for-you-item done"')
        listing = web.get("/papers").text  # cards carry an upvote button when signed in
        assert 'class="upvote"' in listing and 'name="next" value="/papers"' in listing
        voted = web.post(f"/papers/{first['id']}/upvote", data={"csrf": token, "next": "/papers"},
                         follow_redirects=False)
        assert voted.headers["location"] == "/papers"
        for verb, count, other in (("unvote", 0, "upvote"), ("upvote", 1, "unvote")):
            button = web.post(f"/papers/{first['id']}/{verb}", headers={"HX-Request": "true"},
                              data={"csrf": token, "next": "/for-you"})  # htmx: the button
            assert button.text.startswith('<form class="inline vote"'), verb
            assert f'action="/papers/{first["id"]}/{other}"' in button.text
            assert f"▲ {count}</button>" in button.text and 'value="/for-you"' in button.text
        muted = web.post("/account/mutes", data={"kind": "author", "value": "Ada Lovelace",
                                                 "csrf": token}, follow_redirects=False)
        assert muted.headers["location"] == "/account#mutes"
        assert "Ada Lovelace" in web.get("/account").text
        # search can leave out what the reader muted, and says how many it hid
        web.post("/account/mutes", data={"kind": "word", "value": "thinning", "csrf": token})
        query = {"q": "kernel thinning", "mode": "lexical"}
        plain = web.get("/api/search", params=query).json()
        hidden = web.get("/api/search", params=query | {"hide_muted": "true"}).json()
        assert any("thinning" in r["title"].lower() for r in plain["results"])
        assert not any("thinning" in r["title"].lower() for r in hidden["results"])
        assert re.fullmatch(r"\d+ of the best \d+ matches hidden by your mutes",
                            hidden["notices"][-1])
        assert "hide my mutes" in web.get("/search", params={"q": "kernel"}).text
        word = next(m for m in service.store.readers.mutes([int(reader["id"])])  # type: ignore[call-overload]
                    if m["kind"] == "word")
        service.store.readers.unmute(int(reader["id"]), word["id"])  # type: ignore[call-overload]
        assert web.post("/account/mutes", data={"kind": "planet", "value": "Mars",
                                                "csrf": token}).status_code == 400
        (row,) = service.store.readers.mutes([int(reader["id"])])  # type: ignore[call-overload]
        web.post(f"/account/mutes/{row['id']}/delete", data={"csrf": token})
        assert service.store.readers.mutes([int(reader["id"])]) == []  # type: ignore[call-overload]


def test_the_private_feed_and_opml_are_read_by_real_feed_clients_and_can_be_revoked(
        service: Paperboy, mail: tuple[Inbox, str]) -> None:
    import feedparser
    import listparser

    _reader(service, "ada@example.org", ("query", "kernel thinning"),
            ("category", "cs.SE"), ("author", "José Raúl Romero"))
    app = create_app(service, base_url=BASE)
    with TestClient(app, base_url="https://testserver") as web:
        token = re.search(r'name="csrf" value="([^"]+)"', web.get("/signin").text).group(1)  # type: ignore[union-attr]
        web.post("/signin", data={"email": "ada@example.org", "csrf": token})
        assert mails_sent(web)
        account = follow_emailed_link(web, _link(_messages(mail[0])[-1], "/signin/link"))
        url = re.search(r'value="(https://[^"]+/feeds/private/[^"]+\.xml)"', account.text)
        assert url is not None
        private = url.group(1).removeprefix(BASE)
        with TestClient(app, base_url="https://testserver") as reader_app:  # no cookie at all
            feed = feedparser.parse(reader_app.get(private).content)
        assert not feed.bozo and feed.version == "atom10"
        assert any("matches your topic “kernel thinning”" in e.summary for e in feed.entries)
        assert "ada@example.org" not in str(feed)  # the address names nobody

        opml = web.get("/account/feeds.opml")
        assert opml.headers["content-type"].startswith("text/x-opml")
        subscriptions = listparser.parse(opml.content)
        assert not subscriptions.bozo, subscriptions.bozo_exception
        urls = [f.url for f in subscriptions.feeds]
        assert f"{BASE}{private}" in urls
        assert f"{BASE}/feeds/search.xml?q=kernel+thinning" in urls
        assert f"{BASE}/feeds/categories/cs.SE.xml" in urls
        assert f"{BASE}/feeds/authors/Jos%C3%A9%20Ra%C3%BAl%20Romero.xml" in urls
        for url in urls:  # every one of them is a feed that parses
            assert not feedparser.parse(web.get(url.removeprefix(BASE)).content).bozo, url

        csrf = re.search(r'name="csrf" value="([^"]+)"', account.text).group(1)  # type: ignore[union-attr]
        web.post("/account/feeds/renew", data={"csrf": csrf})
        assert web.get(private).status_code == 404  # revoked
        renewed = re.search(r'/feeds/private/[^"]+\.xml', web.get("/account").text)
        assert renewed is not None and renewed.group(0) != private
        assert web.get(renewed.group(0)).status_code == 200
        assert web.get("/feeds/private/forged.xml").status_code == 404


def test_a_saved_paper_that_changes_is_in_the_next_digest_and_its_page_says_what_and_when(
        service: Paperboy, mail: tuple[Inbox, str], clock: FixedClock, tmp_path: Path) -> None:
    reader = _reader(service, "ada@example.org")
    rid = int(reader["id"])  # type: ignore[call-overload]
    service.store.library.save(rid, "0704.0028", NOW)
    assert service.for_you(rid).section("updates") == []
    (line,) = [json.loads(raw) for raw in (FIXTURES / "arxiv_kaggle_snapshot.jsonl").read_text(
        encoding="utf-8").splitlines() if '"id":"0704.0028"' in raw]
    line["versions"].append({"version": "v3", "created": "Mon, 15 Jun 2026 05:00:00 GMT"})
    line["abstract"] += " Code: https://github.com/pfrenkel/hafnians"
    newer = tmp_path / "newer.jsonl"
    newer.write_text(json.dumps(line) + "\n", encoding="utf-8")
    clock.advance(timedelta(minutes=10))
    service.ingest([str(newer)])
    (item,) = service.for_you(rid).section("updates")
    assert item.paper["id"] == "0704.0028"
    assert "new version v3 (2026-06-15)" in item.why
    assert "code published: https://github.com/pfrenkel/hafnians" in item.why
    clock.advance(timedelta(hours=2))
    assert service.send_digests(day=TODAY).sent == 1
    (digest,) = _messages(mail[0])
    text = digest.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "UPDATES TO YOUR PAPERS" in text and "new version v3" in text
    with TestClient(create_app(service, base_url=BASE), base_url="https://testserver") as web:
        page = web.get("/papers/0704.0028").text
    assert "What changed" in page and "2026-06-15</time>: new version v3" in page
    # the next digest does not tell it again
    clock.advance(timedelta(days=1))
    assert service.for_you(rid).section("updates") == []
