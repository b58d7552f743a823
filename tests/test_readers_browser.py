"""Readers end to end: real Chromium (Playwright) against `paperboy serve`, with a real SMTP
server (aiosmtpd) on 127.0.0.1 taking every email Paperboy sends.

The server runs in a subprocess over a home holding the demo listing and every recorded fixture
(vectors from the hashing embedder); `PAPERBOY_BASE_URL` points at it, so the links in the
emails are links a test can open. A reader subscribes, confirms, follows, saves, upvotes,
changes their digest, signs out and in and deletes their account, all through the pages; a
digest sent by `paperboy digest send` is opened in Chromium and measured on a narrow screen;
its one-click unsubscribe URL is posted as a mail client would. Another imports a Zotero BibTeX
export, reads its recommendations on `/for-you`, mutes an author, follows one from a card, reads
its private feed and sees a saved paper's new version. Pages opened through the `page`
fixture must log no console error, uncaught exception or Content Security Policy violation.
Screenshots land in `test-artifacts/screenshots/` (account.png, digest.png, digest-phone.png).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httpx
import mailcheck
import pytest
from browser import free_port, screenshot, serving, watched_page
from conftest import PAPER_FIXTURES, follow_emailed_link, make_settings
from playwright.sync_api import Browser, Page, expect
from smtpserver import EphemeralController, Inbox

from paperboy.service import Paperboy, demo_corpus

MODEL = "hashing-64"
DIGEST_READER = "grace@example.org"  # follows "kernel" and cs.SE; gets the digest opened
TESTING_DL = "2202.12139"  # "Testing Deep Learning Models: ...", cs.SE, in the arXiv API fixture


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("readers") / "home"
    service = Paperboy(make_settings(home, embedding_model=MODEL))
    try:
        summaries = service.ingest([str(demo_corpus()), *map(str, PAPER_FIXTURES)])
        assert not any(s.failed for s in summaries), [s.errors for s in summaries]
        service.embed()
    finally:
        service.close()
    return home


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server for the whole module (conftest's `smtp_server` is per test)."""
    inbox = Inbox()
    controller = EphemeralController(inbox, hostname="127.0.0.1", port=0,
                                     server_hostname="mx.test")
    controller.start()
    yield inbox, controller.port
    controller.stop()
    for mail in inbox.received:  # as a mail provider reads the bytes (tests/mailcheck.py)
        assert not mailcheck.problems(mail.content), mailcheck.problems(mail.content)


@pytest.fixture(scope="module")
def inbox(smtp: tuple[Inbox, int]) -> Inbox:
    return smtp[0]


@pytest.fixture(scope="module")
def server_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def env(smtp: tuple[Inbox, int], server_port: int) -> dict[str, str]:
    """The environment of every `paperboy` subprocess: one home, one mail server, one URL."""
    return {**os.environ, "PAPERBOY_DATABASE_URL": "", "PAPERBOY_EMBEDDING_MODEL": MODEL,
            "PAPERBOY_SMTP_URL": f"smtp://127.0.0.1:{smtp[1]}?from=digest@paperboy.test",
            "PAPERBOY_BASE_URL": f"http://127.0.0.1:{server_port}"}


@pytest.fixture(scope="module")
def server(home: Path, env: dict[str, str], server_port: int) -> Iterator[str]:
    with serving(home, server_port, env) as url:
        yield url


