"""A reader's library in and out: exports written by hand in Zotero's BibTeX, Mendeley's RIS,
Zotero's CSL-JSON and a plain list of ids (tests/data/library), matched to stored papers,
fetched from a real local arXiv API when missing, and exported back losslessly; from the CLI
and the account page."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import (
    FIXTURES,
    LISTING,
    NOW,
    PAPER_FIXTURES,
    follow_emailed_link,
    make_settings,
    newest_link,
)
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paperboy.cli import app as cli
from paperboy.clock import FixedClock
from paperboy.embed import HashingEmbedder
from paperboy.readers.library_formats import EXPORT_FORMATS, LibraryFileError, read_entries
from paperboy.service import Paperboy
from paperboy.web.app import create_app
from tests.httpserver import LocalServer, Reply

DATA = Path(__file__).parent / "data" / "library"
BASE = "https://papers.example.org"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Paperboy]:
    paperboy = Paperboy(make_settings(tmp_path / "home", arxiv_api_url="http://127.0.0.1:9/api",
                                      smtp_url=f"file:{tmp_path / 'mail'}"),
                        embedder=HashingEmbedder(dim=64), clock=FixedClock(NOW))
    paperboy.ingest([str(p) for p in PAPER_FIXTURES])
    yield paperboy
    paperboy.close()


def _reader(service: Paperboy, email: str = "ada@example.org") -> int:
    return int(service.store.readers.create(email, NOW, confirmed=True)["id"])


@pytest.mark.parametrize(("name", "fmt", "matched", "unmatched", "problems"), [
    # the two Ramírez entries (one a duplicate by title) match one paper
    ("zotero.bib", "bibtex", {"2405.13786", "0704.0028", "10.2139/ssrn.2250500",
                              "10.2139/ssrn.288970"}, ["line 43"], ["line 50"]),
    ("mendeley.ris", "ris", {"2302.03287", "2204.08348", "2606.11409"}, ["line 26"], []),
    ("zotero.json", "csl-json", {"10.1257/rct.1355", "0704.0028"}, ["item 3"], ["item 4"]),
    ("ids.txt", "list", {"2405.13786", "2302.03287", "2204.08348", "10.2139/ssrn.288970",
                         "2606.11409"}, [], ["line 7"]),
])
def test_each_export_matches_by_arxiv_id_doi_then_title_and_names_the_rest(
        service: Paperboy, name: str, fmt: str, matched: set[str], unmatched: list[str],
        problems: list[str]) -> None:
    reader = _reader(service)
    report = service.import_library(reader, (DATA / name).read_bytes(), name=name, fetch=False)
    assert report.format == fmt
    assert {paper_id for _, paper_id in report.matched} == matched
    assert [where for where, _ in report.unmatched] == unmatched
    assert [p.split(":")[0] for p in report.problems] == problems
    assert set(service.store.library.papers(reader)) == matched
    assert report.added == len(matched)
    again = service.import_library(reader, (DATA / name).read_bytes(), name=name, fetch=False)
    assert again.added == 0 and len(again.matched) == len(report.matched)  # idempotent


def test_accents_braces_and_strings_of_bibtex_are_read_as_text() -> None:
    fmt, entries, _ = read_entries((DATA / "zotero.bib").read_bytes())
    first = entries[0]
    assert first.title == "Towards Explainable Test Case Prioritisation with Learning-to-Rank " \
                          "Models"
    assert first.authors == ["Aurora Ramírez", "Mario Berrios", "José Raúl Romero"]
    assert (first.arxiv_id, first.doi, first.year) == ("2405.13786",
                                                       "10.1109/icstw58534.2023.00023", 2024)
    assert entries[1].arxiv_id == "0704.0028"  # from its arXiv URL, version dropped


def test_missing_arxiv_papers_are_fetched_from_the_arxiv_api(tmp_path: Path) -> None:
    with LocalServer() as arxiv:
        arxiv.route("/api/query", Reply.file(FIXTURES / "arxiv_api_query.xml"))
        service = Paperboy(make_settings(tmp_path / "home",
                                         arxiv_api_url=arxiv.url("/api/query")),
                           embedder=HashingEmbedder(dim=64), clock=FixedClock(NOW))
        service.ingest([str(LISTING)])
        reader = _reader(service)
        report = service.import_library(reader, b"2202.12139\nhttps://arxiv.org/abs/2005.14124"
                                                b"v2\n2612.99999\n", name="ids.txt")
        query = arxiv.requests_to("/api/query")[0].query["search_query"][0]
        assert query == "id:2005.14124 OR id:2202.12139 OR id:2612.99999"
    assert [paper_id for _, paper_id in report.fetched] == ["2202.12139", "2005.14124"]
    assert report.unmatched == [("line 3", "2612.99999: arXiv has no paper 2612.99999")]
    assert set(service.store.library.papers(reader)) == {"2202.12139", "2005.14124"}
    service.close()


def test_offline_the_missing_ones_are_reported_not_invented(service: Paperboy) -> None:
    reader = _reader(service)
    report = service.import_library(reader, b"2405.13786\n2612.00001\n", name="ids.txt")
    assert [p for _, p in report.matched] == ["2405.13786"]
    ((where, why),) = report.unmatched
    assert where == "line 2" and "arXiv 2612.00001 could not be fetched" in why


@pytest.mark.parametrize("fmt", sorted(EXPORT_FORMATS))
def test_export_then_import_gives_back_the_same_papers_and_fields(service: Paperboy,
                                                                  fmt: str) -> None:
    reader = _reader(service)
    for name in ("zotero.bib", "mendeley.ris", "zotero.json"):
        service.import_library(reader, (DATA / name).read_bytes(), name=name, fetch=False)
    library = service.store.library.papers(reader)
    text = service.export_library(reader, fmt)
    _, entries, problems = read_entries(text.encode())
    assert problems == [] and len(entries) == len(library)
    papers = service.store.papers_by_ids(library)
    for entry, paper_id in zip(entries, library, strict=True):
        paper = papers[paper_id]
        assert (entry.title, entry.authors, entry.arxiv_id, entry.doi) == (
            paper["title"], paper["authors"], paper["arxiv_id"], paper["doi"]), fmt
        assert entry.year == (paper["published"].year if paper["published"] else None)
    other = _reader(service, "bob@example.org")
    report = service.import_library(other, text.encode(), name=f"export.{fmt}", fetch=False)
    assert report.unmatched == [] and set(service.store.library.papers(other)) == set(library)


def test_broken_files_get_a_clear_error_naming_them() -> None:
    for data, said in ((b"", "the file is empty"), (b"\xff\xfe\x00", "not UTF-8"),
                       (b"hello\nworld\n", "neither BibTeX, RIS, CSL-JSON nor a list"),
                       (b"[" * 100_000, "not JSON")):
        with pytest.raises(LibraryFileError, match=said):
            read_entries(data, name="upload")


def test_the_cli_imports_and_exports_and_says_what_did_not_match(service: Paperboy,
                                                                 tmp_path: Path) -> None:
    _reader(service)
    home = ["--home", str(service.settings.home)]
    env = {"PAPERBOY_DATABASE_URL": "", "PAPERBOY_EMBEDDING_MODEL": "hashing-64",
           "PAPERBOY_ARXIV_API_URL": "http://127.0.0.1:9/api", "COLUMNS": "200"}
    done = CliRunner().invoke(cli, [*home, "readers", "import", "ada@example.org",
                                    str(DATA / "mendeley.ris"), "--no-fetch"], env=env)
    assert done.exit_code == 0, done.output
    assert "mendeley.ris (ris): 3 matched, 0 fetched from arXiv, 1 unmatched; 3 added" in \
        done.stdout
    assert "unmatched, line 26: A paper Paperboy has never seen" in done.stderr
    out = tmp_path / "library.json"
    done = CliRunner().invoke(cli, [*home, "readers", "export", "ada@example.org", "--format",
                                    "csl-json", "-o", str(out)], env=env)
    assert done.exit_code == 0 and len(json.loads(out.read_text())) == 3
    for args, said in ((["import", "ada@example.org", str(tmp_path / "none.bib")],
                        "no such file"),
                       (["import", "nobody@example.org", str(DATA / "ids.txt")],
                        "no reader with the address"),
                       (["export", "ada@example.org", "--format", "docx"], "use one of")):
        done = CliRunner().invoke(cli, [*home, "readers", *args], env=env)
        assert done.exit_code == 2 and said in done.output and "Traceback" not in done.output


def test_the_account_page_uploads_an_export_and_downloads_the_library(
        service: Paperboy) -> None:
    service.store.readers.create("ada@example.org", NOW, confirmed=True)
    app = create_app(service, base_url=BASE)
    with TestClient(app, base_url="https://testserver") as web:
        token = re.search(r'name="csrf" value="([^"]+)"',  # type: ignore[union-attr]
                          web.get("/signin").text).group(1)
        web.post("/signin", data={"email": "ada@example.org", "csrf": token})
        assert app.state.accounts.outbox.wait_idle()
        link = newest_link(Path(service.settings.smtp_url.removeprefix("file:")), BASE,
                           "/signin/link")
        assert follow_emailed_link(web, link).url.path == "/account"
        page = web.get("/account").text
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        assert 'action="/account/library/import"' in page
        answer = web.post("/account/library/import", data={"csrf": token},
                          files={"file": ("zotero.bib", (DATA / "zotero.bib").read_bytes())})
        assert answer.status_code == 200
        assert "zotero.bib (bibtex): 5 matched, 0 fetched from arXiv, 1 unmatched; 4 added" \
            in answer.text
        assert "line 43: The book: no stored paper has this title" in answer.text
        assert "line 50: not a BibTeX entry" in answer.text
        bib = web.get("/account/library.bib")
        assert bib.headers["content-type"].startswith("application/x-bibtex")
        assert "attachment" in bib.headers["content-disposition"]
        assert bib.text.count("@") == 4 and "Ramírez" in bib.text
        assert len(json.loads(web.get("/account/library.json").text)) == 4
        big = web.post("/account/library/import", data={"csrf": token},
                       files={"file": ("big.txt", b"2302.03287\n" + (
                           b"# " + b"x" * 1000 + b"\n") * 2000)})  # 2 MB, past the 16 kB
        assert big.status_code == 200 and "1 matched" in big.text
        refused = web.post("/account/library/import", data={"csrf": token},
                           files={"file": ("huge.txt", b"x" * (5 << 20))})
        assert refused.status_code == 413
        broken = web.post("/account/library/import", data={"csrf": token},
                          files={"file": ("photo.jpg", b"\xff\xd8\xff\xe0")})
        assert broken.status_code == 400 and "photo.jpg: not UTF-8 text" in broken.text
        assert web.get("/account/library.docx").status_code == 404
    with TestClient(app, base_url="https://testserver") as stranger:
        assert stranger.get("/account/library.bib", follow_redirects=False
                            ).headers["location"] == "/signin"


def test_readers_mute_from_the_cli(service: Paperboy) -> None:
    reader = _reader(service)
    env = {"PAPERBOY_DATABASE_URL": "", "PAPERBOY_EMBEDDING_MODEL": "hashing-64"}
    home = ["--home", str(service.settings.home)]
    done = CliRunner().invoke(cli, [*home, "readers", "mute", "ada@example.org", "--word",
                                    "benchmark", "--author", "Ada Lovelace", "--category",
                                    "cs.CR", "--word", "benchmark"], env=env)
    assert done.exit_code == 0 and "3 new mutes" in done.stdout, done.output
    assert {(m["kind"], m["value"]) for m in service.store.readers.mutes([reader])} == {
        ("word", "benchmark"), ("author", "Ada Lovelace"), ("category", "cs.CR")}
    done = CliRunner().invoke(cli, [*home, "readers", "mute", "ada@example.org", "--word",
                                    " "], env=env)
    assert done.exit_code == 2 and "cannot be muted" in done.output
