"""Collections: a reader's library as named collections on both databases, each with its own
recommendations and digest section; saving to, renaming, merging and deleting them from the
web, the JSON API and the CLI; a library from before collections moves to the default one."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

import feedparser
import listparser
import pytest
from alembic import command
from conftest import (
    NOW,
    PAPER_FIXTURES,
    follow_emailed_link,
    mails_sent,
    make_settings,
    newest_link,
)
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from paperboy.cli import app as cli
from paperboy.clock import FixedClock
from paperboy.digest.render import render
from paperboy.embed import HashingEmbedder
from paperboy.service import Paperboy
from paperboy.store.db import _alembic_config, engine_for, migrate
from paperboy.store.library import DEFAULT, CollectionError, Library
from paperboy.web.app import create_app

BASE = "https://papers.example.org"
LIBRARY_BIB = Path(__file__).parent / "data" / "library" / "zotero.bib"


def test_collections_hold_papers_and_rename_merge_and_delete_keep_the_others(
        database_url: str) -> None:
    engine = engine_for(database_url)
    migrate(engine)
    library = Library(engine)
    assert library.collections(1) == {DEFAULT: 0}  # the default one is always there
    assert library.save(1, "p1", NOW) and not library.save(1, "p1", NOW)
    assert library.save(1, "p2", NOW, "  Kernel   methods ")  # whitespace collapsed
    assert library.save(1, "p1", NOW, "Kernel methods")  # one paper, two collections
    assert library.save(1, "p3", NOW, "attention")
    library.save(2, "p9", NOW, "Kernel methods")  # another reader's, untouched below
    assert library.collections(1) == {DEFAULT: 1, "attention": 1, "Kernel methods": 2}
    assert library.papers(1) == sorted(library.papers(1)) == ["p1", "p2", "p3"]  # each once
    assert library.papers(1, "Kernel methods") == ["p1", "p2"]
    assert library.of_paper(1, "p1") == ["Kernel methods", DEFAULT]

    library.rename(1, "attention", "Attention")
    assert library.papers(1, "Attention") == ["p3"] and "attention" not in library.collections(1)
    assert library.merge(1, "Kernel methods", DEFAULT) == 1  # p1 was there already
    assert library.collections(1) == {DEFAULT: 2, "Attention": 1}
    library.save(1, "p2", NOW, "Attention")
    assert library.delete(1, "Attention") == 2
    assert library.papers(1) == ["p1", "p2"]  # p2 kept: it is in the default one too
    assert library.delete(1, DEFAULT) == 2 and library.collections(1) == {DEFAULT: 0}
    assert library.collections(2) == {DEFAULT: 0, "Kernel methods": 1}
    library.unsave(2, "p9")
    assert library.papers(2) == []

    with pytest.raises(CollectionError, match="no collection named 'Nope'"):
        library.merge(1, "Nope", DEFAULT)
    with pytest.raises(CollectionError, match="at most 100 characters"):
        library.save(1, "p1", NOW, "x" * 101)
    with pytest.raises(CollectionError, match="control characters"):
        library.save(1, "p1", NOW, "bad\x00name")
    engine.dispose()


def test_a_library_from_before_collections_moves_into_the_default_one(database_url: str) -> None:
    engine = engine_for(database_url)
    config = _alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0010")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO library (reader_id, paper_id, added_at) VALUES "
                          "(1, '2202.12139', :at), (1, '0704.0028', :at), (2, '0704.0028', :at)"),
                     {"at": NOW})
    migrate(engine)
    library = Library(engine)
    assert library.collections(1) == {DEFAULT: 2}
    assert set(library.papers(1, DEFAULT)) == {"2202.12139", "0704.0028"}
    assert library.save(1, "2202.12139", NOW, "Reading")  # the new key allows it
    with engine.begin() as conn:  # and back down: each paper once, in the old table
        config.attributes["connection"] = conn
        command.downgrade(config, "0010")
        rows = conn.execute(text("SELECT reader_id, paper_id FROM library")).all()
    assert sorted(rows) == [(1, "0704.0028"), (1, "2202.12139"), (2, "0704.0028")]
    engine.dispose()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Paperboy]:
    paperboy = Paperboy(make_settings(tmp_path / "home", arxiv_api_url="http://127.0.0.1:9/api",
                                      smtp_url=f"file:{tmp_path / 'mail'}", base_url=BASE),
                        embedder=HashingEmbedder(dim=64), clock=FixedClock(NOW))
    paperboy.ingest([str(p) for p in PAPER_FIXTURES])
    paperboy.embed()
    yield paperboy
    paperboy.close()


def _two_collections(service: Paperboy) -> int:
    """A reader with one paper in the default collection and two in "Kernels"."""
    reader = int(service.store.readers.create("ada@example.org", NOW, confirmed=True)["id"])
    service.store.library.save(reader, "0704.0028", NOW)
    service.store.library.save(reader, "2202.12139", NOW, "Kernels")
    service.store.library.save(reader, "2302.03287", NOW, "Kernels")
    return reader


def test_each_collection_has_its_own_recommendations_and_digest_section(
        service: Paperboy) -> None:
    reader = _two_collections(service)
    digest = service.for_you(reader)
    parts = [p for p in digest.parts() if p.section == "recommended"]
    assert [(p.heading, p.collection) for p in parts] == [
        (f"Recommended for “{DEFAULT}”", DEFAULT), ("Recommended for “Kernels”", "Kernels")]
    titles = {pid: row["title"] for pid, row in service.store.papers_by_ids(
        ["0704.0028", "2202.12139", "2302.03287"]).items()}
    assert all(item.why == f"close to “{titles['0704.0028']}” in your library"
               for item in parts[0].items)
    assert all(re.fullmatch(rf"close to “({re.escape(titles['2202.12139'])}|"
                            rf"{re.escape(titles['2302.03287'])})” in your collection “Kernels”",
                            item.why) for item in parts[1].items)
    shown = [item.paper["id"] for part in parts for item in part.items]
    assert len(shown) == len(set(shown)) and not set(shown) & set(titles)
    html, plain = render(digest, base_url=BASE, unsubscribe_url=f"{BASE}/unsubscribe")
    assert "Recommended for “Kernels”" in html and "RECOMMENDED FOR “KERNELS”" in plain

    service.store.library.delete(reader, "Kernels")  # one collection: one plain section
    parts = [p for p in service.for_you(reader).parts() if p.section == "recommended"]
    assert [p.heading for p in parts] == ["Recommended for you"]


def _signed_in(service: Paperboy, web: TestClient) -> str:
    """Sign ada in through the emailed link; the page's CSRF token."""
    token = re.search(r'name="csrf" value="([^"]+)"',  # type: ignore[union-attr]
                      web.get("/signin").text).group(1)
    web.post("/signin", data={"email": "ada@example.org", "csrf": token})
    assert mails_sent(web)
    follow_emailed_link(web, newest_link(
        Path(service.settings.smtp_url.removeprefix("file:")), BASE, "/signin/link"))
    return re.search(r'name="csrf" value="([^"]+)"',  # type: ignore[union-attr]
                     web.get("/account").text).group(1)