def _paperboy(home: Path, env: dict[str, str], *args: str) -> str:
    """Run the CLI against the server's home; returns its stdout, failing on a non-zero exit."""
    done = subprocess.run([sys.executable, "-m", "paperboy", "--home", str(home), *args],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"paperboy {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture
def page(browser: Browser, server: str, problems: list[str]) -> Iterator[Page]:
    with watched_page(browser, server, problems) as page:
        yield page


def _mails(inbox: Inbox, to: str) -> list[EmailMessage]:
    return [message_from_bytes(m.content, policy=policy.default)  # type: ignore[misc]
            for m in inbox.received if to in m.rcpt_tos]


def _next_mail(inbox: Inbox, to: str, seen: int, subject: str) -> EmailMessage:
    """The mail after the first `seen` to this address (sent while the page answered)."""
    deadline = time.monotonic() + 10
    while len(mails := _mails(inbox, to)) <= seen:
        assert time.monotonic() < deadline, f"no new mail to {to}"
        time.sleep(0.05)
    assert len(mails) == seen + 1, [m["Subject"] for m in mails[seen:]]
    assert mails[seen]["Subject"] == subject
    return mails[seen]


def _body(message: EmailMessage, kind: str) -> str:
    return message.get_body(preferencelist=(kind,)).get_content()  # type: ignore[union-attr]


def _link(message: EmailMessage, server: str, path: str) -> str:
    """The link to `path` in an email: absolute, on the server the test runs."""
    found = re.search(rf"{re.escape(server)}{re.escape(path)}\?token=\S+", _body(message, "plain"))
    assert found, f"no {server}{path} link in:\n{_body(message, 'plain')}"
    return found.group()


def _request_sign_in(page: Page, email: str) -> None:
    page.goto("/signin")
    page.get_by_role("main").get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.locator("main .notice")).to_contain_text("Check your inbox")


def _status(page: Page) -> str:
    return page.locator("main p", has_text="Signed in as").locator("strong").nth(1).inner_text()


def _open_link(page: Page, link: str) -> None:
    """Open an emailed link and press the button of the page it opens (a prefetch of the link
    spends nothing: only that POST does)."""
    page.goto(link)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()


def _subscribe(page: Page, inbox: Inbox, server: str, typed: str) -> str:
    """Subscribe through the box every page has; returns the emailed confirmation link."""
    page.goto("/")
    page.locator("aside.subscribe").get_by_label("Email address").fill(typed)
    page.get_by_role("button", name="Subscribe").click()
    expect(page.locator("main .notice")).to_contain_text("Check your inbox")
    confirmation = _next_mail(inbox, typed.lower(), 0, "Confirm your Paperboy subscription")
    assert confirmation["From"] == "digest@paperboy.test"
    return _link(confirmation, server, "/confirm")


def _delete_account(page: Page) -> None:
    page.goto("/account")
    page.get_by_label("Delete my account, follows, library and votes").check()
    page.get_by_role("button", name="Delete my account").click()
    expect(page.locator("h1")).to_have_text("Your account is deleted")


