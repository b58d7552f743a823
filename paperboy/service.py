"""The composition root: one `Paperboy` object wires settings, store, indexes and the embedder.

The command line, the web app and scheduled jobs all call this object; none of them opens a
database, an index or a model by itself. Everything is opened on first use, so a command that
only counts papers never loads the model.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from paperboy.clock import Clock, system_clock
from paperboy.digest.compose import Digest
from paperboy.digest.mailbox import mail_transport
from paperboy.digest.render import render as render_digest
from paperboy.digest.run import Composer, DigestRun, next_day, send_digests
from paperboy.embed import Embedder, EmbedderUnavailable
from paperboy.embed.job import EmbedSummary, embed_missing
from paperboy.index.authors import family_name, same_author
from paperboy.index.health import IndexHealth
from paperboy.index.hybrid import MAX_DEPTH, Mode, Searcher, SearchResult, Sort
from paperboy.index.lexical import LexicalIndex, LexicalIndexBusy, LexicalIndexDamaged
from paperboy.index.milvus import reindex_milvus, sync_milvus
from paperboy.index.milvus_search import MilvusSearcher, open_milvus
from paperboy.index.sync import following_ingest, sync_lexical, sync_vectors
from paperboy.index.vectors import HnswIndex, VectorIndex
from paperboy.ingest.runner import SourceSummary, ingest
from paperboy.models import Filters
from paperboy.progress import Progress, Silent
from paperboy.readers.accounts import Links, secret_key
from paperboy.readers.library_formats import read_entries, write_library
from paperboy.readers.library_import import ImportReport, import_entries
from paperboy.readers.mutes import Mutes
from paperboy.settings import Settings
from paperboy.signals.cache import TrendingCache
from paperboy.signals.github import GitHubStars
from paperboy.signals.refresh import RefreshSummary, refresh_stars, waiting_note
from paperboy.signals.trending import TrendingEntry, trending
from paperboy.store import Store

ARXIV_IDS_PER_QUERY = 50  # papers asked of the arXiv API at once when importing a library
REBUILDING_NOTICE = ("the word index was found damaged and is being rebuilt from the store: "
                     "until it is done, papers not yet refilled are missing from word matches")


def demo_corpus() -> Path:
    """The listing Paperboy ships as its demo corpus (194 papers about kernels)."""
    return Path(str(resources.files("paperboy") / "data" / "demo_listing.txt"))


def demo_sources() -> list[Path]:
    """Everything `paperboy demo` loads: the listing, recent papers with dates, authors and
    categories (so the daily and category pages have something to show), and Hugging Face
    daily papers of the same days with their upvotes and GitHub stars (so trending has)."""
    data = resources.files("paperboy") / "data"
    return [demo_corpus(), Path(str(data / "demo_recent.jsonl")),
            Path(str(data / "demo_hf_daily.json"))]


def demo_embedder(service: Paperboy) -> Embedder | None:
    """The configured model behind the demo papers' shipped vectors, when they are that
    model's; None otherwise (the demo then embeds with the model as any home does)."""
    from paperboy.embed.precomputed import Precomputed, load_table

    model, table = load_table(Path(str(resources.files("paperboy") / "data" /
                                       "demo_vectors.npz")))
    if model != service.settings.embedding_model:
        return None
    return Precomputed(model, table, load=service.embedder)