def test_collections_on_the_web_and_the_api(service: Paperboy) -> None:
    reader = _two_collections(service)
    library = service.store.library
    with TestClient(create_app(service, base_url=BASE), base_url="https://testserver") as web:
        assert web.get("/api/library").status_code == 401
        token = _signed_in(service, web)
        page = web.get("/papers/2405.13786").text  # the paper page offers every collection
        assert 'name="collection"' in page and '<option value="Kernels">' in page
        saved = web.post("/papers/2405.13786/save", data={"csrf": token, "collection": "New one"},
                         follow_redirects=False)
        assert saved.status_code == 303 and library.papers(reader, "New one") == ["2405.13786"]
        page = web.get("/papers/2405.13786").text
        assert "Saved in:" in page and 'aria-label="Remove from New one"' in page
        assert web.post("/papers/2405.13786/save", data={"csrf": token, "collection": "\x07"}
                        ).status_code == 400

        account = web.get("/account").text
        for name in (DEFAULT, "Kernels", "New one"):
            assert f">{name} <span" in account
        assert "/account/library.bib?collection=Kernels" in account
        # each collection's recommendations as a private feed, read by a real feed client
        feed_url = html.unescape(re.search(  # type: ignore[union-attr]
            r'href="(https://papers\.example\.org/feeds/private/[^"]+\?collection=Kernels)"',
            account).group(1))
        with TestClient(web.app, base_url="https://testserver") as nobody:  # no cookie
            feed = feedparser.parse(nobody.get(feed_url.removeprefix(BASE)).content)
            assert nobody.get(feed_url.removeprefix(BASE).replace("Kernels", "Nope")
                              ).status_code == 404
        assert not feed.bozo and feed.feed.title == "Paperboy: recommended for “Kernels”"
        (kernels,) = [p for p in service.for_you(reader).parts() if p.collection == "Kernels"]
        assert [e.link.rsplit("/", 1)[-1] for e in feed.entries] == [
            i.paper["id"] for i in kernels.items]
        assert all("in your collection “Kernels”" in e.summary for e in feed.entries)
        opml = listparser.parse(web.get("/account/feeds.opml").content)
        assert {f.title for f in opml.feeds} >= {"Paperboy: your digest",
                                                 "Paperboy: recommended for “Kernels”"}
        data = web.get("/api/library").json()
        assert data["default"] == DEFAULT
        assert [(c["name"], c["count"]) for c in data["collections"]] == [
            (DEFAULT, 1), ("Kernels", 2), ("New one", 1)]
        bib = web.get("/api/library/export", params={"collection": "Kernels"})
        assert bib.headers["content-type"].startswith("application/x-bibtex")
        assert bib.text.count("\n@") + bib.text.startswith("@") == 2
        assert 'filename="paperboy-library-Kernels.bib"' in bib.headers["content-disposition"]
        everything = web.get("/api/library/export", params={"format": "csl-json"})
        assert len(json.loads(everything.text)) == 4
        missing = web.get("/account/library.ris", params={"collection": "Nope"})
        assert missing.status_code == 404
        assert "no collection named 'Nope'" in html.unescape(missing.text)

        renamed = web.post("/account/collections/rename", data={
            "csrf": token, "name": "Kernels", "new_name": "Kernel methods"},
            follow_redirects=False)
        assert renamed.headers["location"] == "/account#library"
        assert set(library.papers(reader, "Kernel methods")) == {"2302.03287", "2202.12139"}
        refused = web.post("/account/collections/rename", data={
            "csrf": token, "name": DEFAULT, "new_name": "Other"})
        assert refused.status_code == 400 and "keeps its name" in html.unescape(refused.text)
        web.post("/account/collections/merge", data={"csrf": token, "name": "New one",
                                                     "into": "Kernel methods"})
        assert list(library.collections(reader)) == [DEFAULT, "Kernel methods"]
        web.post("/account/collections/delete", data={"csrf": token, "name": "Kernel methods"})
        assert library.collections(reader) == {DEFAULT: 1}
        assert web.post("/account/collections/delete", data={"csrf": "forged", "name": DEFAULT}
                        ).status_code == 403
        assert library.papers(reader) == ["0704.0028"]

        imported = web.post("/account/library/import", data={"csrf": token,
                                                             "collection": "From Zotero"},
                            files={"file": ("zotero.bib", LIBRARY_BIB.read_bytes())})
        assert "4 added to “From Zotero”" in html.unescape(imported.text)
        assert library.collections(reader)["From Zotero"] == 4