def test_a_reader_subscribes_follows_saves_and_leaves_through_the_pages(
        page: Page, inbox: Inbox, server: str) -> None:
    email = "ada@example.org"
    _open_link(page, _subscribe(page, inbox, server, "Ada@Example.org"))
    expect(page).to_have_url(f"{server}/account?welcome=1")
    expect(page.locator("main .notice")).to_contain_text("Your address is confirmed")
    expect(page.locator("main")).to_contain_text(f"Signed in as {email}")
    assert _status(page) == "active"
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Account")) \
        .to_be_visible()

    follows = page.locator("ul.follows li")
    expect(follows).to_have_count(0)
    expect(page.locator("p.empty").first).to_have_text(
        "Nothing yet: your digest will hold trending papers only.")
    for kind, value in (("query", "kernel thinning"), ("category", "stat.ML")):
        page.get_by_label("Follow a").select_option(kind)
        page.get_by_label("Topic, category or author").fill(value)
        page.get_by_role("button", name="Follow", exact=True).click()
        expect(follows.filter(has_text=value)).to_have_count(1)
    expect(follows).to_have_count(2)
    assert [text.split()[0] for text in follows.all_inner_texts()] == ["query", "category"]

    page.get_by_role("search").get_by_label("Search papers").fill("kernel thinning")
    page.keyboard.press("Enter")
    first = page.locator("#results article .card-title a").first
    title = first.inner_text()
    first.click()
    expect(page.locator("h1")).to_have_text(title)
    paper_id = page.locator("article.paper").get_attribute("data-paper")
    assert paper_id and page.url == f"{server}/papers/{paper_id}"
    actions = page.locator(".paper .actions")
    save = actions.get_by_role("button", name="Save", exact=True)
    upvote = actions.get_by_role("button", name=re.compile("Upvote"))
    saved_in = page.locator(".paper .saved-in")
    expect(actions.get_by_label("Save to")).to_have_value("Library")  # the default collection
    expect(saved_in).to_have_count(0)
    save.click()
    expect(saved_in).to_have_text(re.compile(r"^Saved in: Library\s+remove$"))
    expect(upvote).to_have_text("▲ Upvote")
    expect(page.locator(".paper .upvotes")).to_have_count(0)
    upvote.click()
    expect(upvote).to_have_text("▲ Upvoted")
    expect(upvote).to_have_attribute("aria-pressed", "true")
    expect(saved_in).to_contain_text("Library")  # saving kept its state
    expect(page.locator(".paper .upvotes")).to_have_text("▲ 1 upvote")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Account").click()
    library = page.locator("section[aria-labelledby=library-title] li a")
    expect(library).to_have_text([title])
    expect(library).to_have_attribute("href", f"/papers/{paper_id}")
    expect(follows).to_have_count(2)

    page.get_by_label("Hour").select_option(label="07:00")
    page.get_by_label("Time zone").select_option("Asia/Tokyo")
    page.locator("section[aria-labelledby=digest-title]").get_by_role("button", name="Save") \
        .click()
    expect(page).to_have_url(f"{server}/account")
    expect(page.get_by_label("Hour")).to_have_value("7")
    expect(page.get_by_label("Time zone")).to_have_value("Asia/Tokyo")
    expect(page.locator("aside.subscribe")).to_contain_text(f"Sent to {email} at 07:00 "
                                                            "(Asia/Tokyo)")
    screenshot(page, "account")

    page.get_by_role("button", name="Pause the digest").click()
    expect(page.get_by_role("button", name="Resume the digest")).to_be_visible()
    assert _status(page) == "paused"
    expect(page.locator("aside.subscribe")).to_contain_text(f"Paused for {email}")
    page.get_by_role("button", name="Resume the digest").click()
    expect(page.get_by_role("button", name="Pause the digest")).to_be_visible()
    assert _status(page) == "active"

    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page).to_have_url(f"{server}/")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign in")) \
        .to_be_visible()
    page.goto("/account")
    expect(page).to_have_url(f"{server}/signin")

    _request_sign_in(page, email)
    sign_in = _next_mail(inbox, email, 1, "Your Paperboy sign-in link")
    sign_in_link = _link(sign_in, server, "/signin/link")
    _open_link(page, sign_in_link)
    expect(page).to_have_url(f"{server}/account")
    expect(page.locator("main")).to_contain_text(f"Signed in as {email}")
    expect(library).to_have_text([title])
    expect(follows).to_have_count(2)
    expect(page.get_by_label("Time zone")).to_have_value("Asia/Tokyo")

    delete = page.get_by_role("button", name="Delete my account")
    delete.click()  # not ticked: the browser refuses to submit the form
    expect(page).to_have_url(f"{server}/account")
    assert page.get_by_label("Delete my account, follows, library and votes") \
        .evaluate("box => !box.validity.valid")
    _delete_account(page)
    page.goto("/account")
    expect(page).to_have_url(f"{server}/signin")
    paper = httpx.get(f"{server}/api/papers/{paper_id}").json()
    assert paper["local_upvotes"] == 0, "the deleted reader's vote still counts"

    # The earlier sign-in link names an account that is gone; asking again sends nothing.
    with httpx.Client() as anyone:
        gone = follow_emailed_link(anyone, sign_in_link)
    assert gone.status_code == 400 and "This link does not work" in gone.text
    assert "pb_session" not in gone.headers.get("set-cookie", "")
    _request_sign_in(page, email)
    page.goto("/account")
    expect(page).to_have_url(f"{server}/signin")
    # Paperboy hands a mail to the SMTP server before it answers: none came, none will.
    assert len(_mails(inbox, email)) == 2, "a deleted address was mailed a link"


