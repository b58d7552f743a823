"""The web app in-process (httpx through the ASGI app): pages, JSON API, feeds and safety rules.

The store holds the demo listing, every recorded fixture and one hostile paper; vectors come
from the deterministic hashing embedder. Browser tests are in test_web_browser.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from email import policy
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import feedparser
import lxml.html
import mailcheck
import pytest
import rispy
from conftest import NOW, PAPER_FIXTURES, follow_emailed_link, mails_sent, make_settings
from fastapi.testclient import TestClient

from paperboy.clock import FixedClock
from paperboy.embed import HashingEmbedder
from paperboy.readers.outbox import Outbox
from paperboy.service import Paperboy, demo_corpus
from paperboy.web.app import create_app

BASE = "https://papers.example.org"
HOSTILE = {
    "id": "2611.99999",
    "title": "<script>alert('title')</script> Attacks & <b>Defenses</b>",
    "abstract": "We study $x^2 < y$ and <img src=x onerror=alert(1)> payloads in abstracts.",
}

# As the 33k corpus's records: no versions, an update long after the id's month
UNDATED = {"id": "2509.00042", "title": "A paper dated by its arXiv id", "abstract": "Months.",
           "authors": "Ada Month", "categories": "cs.LG", "versions": [],
           "update_date": "2025-12-01"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home = tmp_path_factory.mktemp("web") / "home"
    hostile = home.parent / "hostile.jsonl"
    hostile.write_text(json.dumps({
        "id": HOSTILE["id"], "title": HOSTILE["title"], "abstract": HOSTILE["abstract"],
        "authors": "Mallory <m@evil>", "categories": "cs.CR",
        "versions": [{"version": "v1", "created": "Mon, 2 Nov 2026 10:00:00 GMT"}]}) + "\n"
        + json.dumps(UNDATED) + "\n")
    service = Paperboy(make_settings(home), embedder=HashingEmbedder(dim=64),
                       clock=FixedClock(NOW))
    service.ingest([str(demo_corpus()), *map(str, PAPER_FIXTURES), str(hostile)])
    service.embed()
    app = create_app(service, base_url=BASE)  # https: cookies are Secure, so the client is too
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client
    service.close()


def _inline_scripts(html: str) -> list[str]:
    return re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html)


def test_home_shows_latest_papers_trending_and_feeds(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "<title>Paperboy: new and trending research papers</title>" in page.text
    assert page.text.count('class="card"') >= 5
    assert 'type="application/atom+xml"' in page.text and "/feeds/trending.xml" in page.text


def test_search_api_pages_by_cursor_without_repeats(client: TestClient) -> None:
    first = client.get("/api/search", params={"q": "kernel", "limit": 10}).json()
    assert len(first["results"]) == 10 and first["mode"] == "hybrid"
    hit = first["results"][0]
    assert {"id", "title", "score", "snippet", "matched_terms", "url"} <= set(hit)
    assert hit["url"] == f"{BASE}/papers/{hit['id']}"
    second = client.get("/api/search", params={"q": "kernel", "limit": 10,
                                               "cursor": first["next_cursor"]}).json()
    assert not {h["id"] for h in first["results"]} & {h["id"] for h in second["results"]}
    bad = client.get("/api/search", params={"q": "kernel", "cursor": "not-ours"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"


def test_search_filters_and_modes(client: TestClient) -> None:
    results = client.get("/api/search", params={"q": "learning", "category": "cs.LG",
                                                "limit": 50}).json()["results"]
    assert results and all("cs.LG" in hit["categories"] for hit in results)
    coded = client.get("/api/search", params={"q": "learning", "has_code": "true"}).json()
    assert coded["results"] and all(hit["links"]["code"] for hit in coded["results"])
    words = client.get("/api/search", params={"q": "kernel", "mode": "lexical"}).json()
    assert words["mode"] == "lexical" and all(h["semantic_rank"] is None
                                              for h in words["results"])
    wrong = client.get("/api/search", params={"q": "kernel", "mode": "telepathy"})
    assert wrong.status_code == 422 and "mode" in wrong.json()["error"]["message"]


def test_search_page_renders_results_and_answers_htmx_with_the_results_only(
        client: TestClient) -> None:
    page = client.get("/search", params={"q": "kernel thinning"})
    assert page.status_code == 200 and "<mark>" in page.text
    assert "Why this result" in page.text and 'rel="next"' in page.text
    assert "/feeds/search.xml?q=kernel+thinning" in page.text
    partial = client.get("/search", params={"q": "kernel thinning"},
                         headers={"HX-Request": "true", "HX-Target": "results"})
    assert partial.text.lstrip().startswith('<section id="results"')
    assert "<html" not in partial.text
    empty = client.get("/search")
    assert empty.status_code == 200 and "Type to search" in empty.text


def test_paper_by_any_id_with_links_similar_papers_and_bibtex(client: TestClient) -> None:
    data = client.get("/api/papers/2202.12139").json()
    assert data["id"] == "2202.12139" and data["links"]["pdf"]
    assert client.get("/api/papers/arXiv:2202.12139v1").json()["id"] == "2202.12139"
    page = client.get("/papers/2202.12139")
    assert page.status_code == 200
    assert data["links"]["abstract"] in page.text and data["links"]["pdf"] in page.text
    assert "Similar papers" in page.text and "@article{ahuja2022testing," in page.text
    assert client.get("/papers/arXiv:2202.12139", follow_redirects=False).headers[
        "location"] == "/papers/2202.12139"
    similar = client.get("/api/papers/2202.12139/similar", params={"limit": 5}).json()
    assert len(similar["results"]) == 5
    assert "2202.12139" not in {h["id"] for h in similar["results"]}
    bib = client.get("/papers/2202.12139.bib")
    assert bib.headers["content-type"].startswith("application/x-bibtex")
    assert "eprint = {2202.12139}" in bib.text and "archivePrefix = {arXiv}" in bib.text


def test_unknown_ids_give_a_404_page_and_a_json_404(client: TestClient) -> None:
    page = client.get("/papers/9999.99999")
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    assert "9999.99999" in page.text
    api = client.get("/api/papers/9999.99999")
    assert api.status_code == 404
    assert api.json() == {"error": {"code": "not_found",
                                    "message": "no paper with id '9999.99999'"}}
    assert client.get("/api/papers/9999.99999/similar").status_code == 404
    assert client.get("/api/nothing-here").json()["error"]["code"] == "not_found"
    assert client.get("/trending", params={"window": "year"}).status_code == 404


def test_hostile_text_is_shown_as_text_everywhere(client: TestClient) -> None:
    for path in ("/", f"/papers/{HOSTILE['id']}", "/search?q=attacks+defenses",
                 "/categories/cs.CR", "/daily/2026-11-02"):
        html = client.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert "&lt;script&gt;alert(" in html, path
        assert not _inline_scripts(html), path
    data = client.get(f"/api/papers/{HOSTILE['id']}").json()
    assert data["title"] == HOSTILE["title"]  # JSON carries the text as it is
    feed = feedparser.parse(client.get("/feeds/categories/cs.CR.xml").content)
    assert not feed.bozo and feed.entries[0].title == HOSTILE["title"]


def test_every_response_carries_the_security_headers(client: TestClient) -> None:
    for path in ("/", "/api/search?q=kernel", "/papers/nope", "/feeds/trending.xml",
                 "/static/style.css"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        script_src = re.search(r"script-src ([^;]*)", csp).group(1)  # type: ignore[union-attr]
        assert script_src == "'self'" and "frame-ancestors 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["strict-transport-security"] == "max-age=31536000"  # BASE is https
    plain = Paperboy(make_settings(client.app.state.service.settings.home),
                     embedder=HashingEmbedder(dim=64))
    with TestClient(create_app(plain, base_url="http://localhost:8000")) as local:
        assert "strict-transport-security" not in local.get("/").headers  # no https to keep to
    plain.close()


def test_request_and_query_limits(client: TestClient) -> None:
    long_query = client.get("/api/search", params={"q": "kernel " * 100})
    assert long_query.status_code == 422
    assert long_query.json()["error"]["code"] == "invalid_parameter"
    assert client.get("/search", params={"q": "x" * 501}).status_code == 422
    assert client.get("/api/search", params={"q": "k" * 5000}).status_code == 414
    big = client.post("/subscribe", content=b"email=" + b"a" * 20_000,
                      headers={"content-type": "application/x-www-form-urlencoded"})
    assert big.status_code == 413
    assert client.get("/api/search", params={"q": "kernel", "limit": 1000}).status_code == 422


def test_subscribe_without_a_mail_server_says_so_and_stores_nothing(client: TestClient) -> None:
    home = client.get("/").text
    assert 'action="/subscribe"' not in home and 'href="/signin"' not in home  # not offered
    page = client.get("/signin")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    forged = client.post("/subscribe", data={"email": "reader@example.org"})
    assert forged.status_code == 403
    answer = client.post("/subscribe", data={"email": "reader@example.org", "csrf": token})
    assert answer.status_code == 503
    assert "sends no email" in answer.text and "Nothing was stored" in answer.text
    service: Paperboy = client.app.state.service  # type: ignore[attr-defined]
    assert service.store.readers.by_email("reader@example.org") is None


def test_trending_api_page_and_feed_explain_each_paper(client: TestClient) -> None:
    data = client.get("/api/trending", params={"window": "week", "at": "2026-06-14"}).json()
    assert len(data["results"]) == 7
    top = data["results"][0]
    assert top["explanation"] == "8 upvotes on Hugging Face in the 7 days to 2026-06-14"
    assert top["paper"]["url"] == f"{BASE}/papers/{top['id']}"
    page = client.get("/trending", params={"window": "week", "at": "2026-06-14"}).text
    assert top["explanation"] in page and 'aria-current="page"' in page
    assert "window=month" in page and "at=2026-06-14" in page
    assert client.get("/api/trending", params={"window": "year"}).status_code == 422


def test_daily_listing_with_previous_and_next_day(client: TestClient) -> None:
    data = client.get("/api/daily/2026-06-11").json()
    assert data["results"] and all(p["published"].startswith("2026-06-11")
                                   for p in data["results"])
    assert data["previous"] < "2026-06-11" < data["next"]
    page = client.get("/daily/2026-06-11").text
    assert f'href="/daily/{data["previous"]}"' in page and f'href="/daily/{data["next"]}"' in page
    assert client.get("/daily/not-a-date").status_code == 422


def test_listing_api_pages_by_cursor(client: TestClient) -> None:
    seen: list[str] = []
    cursor = None
    for _ in range(4):
        params = {"limit": 50} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/papers", params=params).json()
        seen += [p["id"] for p in page["results"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == min(200, client.get("/healthz").json()["papers"])
    category = client.get("/api/categories/cs.LG", params={"limit": 5}).json()
    assert all("cs.LG" in p["categories"] for p in category["results"])


@pytest.mark.parametrize("path", ["/feeds/trending.xml?window=week",
                                  "/feeds/daily/2026-06-11.xml", "/feeds/categories/cs.LG.xml",
                                  "/feeds/search.xml?q=kernel+thinning"])
def test_feeds_parse_and_link_absolutely(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.feed.title.startswith("Paperboy")
    assert all(link.href.startswith(BASE) for link in feed.feed.links)
    for entry in feed.entries:
        assert entry.link.startswith(f"{BASE}/papers/")
    if "trending" not in path:
        assert feed.entries


def test_openapi_describes_the_api_and_healthz_answers(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/api/search", "/api/papers/{paper_id}", "/api/trending", "/api/daily/{day}",
            "/healthz"} <= set(spec["paths"])
    assert client.get("/healthz").json()["status"] == "ok"


def test_static_assets_are_served_locally(client: TestClient) -> None:
    page = client.get("/").text
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', page):
        assert client.get(asset).status_code == 200, asset
    assert "https://" not in "".join(re.findall(r"<(?:script|link)[^>]*>", page))
    katex_css = client.get("/static/vendor/katex/katex.min.css").text
    font = re.search(r"url\((fonts/[^)]+\.woff2)\)", katex_css).group(1)  # type: ignore[union-attr]
    assert client.get(f"/static/vendor/katex/{font}").status_code == 200


def test_the_demo_home_works_in_a_fresh_folder(tmp_path: Path) -> None:
    service = Paperboy(make_settings(tmp_path / "home"), embedder=HashingEmbedder(dim=64),
                       clock=FixedClock(NOW))
    with TestClient(create_app(service)) as fresh:
        assert "No papers yet" in fresh.get("/").text
        assert fresh.get("/api/search", params={"q": "kernel"}).json()["results"] == []
        assert fresh.get("/api/trending").json()["results"] == []
    service.close()


def test_a_date_known_to_the_month_shows_as_a_month_and_nothing_dangles(
        client: TestClient) -> None:
    page = client.get(f"/papers/{UNDATED['id']}").text
    meta = re.search(r'<p class="meta">(.*?)</p>', page, re.S)
    assert meta is not None
    text = " ".join(re.sub(r"<[^>]+>", "", meta.group(1)).split())
    assert text == "First published 2025-09 · updated 2025-12-01"
    assert 'datetime="2025-09"' in meta.group(1)
    paper = client.get(f"/api/papers/{UNDATED['id']}").json()
    assert (paper["published"][:10], paper["published_precision"]) == ("2025-09-01", "month")
    found = client.get("/search", params={"q": "dated by its arXiv id"}).text
    assert '<time class="date" datetime="2025-09">2025-09</time>' in found


def test_without_a_mail_server_a_mailbox_folder_makes_everything_personal_work(
        tmp_path: Path) -> None:
    """PAPERBOY_SMTP_URL=file:DIR: each email is an .eml file there, and its links work."""
    mailbox = tmp_path / "mail"
    service = Paperboy(make_settings(tmp_path / "home", smtp_url=f"file:{mailbox}",
                                     digest_send_empty=True),
                       embedder=HashingEmbedder(dim=64), clock=FixedClock(NOW))
    service.ingest([str(demo_corpus())])
    with TestClient(create_app(service, base_url=BASE), base_url="https://testserver") as web:
        home = web.get("/").text
        assert 'action="/subscribe"' in home and "once a day" in home
        token = re.search(r'name="csrf" value="([^"]+)"', home).group(1)  # type: ignore[union-attr]
        answer = web.post("/subscribe", data={"email": "ada@example.org", "csrf": token})
        assert answer.status_code == 200, answer.text
        assert mails_sent(web)
        (written,) = mailbox.glob("*.eml")
        assert not mailcheck.problems(written.read_bytes())
        message = BytesParser(policy=policy.default).parsebytes(written.read_bytes())
        assert message["To"] == "ada@example.org" and message["Date"] is not None
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        link = re.search(rf"{re.escape(BASE)}(/confirm\S+)", body.get_content())
        assert link is not None
        confirmed = follow_emailed_link(web, link.group(1))
        assert confirmed.status_code == 200
        reader = service.store.readers.by_email("ada@example.org")
        assert reader is not None and reader["status"] == "active"
        digest_run = service.send_digests(day=NOW.date())
        assert digest_run.as_dict()["sent"] == 1
        assert len(list(mailbox.glob("*.eml"))) == 2
        assert not [p for mail in mailbox.glob("*.eml") for p in mailcheck.problems(
            mail.read_bytes())]
    service.close()


def test_the_api_link_opens_a_page_for_people_served_offline(client: TestClient) -> None:
    home = client.get("/").text
    assert 'href="/api"' in home
    page = client.get("/api")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert client.get("/api/docs").text == page.text
    for shown in ("GET /api/search", "GET /api/papers/{paper_id}", "/openapi.json", "cursor",
                  "curl 'http", "HfApi(endpoint=", "/hf", "HF_HUB_DISABLE_IMPLICIT_TOKEN=1",
                  "/mcp", "GET /hf/api/daily_papers"):
        assert shown in page.text, shown
    assert "<script src=\"http" not in page.text and "cdn" not in page.text.lower()
    paths = client.get("/openapi.json").json()["paths"]
    assert all(f"<code>GET {path}</code>" in page.text for path, item in paths.items()
               if "get" in item)


def test_with_the_mail_server_down_the_answer_is_the_same_and_nobody_is_kept(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    service = Paperboy(make_settings(tmp_path / "home",
                                     smtp_url="smtp://127.0.0.1:9?from=papers@example.org"),
                       embedder=HashingEmbedder(dim=64), clock=FixedClock(NOW))
    service.ingest([str(demo_corpus())])
    known = service.store.readers.create("known@example.org", NOW, confirmed=True)
    app = create_app(service, base_url=BASE)
    app.state.accounts.outbox = Outbox(retry_after_s=(0.05, 0.05))  # tries thrice, quickly
    with TestClient(app, base_url="https://testserver") as web:
        token = re.search(r'name="csrf" value="([^"]+)"',  # type: ignore[union-attr]
                          web.get("/").text).group(1)
        answer = web.post("/subscribe", data={"email": "new@example.org", "csrf": token})
        assert answer.status_code == 200 and "a link is on its way" in answer.text
        signin = web.post("/signin", data={"email": "known@example.org", "csrf": token})
        assert signin.status_code == 200 and "a link is on its way" in signin.text
        assert mails_sent(web)
        assert service.store.readers.by_email("new@example.org") is None  # nobody to confirm
        assert service.store.readers.by_email("known@example.org")["id"] == known["id"]
    given_up = [r.getMessage() for r in caplog.records if "given up" in r.getMessage()]
    assert len(given_up) == 2 and all("failed 3 time(s)" in m for m in given_up), given_up
    service.close()


@pytest.mark.parametrize("url", [
    "/daily/9999-12-31", "/daily/0001-01-01", "/api/daily/9999-12-31",
    "/feeds/daily/9999-12-31.xml", "/api/trending?at=9999-12-31", "/api/trending?at=0001-01-01",
    "/trending?at=9999-12-31", "/api/trending?at=0", "/api/search?q=kernel&from=0001-01-01",
    "/api/search?q=kernel&to=9999-12-31", "/search?q=kernel&from=0001-01-01",
    # cursors holding a time without its zone
    "/api/papers?cursor=WyIyMDI2LTA2LTEyVDAwOjAwOjAwIiwiMjYwNi4wMDAwMSJd",
    "/api/categories/cs.LG?cursor=WyIyMDI2LTA2LTEyIiwieCJd",
])
def test_days_out_of_range_and_naive_cursors_are_refused_not_500(client: TestClient,
                                                                 url: str) -> None:
    answer = client.get(url)
    assert answer.status_code in (400, 422), (url, answer.status_code)
    if url.startswith("/api/"):
        assert answer.json()["error"]["code"] in ("invalid_parameter", "bad_request")
    assert client.get("/healthz").status_code == 200  # the connection still serves


def test_signing_out_ends_the_session_on_the_server_and_everywhere_ends_all(
        tmp_path: Path) -> None:
    mailbox = tmp_path / "mail"
    service = Paperboy(make_settings(tmp_path / "home", smtp_url=f"file:{mailbox}"),
                       embedder=HashingEmbedder(dim=64), clock=FixedClock(NOW))
    service.ingest([str(demo_corpus())])

    def link_in_newest_mail(path: str) -> str:
        assert mails_sent(app)
        newest = max(mailbox.glob("*.eml"), key=lambda f: f.stat().st_mtime_ns)
        message = BytesParser(policy=policy.default).parsebytes(newest.read_bytes())
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        found = re.search(rf"{re.escape(BASE)}({re.escape(path)}\S+)", body.get_content())
        assert found is not None
        return found.group(1)

    def signed_in(_: TestClient, cookie: str) -> bool:
        """Whether this session cookie, sent alone by a client with no cookies, opens the
        account page."""
        with TestClient(app, base_url="https://testserver") as probe:
            page = probe.get("/account", headers={"Cookie": f"pb_session={cookie}"})
        return "Signed in as <strong>ada@example.org</strong>" in page.text

    app = create_app(service, base_url=BASE)
    with TestClient(app, base_url="https://testserver") as web, \
            TestClient(app, base_url="https://testserver") as other:
        token = re.search(r'name="csrf" value="([^"]+)"',  # type: ignore[union-attr]
                          web.get("/").text).group(1)
        web.post("/subscribe", data={"email": "ada@example.org", "csrf": token})
        follow_emailed_link(web, link_in_newest_mail("/confirm"))
        first = web.cookies.get("pb_session")
        assert first and signed_in(web, first)
        # the form token is bound to the session: the one from before signing in is refused
        assert web.post("/signout", data={"csrf": token}).status_code == 403
        assert signed_in(web, first)
        token = re.search(r'name="csrf" value="([^"]+)"',  # type: ignore[union-attr]
                          web.get("/account").text).group(1)
        web.post("/signout", data={"csrf": token})
        assert not signed_in(web, first)  # the old cookie opens nothing any more

        sessions = []
        for client in (web, other):  # two browsers, each signed in by its own link
            csrf = re.search(r'name="csrf" value="([^"]+)"',  # type: ignore[union-attr]
                             client.get("/signin").text).group(1)
            client.post("/signin", data={"email": "ada@example.org", "csrf": csrf})
            follow_emailed_link(client, link_in_newest_mail("/signin/link"))
            csrf = re.search(r'name="csrf" value="([^"]+)"',  # type: ignore[union-attr]
                             client.get("/account").text).group(1)
            sessions.append((client, client.cookies.get("pb_session"), csrf))
        assert all(signed_in(client, cookie) for client, cookie, _ in sessions)
        client, cookie, csrf = sessions[0]
        assert client.post("/signout/everywhere", data={"csrf": csrf}).status_code == 200
        assert not any(signed_in(client, cookie) for client, cookie, _ in sessions)
    service.close()


def test_sign_in_and_subscribe_answer_alike_for_known_and_unknown_before_any_mail_goes(
        tmp_path: Path) -> None:
    """The forms answer before the mail server is even greeted: here it never greets, and
    every answer, for an address that exists or not, has come back already, word for word."""
    import socket

    silent = socket.create_server(("127.0.0.1", 0))  # accepts, and never says a word
    port = silent.getsockname()[1]
    service = Paperboy(make_settings(tmp_path / "home", smtp_url=f"smtp://127.0.0.1:{port}"
                                     "?from=papers@example.org&timeout=60"),
                       embedder=HashingEmbedder(dim=64), clock=FixedClock(NOW))
    service.store.readers.create("known@example.org", NOW, confirmed=True)
    app = create_app(service, base_url=BASE)
    app.state.accounts.outbox = Outbox(retry_after_s=())  # a failed mail is not tried again
    with TestClient(app, base_url="https://testserver") as web:
        token = re.search(r'name="csrf" value="([^"]+)"',  # type: ignore[union-attr]
                          web.get("/signin").text).group(1)
        answers = {(form, address): web.post(form, data={"email": address, "csrf": token})
                   for form in ("/signin", "/subscribe")
                   for address in ("known@example.org", "nobody@example.org")}
        assert all(a.status_code == 200 for a in answers.values())
        for form in ("/signin", "/subscribe"):
            known, unknown = (re.sub(r'value="[^"]*"', "", answers[form, a].text)
                              for a in ("known@example.org", "nobody@example.org"))
            assert known == unknown and "a link is on its way" in known
        silent.settimeout(30)
        held, _ = silent.accept()  # the outbox's first mail: still waiting for a greeting
        assert service.store.readers.by_email("nobody@example.org") is None
        held.close()
        silent.close()  # the mails still queued fail at once
        assert mails_sent(web)
    service.close()


def test_a_form_token_works_only_with_the_cookie_and_session_it_was_made_for(
        client: TestClient) -> None:
    def token_of(web: TestClient) -> str:
        return re.search(r'name="csrf" value="([^"]+)"',  # type: ignore[union-attr]
                         web.get("/signin").text).group(1)

    with TestClient(client.app, base_url="https://testserver") as mine, \
            TestClient(client.app, base_url="https://testserver") as theirs, \
            TestClient(client.app, base_url="https://testserver") as bare:
        token, nonce = token_of(mine), mine.cookies["pb_csrf"]
        assert token != nonce  # the cookie alone does not make the token

        def answer(csrf: str, cookie: str) -> int:
            return bare.post("/signin", data={"email": "csrf@example.org", "csrf": csrf},
                             headers={"Cookie": f"pb_csrf={cookie}"}).status_code

        assert answer("", nonce) == 403
        assert answer(nonce, nonce) == 403  # double submit of the raw cookie value
        assert answer("x" * 64, "x" * 64) == 403  # a cookie set by a sibling site, and its value
        assert answer(token_of(theirs), nonce) == 403  # another browser's token
        assert answer(token, theirs.cookies["pb_csrf"]) == 403  # with another browser's cookie
        assert answer(token, nonce) == 503  # past the check: this server sends no email


def test_every_feed_of_the_store_parses_without_a_flaw(client: TestClient) -> None:
    """Every window, every category and every day the store has, and searches of hostile and
    random text: feedparser reads each with bozo 0."""
    service = client.app.state.service  # type: ignore[attr-defined]
    papers = service.store.papers()
    categories = sorted({c for p in papers for c in p.get("categories") or ()})
    days = sorted({p["published"].date().isoformat() for p in papers if p.get("published")})
    paths = [f"/feeds/trending.xml?window={w}" for w in ("day", "week", "month")]
    paths += [f"/feeds/categories/{c}.xml" for c in categories]
    paths += [f"/feeds/daily/{d}.xml" for d in days[-30:]]
    paths += ["/feeds/search.xml?" + urlencode({"q": q}) for q in (
        HOSTILE["title"], "]]> <!ENTITY x SYSTEM 'file:///etc/passwd'> &x;", "\x0b\x0c\ufffe",
        "zzqqxxyy", "kernel -thinning year:2020-2026 \"a phrase\"")]
    assert len(paths) > 20
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        feed = feedparser.parse(response.content)
        assert not feed.bozo, (path, feed.bozo_exception)
        assert feed.version == "atom10", path


def test_an_author_page_finds_them_whatever_the_case_accents_or_initials(
        client: TestClient) -> None:
    for asked in ("José Raúl Romero", "jose raul romero", "J. R. Romero", "Romero, José"):
        data = client.get(f"/api/authors/{asked}").json()
        assert data["name"] == "José Raúl Romero", asked
        assert "Towards Explainable Test Case Prioritisation with Learning-to-Rank Models" in [
            p["title"] for p in data["results"]]
    assert client.get("/api/authors/M. Romero").status_code == 404  # another given name
    page = client.get("/authors/J.%20R.%20Romero")
    assert page.status_code == 200 and "<h1>José Raúl Romero</h1>" in page.text
    assert 'href="/feeds/authors/J.%20R.%20Romero.xml"' in page.text
    feed = feedparser.parse(client.get("/feeds/authors/J.%20R.%20Romero.xml").content)
    assert not feed.bozo and feed.entries and "José Raúl Romero" in feed.feed.title
    missing = client.get("/authors/Nobody%20Atall")
    assert missing.status_code == 404 and "no paper by an author named" in missing.text
    # every card and paper page links its authors there
    paper = client.get("/papers/2405.13786").text
    assert 'href="/authors/Jos%C3%A9%20Ra%C3%BAl%20Romero"' in paper
    assert 'href="/authors/' in client.get("/papers").text


def test_cards_show_what_sources_said_labelled_with_the_source(client: TestClient) -> None:
    found = client.get("/api/papers/10.2139/ssrn.288970").json()
    assert found["citations"] == 10670  # Semantic Scholar's count
    hf = next(p for p in client.get("/api/trending?window=month").json()["results"]
              if p["paper"] and p["paper"]["summary"])["paper"]
    assert hf["keywords"] and len(hf["keywords"]) <= 8
    page = client.get("/trending?window=month").text
    assert "Summary (Hugging Face):" in page and 'class="keyword"' in page
    listing = client.get("/papers", params={"cursor": None}).text
    while "cited 10,670 (Semantic Scholar)" not in listing and 'rel="next"' in listing:
        cursor = re.search(r'href="/papers\?cursor=([^"]+)"', listing).group(1)  # type: ignore[union-attr]
        listing = client.get("/papers", params={"cursor": cursor}).text
    assert "cited 10,670 (Semantic Scholar)" in listing


def test_search_sorts_its_best_matches_by_a_signal(client: TestClient) -> None:
    first = client.get("/api/search", params={"q": "learning", "limit": 100}).json()
    best = {r["id"] for r in first["results"] + client.get("/api/search", params={
        "q": "learning", "limit": 100, "cursor": first["next_cursor"]}).json()["results"]}
    for sort in ("citations", "upvotes", "stars"):
        found = client.get("/api/search", params={"q": "learning", "sort": sort,
                                                  "limit": 100}).json()
        assert found["sort"] == sort and len(found["results"]) == 100
        assert {r["id"] for r in found["results"]} <= best  # among the best 200 matches
    cited = client.get("/api/search", params={"q": "learning", "sort": "citations"}).json()
    counts = [client.get(f"/api/papers/{r['id']}").json()["citations"] or -1
              for r in cited["results"]]
    assert counts == sorted(counts, reverse=True) and counts[0] > 0
    page = client.get("/search", params={"q": "learning", "sort": "citations"}).text
    assert "most cited first" in page and '<option value="citations" selected>' in page


@pytest.mark.parametrize("path", ["/api/daily/2026-06-12", "/api/categories/cs.LG"])
def test_a_day_or_category_sorts_by_upvotes_stars_or_citations(client: TestClient,
                                                               path: str) -> None:
    newest = client.get(path, params={"limit": 100}).json()["results"]
    for sort, signal in (("upvotes", lambda p: p["upvotes"]),
                         ("stars", lambda p: max((c["stars"] or -1 for c in p["code"]),
                                                 default=-1)),
                         ("citations", lambda p: p["citations"] if p["citations"] is not None
                          else -1)):
        first = client.get(path, params={"sort": sort, "limit": 5}).json()
        rest = client.get(path, params={"sort": sort, "limit": 100,
                                        "cursor": first["next_cursor"]}).json() \
            if first["next_cursor"] else {"results": []}
        shown = first["results"] + rest["results"]
        values = [signal(p) for p in shown]
        assert values == sorted(values, reverse=True), sort
        assert {p["id"] for p in shown} == {p["id"] for p in newest}, sort  # the same papers
    page = client.get(path.replace("/api", ""), params={"sort": "upvotes"}).text
    assert "<strong>upvotes</strong>" in page and "?sort=stars" in page
    assert client.get(path, params={"sort": "random"}).status_code == 422


@pytest.mark.parametrize("paper_id", ["2202.12139", HOSTILE["id"]])
def test_a_paper_page_carries_citation_metadata_for_citation_managers(
        client: TestClient, paper_id: str) -> None:
    card = client.get(f"/api/papers/{paper_id}").json()
    page = lxml.html.fromstring(client.get(f"/papers/{paper_id}").text)
    meta = [(m.get("name"), m.get("content"))
            for m in page.xpath("//head/meta[starts-with(@name, 'citation_')]")]
    tags = dict(meta)
    assert tags["citation_title"] == card["title"]  # hostile text too, as text
    assert [v for k, v in meta if k == "citation_author"] == card["authors"]
    assert tags["citation_publication_date"] == card["published"][:10].replace("-", "/")
    assert tags["citation_arxiv_id"] == card["arxiv_id"] == paper_id
    assert tags["citation_pdf_url"] == card["links"]["pdf"]
    assert tags["citation_abstract_html_url"] == card["links"]["abstract"]
    assert tags.get("citation_doi") == card["doi"]
    assert tags.get("citation_journal_title") == (card["journal_ref"] or card["venue"])
    assert not page.xpath("//head//script[not(@src)]")  # nothing of the title ran
    (span,) = page.xpath("//span[@class='Z3988']")
    coins = parse_qs(span.get("title"))
    assert coins["ctx_ver"] == ["Z39.88-2004"] and coins["rft.atitle"] == [card["title"]]
    assert coins["rft.au"] == card["authors"] and coins["rft.date"] == [card["published"][:10]]
    assert f"info:arxiv/{paper_id}" in coins["rft_id"]
    (ris,) = rispy.loads(client.get(f"/papers/{paper_id}.ris").text)
    assert ris["title"] == card["title"]
    assert [a.split(", ")[0] for a in ris["authors"]] == [a.split()[-1] for a in card["authors"]]
    (csl,) = json.loads(client.get(f"/papers/{paper_id}.json").text)
    assert csl["title"] == card["title"] and len(csl["author"]) == len(card["authors"])
    markdown = client.get(f"/papers/{paper_id}.md")
    assert markdown.headers["content-type"] == "text/markdown; charset=utf-8"
    assert markdown.text.splitlines()[0].startswith("# ") and "<script>" not in markdown.text
    other = client.get(f"/papers/{paper_id}.docx", follow_redirects=False)  # not a format:
    assert other.status_code == 301 and other.headers["location"] == f"/papers/{paper_id}"