def test_collections_from_the_cli(service: Paperboy, tmp_path: Path) -> None:
    reader = _two_collections(service)
    home = ["--home", str(service.settings.home)]
    env = {"PAPERBOY_ARXIV_API_URL": "http://127.0.0.1:9/api"}
    service.close()
    run = CliRunner().invoke
    done = run(cli, [*home, "readers", "import", "ada@example.org", str(LIBRARY_BIB),
                     "--no-fetch", "--collection", "Zotero"], env=env)
    assert done.exit_code == 0 and "4 added to Zotero" in " ".join(done.output.split())
    done = run(cli, [*home, "readers", "collections", "ada@example.org", "--json"], env=env)
    assert json.loads(done.output) == [{"name": DEFAULT, "papers": 1},
                                       {"name": "Kernels", "papers": 2},
                                       {"name": "Zotero", "papers": 4}]
    out = tmp_path / "kernels.json"
    done = run(cli, [*home, "readers", "export", "ada@example.org", "--collection", "Kernels",
                     "--format", "csl-json", "-o", str(out)], env=env)
    assert done.exit_code == 0 and len(json.loads(out.read_text())) == 2
    done = run(cli, [*home, "readers", "collections", "ada@example.org",
                     "--rename", "Zotero", "Reading", "--merge", "Kernels", "Reading"], env=env)
    assert done.exit_code == 0 and "Reading: 6 papers" in done.output
    done = run(cli, [*home, "readers", "collections", "ada@example.org", "--delete", "Reading"],
               env=env)
    assert done.exit_code == 0 and done.output.strip() == f"{DEFAULT}: 1 paper"
    for args, said in ((["export", "ada@example.org", "--collection", "Nope"],
                        "no collection named 'Nope'"),
                       (["collections", "ada@example.org", "--rename", DEFAULT, "X"],
                        "keeps its name"),
                       (["import", "ada@example.org", str(LIBRARY_BIB), "--collection",
                         "y" * 101], "at most 100 characters")):
        done = run(cli, [*home, "readers", *args], env=env)
        assert done.exit_code == 2 and said in done.output and "Traceback" not in done.output
    reopened = Paperboy(make_settings(service.settings.home), clock=FixedClock(NOW))
    assert reopened.store.library.collections(reader) == {DEFAULT: 1}
    reopened.close()