def test_the_page_after_deleting_an_account_shows_no_trace_of_it(
        page: Page, inbox: Inbox, server: str) -> None:
    _open_link(page, _subscribe(page, inbox, server, "eve@example.org"))
    _delete_account(page)
    # the page is rendered by the server: nothing on it changes after it loaded
    navigation = page.get_by_role("navigation", name="Main")
    assert navigation.get_by_role("link", name="Account").count() == 0
    assert navigation.get_by_role("link", name="Sign in").count() == 1
    assert "eve@example.org" not in page.locator("aside.subscribe").inner_text()
    assert page.get_by_role("button", name="Subscribe").is_visible()


def test_an_emailed_link_signs_in_only_once(browser: Browser, inbox: Inbox, server: str) -> None:
    # Contexts of their own: the refused link answers 400, which Chromium logs as an error.
    reader, other = (browser.new_context(base_url=server) for _ in range(2))
    try:
        page = reader.new_page()
        confirm = _subscribe(page, inbox, server, "mallory@example.org")
        _open_link(page, confirm)
        expect(page).to_have_url(f"{server}/account?welcome=1")
        _request_sign_in(page, "mallory@example.org")
        sign_in = _link(_next_mail(inbox, "mallory@example.org", 1, "Your Paperboy sign-in link"),
                        server, "/signin/link")
        _open_link(page, sign_in)
        expect(page).to_have_url(f"{server}/account")

        # Whoever finds either link later (a forwarded mail, a shared computer's history):
        later = other.new_page()
        for link in (confirm, sign_in):
            _open_link(later, link)
            assert later.locator("h1").inner_text() == "This link does not work", link
            later.goto("/account")
            assert later.url == f"{server}/signin"
    finally:
        reader.close()
        other.close()


@pytest.fixture(scope="module")
def digest(home: Path, env: dict[str, str], server: str, inbox: Inbox) -> EmailMessage:
    """Today's digest of a reader following "kernel" and cs.SE, sent by `paperboy digest send`.

    The reader is added in this process, as `paperboy readers add` would; the digest is sent by
    the CLI in a subprocess with the server's environment, so its links point at the server."""
    service = Paperboy(make_settings(home, embedding_model=MODEL))
    try:
        reader = service.store.readers.create(DIGEST_READER, datetime.now(UTC), confirmed=True)
        assert service.follow(reader["id"], "query", "kernel")
        assert service.follow(reader["id"], "category", "cs.SE")  # arXiv papers, with links
    finally:
        service.close()
    run = json.loads(_paperboy(home, env, "digest", "send", "--date", date.today().isoformat(),
                               "--json"))
    assert run["failed"] == run["temporary"] == 0 and run["sent"] >= 1, run
    (mail,) = _mails(inbox, DIGEST_READER)
    return mail


def _fits(page: Page) -> None:
    scroll, inner = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert scroll <= inner, f"the digest is {scroll} px wide on a {inner} px screen"


def _ids_with_reason(page: Page, why: str) -> list[str]:
    """The papers of the digest given this reason, from its "Paperboy" links."""
    links = page.locator("p", has_text=f"Why: {why}").get_by_role("link", name="Paperboy",
                                                                    exact=True)
    return [href.rsplit("/papers/", 1)[1]
            for href in links.evaluate_all("links => links.map(a => a.href)")]