class Paperboy:
    def __init__(self, settings: Settings, *, embedder: Embedder | None = None,
                 progress: Progress | None = None, clock: Clock = system_clock) -> None:
        """`embedder` replaces the configured model and `clock` the system clock (tests pass
        a small deterministic model and a fixed time)."""
        self.settings = settings
        self.clock = clock
        self.progress = progress or Silent()
        self._embedder = embedder
        self._embedder_error: EmbedderUnavailable | None = None
        self._vectors: VectorIndex | None = None
        self._papers: int | None = None  # cached count, reset by ingest
        self._trending = TrendingCache()
        self.index_health = IndexHealth(clock)

    def fresh(self) -> Paperboy:
        """Another service with these settings, model, progress and clock, nothing opened yet
        (for a process forked from this one: what this one opened does not cross a fork)."""
        return Paperboy(self.settings, embedder=self._embedder, progress=self.progress,
                        clock=self.clock)

    @cached_property
    def store(self) -> Store:
        if not self.settings.database_url:
            self.settings.home.mkdir(parents=True, exist_ok=True)
        return Store.open(self.settings.store_url)

    @property
    def index_dir(self) -> Path:
        return self.settings.home / "index"

    @cached_property
    def lexical(self) -> LexicalIndex:
        index = LexicalIndex.open(self.index_dir / "lexical", texts=self.store.texts)
        damaged = index.rebuilt_reason not in (None, "the index is new")
        self.index_health.opened("word", index.rebuilt_reason if damaged else None)
        if damaged:
            self.progress.note(f"the word index was rebuilt from the store: "
                               f"{index.rebuilt_reason}")
        try:
            sync_lexical(self.store, index, self.progress)
        except LexicalIndexBusy:
            self.progress.note("another paperboy process is updating the word index; "
                               "searching it as it is")
        return index

    @property
    def model_name(self) -> str:
        return self._embedder.name if self._embedder else self.settings.embedding_model

    def embedder(self) -> Embedder:
        """The embedding model, loaded once; raises EmbedderUnavailable (once, then remembered)."""
        if self._embedder is None:
            if self._embedder_error is not None:
                raise self._embedder_error
            from paperboy.embed.loader import load_embedder

            try:
                self._embedder = load_embedder(
                    self.settings.embedding_model, device=self.settings.embedding_device,
                    backend=self.settings.embedding_backend, note=self.progress.note)
            except EmbedderUnavailable as error:
                self._embedder_error = error
                raise
        return self._embedder

    def vectors(self, *, dim: int | None = None) -> VectorIndex | None:
        """The vector index for the configured model; None while no vector exists for it."""
        if self._vectors is None:
            dim = dim or self.store.embeddings.dim(self.model_name)
            if dim is None:
                return None
            index = HnswIndex.open(self.index_dir / "vectors", model=self.model_name, dim=dim)
            self.index_health.opened("vector", index.rebuilt_reason)
            if index.rebuilt_reason:
                self.progress.note(f"the vector index was rebuilt from the stored vectors: "
                                   f"{index.rebuilt_reason}")
            if len(index) != self.store.embeddings.count(self.model_name):
                sync_vectors(self.store, index, self.progress)
            self._vectors = index
        return self._vectors

    @cached_property
    def searcher(self) -> Searcher | MilvusSearcher:
        if self.settings.milvus_uri:  # Milvus answers searches (index/milvus_search.py)
            return self._open_milvus()
        return Searcher(self.store, self.lexical, self.vectors, self.embedder,
                        paper_count=self._paper_count, rerank=self.settings.rerank_candidates)

    def _reopen_milvus(self, *, sync: bool = True) -> MilvusSearcher:
        if isinstance(self.__dict__.get("searcher"), MilvusSearcher):
            self.__dict__.pop("searcher").close()
        milvus = self.__dict__["searcher"] = self._open_milvus(sync=sync)
        return milvus

    def _open_milvus(self, *, sync: bool = True) -> MilvusSearcher:
        return open_milvus(self.settings.milvus_uri, self.settings.milvus_collection, self.store,
                           model=self.model_name, embedder=self.embedder,
                           paper_count=self._paper_count, progress=self.progress, sync=sync,
                           rerank=self.settings.rerank_candidates)

    def _paper_count(self) -> int:
        if self._papers is None:
            self._papers = self.store.counts()["papers"]
        return self._papers

    def catch_up(self) -> int:
        """Index by words what another process stored since this one last looked (a replica's
        own word index follows the shared store); returns how many papers. Vectors follow at
        the next start (or live, with Milvus)."""
        if self.settings.milvus_uri or "lexical" not in self.__dict__:
            return 0
        try:
            return sync_lexical(self.store, self.lexical, Silent())
        except LexicalIndexBusy:
            return 0

    def warm_up(self) -> None:
        """Open the store and indexes and load the model now (before serving requests, which
        would otherwise race to open them); a model that cannot load leaves search to words."""
        self.searcher  # noqa: B018 - opens the store and the word index (or Milvus)
        if isinstance(self.searcher, MilvusSearcher):
            has_vectors = self.searcher.collection.dim is not None
        else:
            has_vectors = self.vectors() is not None
        if has_vectors:
            try:
                self.embedder()
            except EmbedderUnavailable as error:
                self.progress.note(f"searching by words only: {error}")

    def close(self) -> None:
        if isinstance(self.__dict__.get("searcher"), MilvusSearcher):
            self.__dict__.pop("searcher").close()
        if self._vectors is not None:
            self._vectors.close()
        if "lexical" in self.__dict__:
            self.lexical.close()
        if "store" in self.__dict__:
            self.store.close()

    # -- collecting -------------------------------------------------------------------------

    def ingest(self, sources: list[str], *, strict: bool = False, since: date | None = None,
               until: date | None = None) -> list[SourceSummary]:
        """Ingest sources; their papers are searchable by words when it returns."""
        self._papers = None
        if self.settings.milvus_uri:  # Milvus follows the store when the run ends
            summaries = ingest(self.store, sources, settings=self.settings,
                               progress=self.progress, strict=strict, since=since, until=until,
                               clock=self.clock)
            milvus = self.searcher
            assert isinstance(milvus, MilvusSearcher)
            sync_milvus(self.store, milvus.collection, self.progress)
            return summaries
        if strict:  # nothing is committed before the end, so the words follow afterwards
            summaries = ingest(self.store, sources, settings=self.settings,
                               progress=self.progress, strict=True, since=since, until=until,
                               clock=self.clock)
            sync_lexical(self.store, self.lexical, self.progress, vectors=self._vectors)
            return summaries
        with following_ingest(self.store, self.lexical, self.progress,
                              vectors=self._vectors) as committed:
            return ingest(self.store, sources, settings=self.settings, progress=self.progress,
                          since=since, until=until, on_commit=committed, clock=self.clock)

    def embed(self, *, limit: int | None = None, ray_address: str | None = None) -> EmbedSummary:
        """Embed the papers missing a vector, here or on the Ray cluster at `ray_address` (by
        default the `ray_address` setting; `local` starts Ray on this machine)."""
        ray_address = ray_address or self.settings.ray_address
        if ray_address:
            from paperboy.embed.distributed import embed_on_ray

            was_open = self._vectors is not None
            summary = embed_on_ray(self.store, model=self.model_name, address=ray_address,
                                   batch_size=self.settings.embed_batch_size,
                                   device=self.settings.embedding_device or None,
                                   progress=self.progress, limit=limit, clock=self.clock)
            if self.settings.milvus_uri:  # reopened, the collection follows the new vectors
                self._reopen_milvus()
                return summary
            index = self.vectors()  # opening it syncs it with the store
            if index is not None and was_open:
                sync_vectors(self.store, index, self.progress)
            return summary
        embedder = self.embedder()
        if self.settings.milvus_uri:  # vectors go to the store and to the Milvus collection
            milvus = self.searcher
            assert isinstance(milvus, MilvusSearcher)
            if milvus.collection.dim != embedder.dim:  # made words-only: remade with vectors
                milvus = self._reopen_milvus()
            summary = embed_missing(self.store, milvus.vectors(), embedder,
                                    progress=self.progress, limit=limit,
                                    passages=self.settings.rerank_candidates > 0,
                                    batch_size=self.settings.embed_batch_size, clock=self.clock)
            sync_milvus(self.store, milvus.collection, self.progress)
            return summary
        index = self.vectors(dim=embedder.dim)
        assert index is not None
        return embed_missing(self.store, index, embedder, progress=self.progress, limit=limit,
                             passages=self.settings.rerank_candidates > 0,
                             batch_size=self.settings.embed_batch_size, clock=self.clock)

    def reindex(self) -> dict[str, int]:
        """Rebuild every derived index from the store (with Milvus: its collection)."""
        if self.settings.milvus_uri:  # resumes a rebuild that was interrupted
            milvus = self._reopen_milvus(sync=False)
            return reindex_milvus(self.store, milvus.collection, self.progress)
        self.__dict__.pop("searcher", None)
        if "lexical" in self.__dict__:
            self.__dict__.pop("lexical").close()
        if self._vectors is not None:
            self._vectors.close()
            self._vectors = None
        shutil.rmtree(self.index_dir, ignore_errors=True)
        lexical = self.lexical.count()
        index = self.vectors()
        return {"lexical": lexical, "vectors": len(index) if index is not None else 0}

    # -- reading ----------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        counts = self.store.counts()
        counts["embedded"] = self.store.embeddings.count(self.model_name)
        return counts

    def paper(self, paper_id: str) -> dict[str, Any] | None:
        return self.store.paper(paper_id)

    def papers(self, *, limit: int | None = None) -> list[dict[str, Any]]:
        return self.store.papers(limit=limit)

    def search(self, query: str, *, limit: int = 20, offset: int = 0, mode: Mode = "hybrid",
               filters: Filters | None = None, sort: Sort = "relevance") -> SearchResult:
        with self._words_damage():
            result = self.searcher.search(query, limit=limit, offset=offset, mode=mode,
                                          filters=filters, sort=sort)
        if self.index_health.rebuilding("word"):
            result.notices.append(REBUILDING_NOTICE)
        return result

    def similar(self, paper_id: str, *, limit: int = 20,
                filters: Filters | None = None) -> SearchResult:
        with self._words_damage():
            return self.searcher.similar(paper_id, limit=limit, filters=filters)

    @contextmanager
    def _words_damage(self) -> Iterator[None]:
        """Damage of the word index found while reading it: rebuild it from the store in the
        background (searches meanwhile read what is refilled) and let the error through."""
        try:
            yield
        except LexicalIndexDamaged as damage:
            index, reason = self.lexical, str(damage)

            def rebuild() -> None:
                index.recreate(reason)
                sync_lexical(self.store, index, Silent())

            self.index_health.rebuild("word", reason, rebuild)
            raise

    def trending(self, *, window: str = "week", day: date | None = None,
                 category: str | None = None, limit: int = 100,
                 now: datetime | None = None, stale_ok: bool = False) -> list[TrendingEntry]:
        """The trending papers for a window, as they stand now or stood at the end of `day`;
        computed once per new signal or `INTERVAL_S` (signals/cache.py). `stale_ok`, for page
        views: a list slow to compute is served as it was while the new one is computed."""
        now = now or self.clock()
        return self._trending.get(
            window=window, day=day, category=category, limit=limit, now=now,
            version=self.store.signals.version(), stale_ok=stale_ok,
            compute=lambda depth: trending(self.store.signals, self.store.papers_by_ids,
                                           window=window, day=day, category=category,
                                           limit=depth, now=now))

    def follow(self, reader_id: int, kind: str, value: str, *,
               filters: dict[str, Any] | None = None) -> bool:
        """A reader follows a query (embedded now, when the model loads), a category or an
        author; False when they already did."""
        vector = None
        if kind == "query":
            try:
                vector = self.embedder().embed([value])[0]
            except EmbedderUnavailable:
                pass  # matched by words until `paperboy daily` embeds it
        return self.store.readers.follow(reader_id, kind, value, self.clock(),
                                         filters=filters, vector=vector)

    def refresh_stars(self, *, limit: int | None = None,
                      max_wait_s: float = 3600.0) -> RefreshSummary:
        """A star snapshot of every code repository the stored papers link to (a rate limit
        that would make it wait longer than `max_wait_s` fails the remaining checks)."""
        with GitHubStars(api_url=self.settings.github_api_url, max_wait_s=max_wait_s,
                         token=self.settings.github_token or None,
                         timeout_s=self.settings.http_timeout_s,
                         retries=self.settings.http_retries,
                         backoff_s=self.settings.http_backoff_s,
                         on_wait=waiting_note(self.progress),
                         clock=lambda: self.clock().timestamp()) as checker:
            return refresh_stars(self.store, checker, self.progress, limit=limit)

    # -- readers and digests ------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return (self.settings.base_url or "http://localhost:8000").rstrip("/")

    def links(self) -> Links:
        return Links(secret_key(self.settings), self.base_url)

    def send_digests(self, *, day: date | None = None,
                     now: datetime | None = None) -> DigestRun:
        """Send the digests that are due (or every active reader's for `day`)."""
        if not self.settings.base_url:
            self.progress.note(f"PAPERBOY_BASE_URL is not set, so the digests' links (papers, "
                               f"unsubscribe) point at {self.base_url}, which only this "
                               "machine opens: set it to the web app's public address")
        sender, mail_from = mail_transport(
            self.settings.smtp_url, concurrency=self.settings.digest_concurrency,
            retries=self.settings.smtp_retries, backoff_s=self.settings.smtp_backoff_s)
        now = now or self.clock()
        return send_digests(self.store, composer_for=lambda readers: self._composer(readers, now),
                            sender=sender, links=self.links(), mail_from=mail_from,
                            base_url=self.base_url, progress=self.progress, now=now, day=day,
                            send_empty=self.settings.digest_send_empty)

    def import_library(self, reader_id: int, data: bytes, *, name: str = "input",
                       fetch: bool = True, collection: str | None = None) -> ImportReport:
        """Add the papers of a BibTeX, RIS, CSL-JSON file or list of ids to a collection of a
        reader's library (readers/library_import.py); arXiv ids not stored are fetched from
        the arXiv API unless `fetch` is False. Raises LibraryFileError for a file none of them,
        CollectionError for a collection name that cannot be."""
        fmt, entries, problems = read_entries(data, name=name)
        return import_entries(self.store, reader_id, fmt, entries, problems, self.clock(),
                              fetch=self._fetch_arxiv if fetch else None, collection=collection)

    def _fetch_arxiv(self, arxiv_ids: Sequence[str]) -> str | None:
        """Ingest these papers from the arXiv API; None, or why some could not be fetched."""
        trouble = None
        for start in range(0, len(arxiv_ids), ARXIV_IDS_PER_QUERY):
            query = " OR ".join(f"id:{i}" for i in arxiv_ids[start:start + ARXIV_IDS_PER_QUERY])
            for summary in self.ingest([f"arxiv:{query}"]):
                trouble = trouble or (summary.errors[0] if summary.errors else None)
        return trouble

    def export_library(self, reader_id: int, fmt: str, *, collection: str | None = None) -> str:
        """One collection of the reader's library, or all of it, newest saved first, as
        BibTeX, RIS or CSL-JSON."""
        ids = self.store.library.papers(reader_id, collection)
        found = self.store.papers_by_ids(ids)
        return write_library((found[i] for i in ids if i in found), fmt)

    def author_papers(self, name: str, *, limit: int = 1000) -> list[dict[str, Any]]:
        """The papers of the author `name` means, newest first (index/authors.py: case,
        accents and initials aside): those whose authors hold the family name, kept when a
        given name agrees."""
        family = family_name(name)
        if not family:
            return []
        hits = self.search(f'author:"{family}"', mode="lexical", sort="newest",
                           limit=min(limit, MAX_DEPTH)).hits
        rows = self.store.papers_by_ids([hit.id for hit in hits])
        return [rows[h.id] for h in hits if h.id in rows and any(
            same_author(name, author) for author in rows[h.id].get("authors") or ())]

    def mutes_of(self, reader_id: int) -> Mutes:
        """What the reader muted, as one test per paper (readers/mutes.py)."""
        return Mutes.of(self.store.readers.mutes([reader_id]))

    def for_you(self, reader_id: int, *, now: datetime | None = None) -> Digest:
        """What the reader's next digest holds as it stands now: new papers on their follows,
        recommendations from their library, trending, their mutes applied (nothing recorded)."""
        reader = self.store.readers.get(reader_id)
        if reader is None:
            raise LookupError(f"no reader {reader_id}")
        now = now or self.clock()
        return self._composer([reader], now).compose(reader, next_day(self.store, reader, now))

    def preview_digest(self, email: str, *, now: datetime | None = None) -> tuple[Digest, str]:
        """A reader's next digest as it stands now (nothing recorded): (digest, html). Once
        today's has gone out, that is tomorrow's, holding what is new since it was sent."""
        reader = self.store.readers.by_email(email)
        if reader is None:
            raise LookupError(f"no reader with the address {email!r}")
        now = now or self.clock()
        digest = self._composer([reader], now).compose(reader, next_day(self.store, reader, now))
        html, _ = render_digest(digest, base_url=self.base_url,
                                unsubscribe_url=self.links().url("unsubscribe", reader["id"]))
        return digest, html

    def _composer(self, readers: list[dict[str, Any]], now: datetime) -> Composer:
        entries = self.trending(window="day", now=now, limit=20) or \
            self.trending(window="week", now=now, limit=20)
        model = self.model_name if self.store.embeddings.dim(self.model_name) else None
        return Composer(self.store, model=model, trending=entries, readers=readers, now=now)
