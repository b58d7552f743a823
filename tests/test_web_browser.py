"""The web app in a real browser: Chromium, driven by Playwright, against `paperboy serve`.

One server per module, over a home holding the demo listing, every recorded fixture and four
freshly published papers with local upvotes at different times (the fixture papers are too old
for any trending window). Each test does what a reader does and checks what they see; every
page a test opens must also log no console error, no uncaught exception and no Content Security
Policy violation. Full-page screenshots land in `test-artifacts/screenshots/`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import unquote_plus

import pytest
from browser import free_port, screenshot, serving, watched_page
from conftest import PAPER_FIXTURES, make_settings
from playwright.sync_api import Browser, Page, expect

from paperboy.service import Paperboy, demo_corpus

SERVER_ENV = {"PAPERBOY_DATABASE_URL": "", "PAPERBOY_EMBEDDING_MODEL": "hashing-64"}
HOSTILE_PAPER = "0704.9999"  # a title whose LaTeX asks for a 3000 em box
MATH_PAPER = "0704.0005"  # Kaggle fixture: "From dyadic $\Lambda_{\alpha}$ to $\Lambda_{\alpha}$"

# Papers first published in the last days, each upvoted by `votes` readers `voted` ago, so that
# the day, week and month windows list different papers: day {speech, conformal}, week adds
# video, month adds retrieval.
FRESH = {
    "speech": {"title": "Streaming speech tokenizers for on-device translation",
               "category": "cs.CL", "age": timedelta(days=1), "votes": 2,
               "voted": timedelta(hours=2)},
    "video": {"title": "Sparse video diffusion with learned motion priors",
              "category": "cs.CV", "age": timedelta(days=3), "votes": 4,
              "voted": timedelta(days=3)},
    "retrieval": {"title": "Late-interaction retrieval at billion scale",
                  "category": "cs.IR", "age": timedelta(days=20), "votes": 3,
                  "voted": timedelta(days=12)},
    "conformal": {"title": "Calibrated conformal prediction under distribution drift",
                  "category": "stat.ML", "age": timedelta(days=2), "votes": 1,
                  "voted": timedelta(minutes=30)},
}


def _fresh_snapshot(path: Path, now: datetime) -> dict[str, str]:
    """A Kaggle-style JSON Lines file of the FRESH papers; returns their arXiv ids by key."""
    ids = {}
    with path.open("w") as out:
        for number, (key, paper) in enumerate(FRESH.items(), 1):
            created = now - paper["age"]
            ids[key] = f"{created:%y%m}.9{number:04d}"
            out.write(json.dumps({
                "id": ids[key], "submitter": "Ada Lovelace", "authors": "Ada Lovelace, Alan Turing",
                "title": paper["title"], "comments": None, "journal-ref": None, "doi": None,
                "report-no": None, "categories": paper["category"], "license": None,
                "abstract": f"We study {paper['title'].lower()} and report what we found.",
                "versions": [{"version": "v1", "created": format_datetime(created, usegmt=True)}],
                "update_date": created.date().isoformat(), "authors_parsed": [],
            }) + "\n")
    return ids


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("web") / "home"
    now = datetime.now(UTC)
    snapshot = home.parent / "fresh.jsonl"
    fresh = _fresh_snapshot(snapshot, now)
    service = Paperboy(make_settings(home, embedding_model=SERVER_ENV["PAPERBOY_EMBEDDING_MODEL"]))
    try:
        hostile = home.parent / "hostile.jsonl"
        hostile.write_text(json.dumps({
            "id": HOSTILE_PAPER, "authors": "Mallory", "categories": "math.CO",
            "title": r"Zebra boxes $\rule{3000em}{3000em}$ everywhere",
            "abstract": r"A zebra $\rule{3000em}{3000em}$ in the abstract too.",
            "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 10:00:00 GMT"}]}) + "\n")
        sources = [str(demo_corpus()), *map(str, PAPER_FIXTURES), str(snapshot), str(hostile)]
        summaries = service.ingest(sources)
        assert not any(s.failed for s in summaries), [s.errors for s in summaries]
        service.embed()
        for key, paper in FRESH.items():
            for reader in range(paper["votes"]):
                assert service.store.signals.vote(f"reader{reader}@example.org", fresh[key],
                                                  now - paper["voted"])
    finally:
        service.close()
    return home


@pytest.fixture(scope="module")
def server(home: Path) -> Iterator[str]:
    with serving(home, free_port(), {**os.environ, **SERVER_ENV}) as url:
        yield url


@pytest.fixture
def page(request: pytest.FixtureRequest, browser: Browser, server: str,
         problems: list[str]) -> Iterator[Page]:
    size = getattr(request, "param", {"width": 1280, "height": 900})
    with watched_page(browser, server, problems, viewport=size) as page:
        yield page


def _mark_document(page: Page) -> None:
    """Tag the loaded document, so a later check can tell whether the page was reloaded."""
    page.evaluate("window.__sameDocument = true")


def _same_document(page: Page) -> bool:
    return page.evaluate("window.__sameDocument === true")


def _result_titles(page: Page) -> list[str]:
    return page.locator("#results article .card-title").all_inner_texts()


def _type_query(page: Page, query: str) -> None:
    box = page.locator("#q")
    box.clear()
    box.press_sequentially(query, delay=40)


def test_typing_a_query_updates_the_results_in_place(page: Page) -> None:
    page.goto("/search")
    _mark_document(page)
    _type_query(page, "kernel thinning")
    results = page.locator("#results article .card-title")
    expect(results.first).to_contain_text("Kernel Thinning")
    first = _result_titles(page)

    _type_query(page, "speech tokenizers")
    expect(results).not_to_have_text(first)
    expect(results.first).to_have_text(FRESH["speech"]["title"])
    expect(page).to_have_url(re.compile(r"/search\?q=speech(\+|%20)tokenizers(&|$)"))
    assert _same_document(page), "the results came with a page load"
    screenshot(page, "search")

    # The pushed URL is one a reader can reload or share: it shows the same results.
    second = _result_titles(page)
    page.reload()
    expect(page.locator("#q")).to_have_value("speech tokenizers")
    assert _result_titles(page) == second


def test_back_and_forward_restore_the_query_filters_and_results(page: Page) -> None:
    page.goto("/search")
    assert page.locator("input[type=search]").count() == 1  # one search box on this page
    _type_query(page, "kernel thinning")
    expect(page.locator("#results article .card-title").first).to_contain_text("Kernel Thinning")
    page.get_by_label("has code").check()
    expect(page).to_have_url(re.compile(r"has_code=true"))
    page.wait_for_load_state("networkidle")
    with_code = _result_titles(page)
    page.get_by_label("has code").uncheck()
    _type_query(page, "speech tokenizers")
    expect(page.locator("#results article .card-title").first).to_have_text(
        FRESH["speech"]["title"])

    def shows_its_url() -> None:
        """What the page shows is what its URL says (once the history entry has loaded)."""
        query = re.search(r"[?&]q=([^&]*)", page.url)
        expect(page.locator("#q")).to_have_value(unquote_plus(query.group(1)) if query else "")
        expect(page.get_by_label("has code")).to_be_checked(checked="has_code=true" in page.url)

    for _ in range(6):  # typing may have pushed a state or two in between
        page.go_back()
        shows_its_url()
        if "has_code=true" in page.url:
            break
    expect(page.locator("#q")).to_have_value("kernel thinning")
    expect(page.locator("#results article .card-title").first).to_have_text(with_code[0])
    assert _result_titles(page) == with_code
    while "speech" not in page.url:
        page.go_forward()
        shows_its_url()
    expect(page.locator("#q")).to_have_value("speech tokenizers")
    expect(page.locator("#results article .card-title").first).to_have_text(
        FRESH["speech"]["title"])


def test_a_pasted_arxiv_id_or_url_opens_the_paper(page: Page) -> None:
    page.goto("/search")
    page.locator("#q").fill(f"https://arxiv.org/abs/{MATH_PAPER}v2")
    expect(page).to_have_url(re.compile(rf"/papers/{re.escape(MATH_PAPER)}$"))
    expect(page.locator("h1")).to_contain_text("dyadic")
    page.goto(f"/search?q={MATH_PAPER}")  # the header box, or a link, likewise
    expect(page).to_have_url(re.compile(rf"/papers/{re.escape(MATH_PAPER)}$"))


def test_category_filter_narrows_the_results_to_that_category(page: Page) -> None:
    page.goto("/search?q=kernel")
    hits = page.locator("#results article")
    expect(hits).to_have_count(20)
    _mark_document(page)

    page.get_by_label("Category").fill("cs.LG")
    expect(page).to_have_url(re.compile(r"category=cs\.LG"))
    expect(hits).not_to_have_count(20)
    expect(hits.filter(has_not=page.get_by_role("link", name="cs.LG", exact=True))) \
        .to_have_count(0)
    assert hits.count() > 0
    assert _same_document(page)


def test_has_code_and_date_filters_narrow_the_results(page: Page) -> None:
    page.goto("/search?q=kernel")
    hits = page.locator("#results article")
    expect(hits).to_have_count(20)

    page.get_by_label("has code").check()
    expect(page).to_have_url(re.compile(r"has_code=true"))
    expect(hits.filter(has_not=page.get_by_role("link", name=re.compile(r"^code")))) \
        .to_have_count(0)
    assert hits.count() > 0

    page.get_by_label("has code").uncheck()
    # the server's clock is the wall clock: the recorded fixtures' papers may be newer than
    # today (the tests are run on shifted clocks too), so the week is closed on both ends
    today = datetime.now(UTC).date()
    since = today - timedelta(days=7)
    page.get_by_label("To").fill(today.isoformat())
    page.get_by_label("From").fill(since.isoformat())
    this_week = {paper["title"] for paper in FRESH.values() if paper["age"] < timedelta(days=7)}
    expect(hits).to_have_count(len(this_week))
    assert set(_result_titles(page)) == this_week
    for meta in hits.locator(".meta").all_inner_texts():
        published = re.search(r"\d{4}-\d{2}-\d{2}", meta)
        assert published and since <= date.fromisoformat(published.group()) <= today, meta


def test_a_similar_paper_leads_to_that_papers_page(page: Page) -> None:
    page.goto("/search?q=kernel+thinning")
    first = page.locator("#results article .card-title a").first
    title = first.inner_text()
    first.click()
    expect(page).to_have_url(re.compile(r"/papers/"))
    expect(page.locator("h1")).to_have_text(title)
    screenshot(page, "paper")

    similar = page.locator("ol.similar-list li a")
    expect(similar.first).to_be_visible()
    here = page.url
    link = similar.first
    name, href = link.inner_text(), link.get_attribute("href")
    link.click()
    expect(page).to_have_url(re.compile(re.escape(href) + "$"))
    assert page.url != here
    expect(page.locator("h1")).to_have_text(name)


def test_next_and_previous_page_through_distinct_results(page: Page) -> None:
    page.goto("/search?q=kernel")
    links = page.locator("#results article .card-title a")
    expect(links).to_have_count(20)
    first_page = [link.get_attribute("href") for link in links.all()]
    expect(page.get_by_role("link", name="Previous")).to_have_count(0)
    _mark_document(page)

    page.get_by_role("link", name="Next").click()
    expect(page.locator("#results .sub")).to_contain_text("Results 21–40")
    expect(page).to_have_url(re.compile(r"[?&]page=2(&|$)"))
    second_page = [link.get_attribute("href") for link in links.all()]
    assert len(second_page) == len(set(second_page)) == 20
    assert not set(first_page) & set(second_page), "page 2 repeats results of page 1"
    expect(page.get_by_role("link", name="Previous")).to_be_visible()
    assert _same_document(page)

    page.get_by_role("link", name="Previous").click()
    expect(page.locator("#results .sub")).to_contain_text("Results 1–20")
    assert [link.get_attribute("href") for link in links.all()] == first_page


def test_trending_window_links_switch_the_list(page: Page) -> None:
    titles = page.locator("ol.trending-full .card-title")
    current = page.locator("nav.windows [aria-current=page]")
    page.goto("/trending?window=day")
    expect(current).to_have_text("day")
    expect(page.locator("h1")).to_have_text("Trending this day")
    expect(titles).to_have_count(2)
    day = titles.all_inner_texts()
    assert set(day) == {FRESH["speech"]["title"], FRESH["conformal"]["title"]}

    page.locator("nav.windows").get_by_role("link", name="week").click()
    expect(current).to_have_text("week")
    expect(titles).to_have_count(3)
    assert set(titles.all_inner_texts()) == set(day) | {FRESH["video"]["title"]}

    page.locator("nav.windows").get_by_role("link", name="month").click()
    expect(current).to_have_text("month")
    expect(titles).to_have_count(4)
    assert set(titles.all_inner_texts()) == {paper["title"] for paper in FRESH.values()}
    expect(page.locator("nav.windows [aria-current]")).to_have_count(1)


def test_latex_in_an_abstract_is_rendered_without_errors(page: Page,
                                                         problems: list[str]) -> None:
    page.goto(f"/papers/{MATH_PAPER}")
    abstract = page.locator(".abstract")
    expect(abstract.locator(".katex").first).to_be_visible()
    assert abstract.locator(".katex-error").count() == 0
    expect(page.locator("h1 .katex")).to_have_count(2)
    outside_math = abstract.evaluate("element => { const copy = element.cloneNode(true); "
                                     "copy.querySelectorAll('.katex').forEach(k => k.remove()); "
                                     "return copy.textContent; }")
    assert "$" not in outside_math, "some LaTeX was left as source"
    page.locator("details.bibtex summary").click()
    expect(page.locator("#bibtex")).to_contain_text("@")
    assert problems == []


def test_latex_in_results_that_arrive_as_you_type_is_rendered(page: Page) -> None:
    page.goto("/search")
    _type_query(page, "modular forms fourier coefficients")
    expect(page.locator("#results article").first).to_be_visible()
    expect(page.locator("#results .lead .katex").first).to_be_visible()


def test_keyboard_reaches_skip_link_and_header_search(page: Page) -> None:
    page.goto("/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0, "the focused skip link is hidden"

    search_box = page.locator("#quick-q")
    for _ in range(10):
        if search_box.evaluate("element => element === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(search_box).to_be_focused()
    page.keyboard.type("kernel thinning")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?q=kernel(\+|%20)thinning"))
    expect(page.locator("#results article .card-title").first).to_contain_text("Kernel Thinning")


@pytest.mark.parametrize("page", [{"width": 390, "height": 844}], indirect=True)
@pytest.mark.parametrize("path", ["/", "/search?q=kernel", f"/papers/{MATH_PAPER}",
                                  "/trending?window=month"])
def test_phone_viewport_has_no_horizontal_scrolling(page: Page, path: str) -> None:
    page.goto(path)
    if path.startswith("/search"):  # the filters fold away until asked for
        expect(page.locator("#filters")).not_to_have_attribute("open", "")
        expect(page.get_by_label("has code")).to_be_hidden()
        results = page.locator("#results article").first.bounding_box()
        assert results is not None and results["y"] < 844, "the results start below the fold"
    widths = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{path} is {widths[0]} px wide on a {widths[1]} px screen"
    if path == "/":
        screenshot(page, "home-phone")


def test_home_shows_latest_and_trending_papers(page: Page) -> None:
    page.goto("/")
    expect(page.locator("#latest-title")).to_contain_text("Latest papers")
    expect(page.locator("section article.card").first).to_be_visible()
    expect(page.locator("ol.trending-list li")).to_have_count(3)
    screenshot(page, "home")


@pytest.mark.parametrize("path", [f"/papers/{HOSTILE_PAPER}", "/search?q=zebra+boxes"])
def test_latex_cannot_grow_a_card_or_title_beyond_its_box(page: Page, path: str) -> None:
    page.goto(path)
    title = page.locator("h1" if path.startswith("/papers") else "#results article").first
    expect(title.locator(".katex").first).to_be_visible()
    box = title.bounding_box()
    assert box is not None and box["height"] < 400 and box["width"] <= 1280, box
    widths = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1]