def test_the_digest_shows_followed_papers_with_links_and_fits_a_phone(
        browser: Browser, digest: EmailMessage, server: str, tmp_path: Path) -> None:
    text, html = _body(digest, "plain"), _body(digest, "html")
    ids = re.findall(rf"^\s+{re.escape(server)}/papers/(\S+)", text, flags=re.MULTILINE)
    assert ids and len(ids) == len(set(ids)), text
    assert len(re.findall(r"^  Why: ", text, flags=re.MULTILINE)) == len(ids), text
    path = tmp_path / "digest.html"
    path.write_text(html, encoding="utf-8")

    context = browser.new_context(viewport={"width": 600, "height": 900})
    page = context.new_page()
    try:
        page.goto(path.as_uri())
        expect(page.get_by_role("heading", name="New on what you follow")).to_be_visible()
        papers = {paper_id: httpx.get(f"{server}/api/papers/{paper_id}").json()
                  for paper_id in ids}
        for paper_id, paper in papers.items():
            links = page.locator(f'a[href="{server}/papers/{paper_id}"]')
            expect(links).to_have_count(2)  # the title, and "Paperboy" beside the reason
            assert " ".join(links.first.inner_text().split()) == " ".join(paper["title"].split())
            arxiv = page.locator(f'a[href="https://arxiv.org/abs/{paper_id}"]')
            expect(arxiv).to_have_count(1 if paper["links"].get("abstract") else 0)
        assert TESTING_DL in papers, "a followed arXiv paper is missing"
        expect(page.locator(f'a[href="https://arxiv.org/abs/{TESTING_DL}"]')).to_have_text("arXiv")
        followed = _ids_with_reason(page, "matches your topic “kernel”")
        assert followed, "no paper matched the followed topic"
        for paper_id in followed:
            words = f"{papers[paper_id]['title']} {papers[paper_id]['abstract']}".lower()
            assert "kernel" in words, papers[paper_id]["title"]
        in_category = _ids_with_reason(page, "in cs.SE, which you follow")
        assert TESTING_DL in in_category
        assert all("cs.SE" in papers[paper_id]["categories"] for paper_id in in_category)
        expect(page.locator(f'a[href="{server}/account"]')).to_have_count(1)
        unsubscribe = digest["List-Unsubscribe"].strip("<>")
        expect(page.get_by_role("link", name="Unsubscribe")).to_have_attribute("href",
                                                                               unsubscribe)
        _fits(page)
        screenshot(page, "digest")
        page.set_viewport_size({"width": 390, "height": 844})
        _fits(page)
        screenshot(page, "digest-phone")

        # A title in the email leads to the paper's page on this Paperboy.
        page.locator(f'a[href="{server}/papers/{TESTING_DL}"]').first.click()
        expect(page).to_have_url(f"{server}/papers/{TESTING_DL}")
        expect(page.locator("h1")).to_have_text(papers[TESTING_DL]["title"])
    finally:
        context.close()


def test_one_click_unsubscribe_from_the_digest_pauses_it(
        page: Page, digest: EmailMessage, inbox: Inbox, server: str) -> None:
    # served over http here: RFC 8058 offers one click for https only, so no header says so;
    # the POST a provider would send still works (tests/test_digest.py has the https header)
    assert "List-Unsubscribe-Post" not in digest
    unsubscribe = digest["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith(f"{server}/unsubscribe?token=")
    _request_sign_in(page, DIGEST_READER)
    sign_in = _next_mail(inbox, DIGEST_READER, 1, "Your Paperboy sign-in link")
    _open_link(page, _link(sign_in, server, "/signin/link"))
    expect(page).to_have_url(f"{server}/account")
    assert _status(page) == "active"

    # Opening the link (a mail scanner may fetch it) only shows a button; it stops nothing.
    page.goto(unsubscribe)
    expect(page.get_by_role("button", name="Unsubscribe")).to_be_visible()
    page.goto("/account")
    assert _status(page) == "active"

    answer = httpx.post(unsubscribe, content=b"List-Unsubscribe=One-Click",
                        headers={"content-type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200 and "You are unsubscribed" in answer.text
    page.reload()
    assert _status(page) == "paused"
    expect(page.get_by_role("button", name="Resume the digest")).to_be_visible()
    expect(page.locator("aside.subscribe")).to_contain_text(f"Paused for {DIGEST_READER}")


def test_a_reader_imports_a_library_mutes_follows_an_author_and_reads_their_own_feed(
        page: Page, inbox: Inbox, server: str, home: Path, env: dict[str, str],
        tmp_path: Path) -> None:
    import feedparser

    email = "hana@example.org"
    _open_link(page, _subscribe(page, inbox, server, email))
    expect(page).to_have_url(f"{server}/account?welcome=1")

    # a Zotero BibTeX export into the library, through the account page's form
    library = Path(__file__).parent / "data" / "library" / "zotero.bib"
    page.locator("input[type=file][name=file]").set_input_files(str(library))
    page.get_by_role("button", name="Import into my library").click()
    report = page.locator("main [role=status]")
    expect(report).to_contain_text("zotero.bib (bibtex): 5 matched")
    expect(report).to_contain_text("4 added to your library")
    expect(report).to_contain_text("line 50: not a BibTeX entry")
    expect(page.locator("section[aria-labelledby=library-title] ol li")).to_have_count(4)

    # the page "for you" recommends from that library, each with its reason
    page.goto("/for-you")
    recommended = page.locator("section[aria-labelledby=for-you-recommended] article.card")
    expect(recommended.first).to_be_visible()
    expect(page.locator("section[aria-labelledby=for-you-recommended] .why").first) \
        .to_contain_text("in your library")
    muted_paper = recommended.first.get_attribute("data-paper")
    author = recommended.first.locator(".authors a").first.inner_text()

    # mute its first author: the paper leaves the page
    page.goto("/account#mutes")
    page.get_by_label("Mute a").select_option("author")
    page.get_by_label("Word, author or category").fill(author)
    page.get_by_role("button", name="Mute", exact=True).click()
    expect(page.locator("ul.mutes li").filter(has_text=author)).to_have_count(1)
    page.goto("/for-you")
    expect(page.locator(f"article.card[data-paper='{muted_paper}']")).to_have_count(0)
    expect(page.locator("main .notice")).to_contain_text("hidden by your mutes")

    # dismissing one in place (htmx): its place on the page says so; a reload has it gone
    item = page.locator("section[aria-labelledby=for-you-recommended] .for-you-item").first
    gone = item.locator("article.card").get_attribute("data-paper")
    item.get_by_role("button", name="Not interested").click()
    expect(page.locator(".for-you-item.done").first).to_contain_text("Dismissed")
    expect(page).to_have_url(f"{server}/for-you")
    page.reload()
    expect(page.locator(f"article.card[data-paper='{gone}']")).to_have_count(0)

    # follow an author from a card: their page, its follow button, the account lists them
    page.goto("/papers/2405.13786")
    page.locator("p.authors a", has_text="José Raúl Romero").click()
    expect(page.locator("h1")).to_have_text("José Raúl Romero")
    page.get_by_role("button", name="Follow José Raúl Romero").click()
    expect(page.locator("ul.follows li").filter(has_text="José Raúl Romero")).to_have_count(1)

    # the private feed, read by a feed reader with no cookie
    address = page.get_by_label("Your private feed's address").input_value()
    feed = feedparser.parse(httpx.get(address, timeout=30).content)
    assert not feed.bozo and feed.entries
    assert muted_paper not in {e.link.rsplit("/", 1)[-1] for e in feed.entries}

    # a saved paper gets a new version: "Updates to your papers" on the page
    (line,) = [json.loads(raw) for raw in (Path(PAPER_FIXTURES[4])).read_text(
        encoding="utf-8").splitlines() if '"id":"0704.0028"' in raw]
    line["versions"].append({"version": "v3", "created": "Mon, 30 Nov 2026 05:00:00 GMT"})
    newer = tmp_path / "newer.jsonl"
    newer.write_text(json.dumps(line) + "\n", encoding="utf-8")
    _paperboy(home, env, "ingest", str(newer))
    page.goto("/for-you")
    updates = page.locator("section[aria-labelledby=for-you-updates]")
    expect(updates).to_contain_text("Pfaffians, hafnians and products of real linear functionals")
    expect(updates).to_contain_text("new version v3")
    screenshot(page, "for-you")
    page.goto("/papers/0704.0028")
    expect(page.locator("section.updates")).to_contain_text("new version v3")
