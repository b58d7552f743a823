"""Remote sources named on the command line (`arxiv:cs.LG`, `oai:cs`, `hf:daily` ...).

Each turns into a stream of chunks fetched politely through `HttpClient` and parsed by the
source's pure parser. What lets a harvest resume (the OAI-PMH resumption token, the newest paper
already seen) travels in each chunk's state, so it commits with the papers it describes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from paperboy.ingest.chunks import Chunk
from paperboy.models import PaperRecord, SourceError
from paperboy.progress import Progress
from paperboy.settings import Settings
from paperboy.sources import arxiv_api, hf_daily, oai, rss, s2
from paperboy.sources.http import FetchError, HttpClient
from paperboy.store import Store

KINDS = {
    "arxiv": "arXiv API: a category (arxiv:cs.LG) or a search query (arxiv:all:kernel)",
    "oai": "arXiv OAI-PMH harvest of a set (oai:cs), or of everything (oai:)",
    "hf": "Hugging Face daily papers (hf:daily, or hf:daily:YYYY-MM-DD)",
    "rss": "arXiv listing RSS of a category (rss:cs.LG)",
    "s2": "Semantic Scholar search (s2:QUERY) or papers by id (s2:ids:ID,ID)",
}
_CATEGORY = re.compile(r"^[a-z-]+(\.[A-Za-z-]+)?$")
_API_PAGE = 100
_S2_FIELDS = ("title,abstract,authors,externalIds,publicationDate,year,venue,journal,url,"
              "openAccessPdf,citationCount,influentialCitationCount,referenceCount,"
              "fieldsOfStudy,publicationTypes")


def not_a_source_kind(source: str) -> None:
    """Raise a SourceError for a URL or an unknown `kind:` that is not an existing file."""
    kind, sep, _ = source.partition(":")
    if not sep or len(kind) < 2 or not kind.isalnum() or Path(source).exists():
        return  # a path (C:\\ on Windows, a file named a:b that exists)
    accepted = ", ".join(f"{name}:" for name in KINDS)
    if kind in ("http", "https", "ftp"):
        raise SourceError(f"{source}: URLs are not read directly; download the file and ingest "
                          f"it, or use a source kind ({accepted}; see `paperboy ingest --help`)",
                          code="unknown_kind")
    raise SourceError(f"{source}: unknown source kind {kind!r}: use a file or one of "
                      f"{accepted} (see `paperboy ingest --help`)", code="unknown_kind")


def is_remote(source: str) -> bool:
    kind, sep, _ = source.partition(":")
    return bool(sep) and kind in KINDS


class RemoteSource:
    def __init__(self, spec: str, *, store: Store, settings: Settings,
                 since: date | None = None, until: date | None = None) -> None:
        self.spec = spec
        self.since, self.until = since, until
        self.kind, _, self.argument = spec.partition(":")
        self.store = store
        self.settings = settings
        self.format = {"arxiv": "arxiv_api", "oai": "oai", "hf": "hf_daily", "rss": "arxiv_rss",
                       "s2": "s2"}[self.kind]
        if self.kind in ("arxiv", "rss") and not self.argument:
            raise SourceError(f"{spec}: name a category or query, e.g. {self.kind}:cs.LG",
                              code="bad_source")
        if self.kind == "hf" and not re.fullmatch(r"daily(:\d{4}-\d{2}-\d{2})?", self.argument):
            raise SourceError(f"{spec}: use hf:daily or hf:daily:YYYY-MM-DD", code="bad_source")

    def chunks(self, progress: Progress) -> Iterator[Chunk]:
        polite = self.kind in ("arxiv", "oai", "rss")
        client = HttpClient(
            timeout_s=self.settings.http_timeout_s, retries=self.settings.http_retries,
            backoff_s=self.settings.http_backoff_s,
            min_interval_s=self.settings.arxiv_interval_s if polite else 0.0,
            on_wait=lambda seconds, why: progress.note(f"waiting {seconds:.0f} s: {why}"))
        try:
            yield from getattr(self, f"_{self.kind}")(client, progress)
        finally:
            progress.finish()
            client.close()

    # -- arXiv API: newest first, until the newest paper of the last run or the fetch limit ---

    def _arxiv(self, client: HttpClient, progress: Progress) -> Iterator[Chunk]:
        query = f"cat:{self.argument}" if _CATEGORY.match(self.argument) else self.argument
        key = f"arxiv-api:{query}"
        previous = (self.store.state(key) or {}).get("newest")
        newest = previous
        limit = self.settings.fetch_limit
        progress.start(f"arXiv API {query}", total=limit, unit="papers")
        start = 0
        while True:
            params = {"search_query": query, "start": start,
                      "max_results": min(_API_PAGE, limit - start),
                      "sortBy": "submittedDate", "sortOrder": "descending"}
            try:
                page = arxiv_api.parse_feed(client.get(self.settings.arxiv_api_url,
                                                       params=params).content)
            except FetchError as error:
                if error.status == 400 and error.content:
                    arxiv_api.parse_feed(error.content)  # raises the API's own error message
                raise
            dates = [r.published.isoformat() for r in page.records
                     if isinstance(r, PaperRecord) and r.published]
            newest = max([newest or "", *dates]) or None
            start += len(page.records)
            caught_up = previous is not None and bool(dates) and max(dates) <= previous
            last = (not page.records or start >= min(page.total_results, limit)
                    or caught_up)
            state = [(key, {"newest": newest})] if last else []
            yield Chunk(page.records, state=state, done=start)
            if last:
                return

    # -- OAI-PMH: resumption tokens persisted per page; from the last completed harvest ------

    def _oai(self, client: HttpClient, progress: Progress) -> Iterator[Chunk]:
        key = f"oai:{self.argument}"
        if self.since or self.until:  # a one-off window keeps its own state, apart from daily runs
            key += f":{self.since or ''}..{self.until or ''}"
        state: dict[str, Any] = dict(self.store.state(key) or {})
        restarted = False
        if state.get("token"):
            progress.note(f"{self.spec}: resuming an interrupted harvest")
        progress.start(f"OAI-PMH {self.argument or 'all sets'}", total=None, unit="papers")
        done = 0
        while True:
            params = self._oai_params(state)
            try:
                page = oai.parse_page(client.get(self.settings.oai_url, params=params).content)
            except oai.OaiError as error:
                if error.code == oai.NO_RECORDS_MATCH:
                    yield Chunk([], state=[(key, _finished(state))])
                    return
                if error.code == "badResumptionToken" and state.get("token") and not restarted:
                    progress.note(f"{self.spec}: resumption token refused; restarting from "
                                  f"{state.get('last_date') or 'the beginning'}")
                    state = {k: v for k, v in state.items() if k not in ("token", "seen_max")}
                    restarted = True
                    continue
                raise
            if page.resumption_token and page.resumption_token == state.get("token"):
                raise SourceError(f"{self.spec}: the server sent back the resumption token it "
                                  f"was given ({page.resumption_token!r}); stopping to avoid "
                                  "a loop", code="oai_loop")
            seen = max(filter(None, [state.get("seen_max"), _day(page.max_datestamp)]),
                       default=None)
            state = {**state, "token": page.resumption_token, "seen_max": seen}
            done = (page.cursor or done) + len(page.records)
            if page.complete_list_size:
                progress.start(f"OAI-PMH {self.argument or 'all sets'}",
                               total=page.complete_list_size, unit="papers")
            last = not page.resumption_token
            yield Chunk(page.records, state=[(key, _finished(state) if last else state)],
                        done=done)
            if last:
                return

    def _oai_params(self, state: dict[str, Any]) -> dict[str, str]:
        if state.get("token"):
            return {"verb": "ListRecords", "resumptionToken": state["token"]}
        params = {"verb": "ListRecords", "metadataPrefix": "arXivRaw"}
        if self.argument:
            params["set"] = self.argument
        since = self.since.isoformat() if self.since else state.get("last_date")
        if since:
            params["from"] = since
        if self.until:
            params["until"] = self.until.isoformat()
        return params

    # -- single documents ---------------------------------------------------------------------

    def _hf(self, client: HttpClient, progress: Progress) -> Iterator[Chunk]:
        _, _, day = self.argument.partition(":")
        progress.start(f"Hugging Face daily papers {day}".strip(), total=None, unit="papers")
        response = client.get(self.settings.hf_url, params={"date": day} if day else None)
        yield Chunk(list(hf_daily.parse(response.content)))

    def _rss(self, client: HttpClient, progress: Progress) -> Iterator[Chunk]:
        progress.start(f"arXiv RSS {self.argument}", total=None, unit="papers")
        response = client.get(f"{self.settings.rss_url.rstrip('/')}/{self.argument}")
        yield Chunk(list(rss.parse(response.content)))

    def _s2(self, client: HttpClient, progress: Progress) -> Iterator[Chunk]:
        headers = {"x-api-key": self.settings.s2_api_key} if self.settings.s2_api_key else None
        base = self.settings.s2_url.rstrip("/")
        if self.argument.startswith("ids:"):
            ids = [i for i in self.argument[4:].split(",") if i]
            progress.start(f"Semantic Scholar {len(ids)} ids", total=len(ids), unit="papers")
            for first in range(0, len(ids), 500):  # the batch endpoint takes 500 ids a call
                response = client.post(f"{base}/paper/batch", params={"fields": _S2_FIELDS},
                                       json={"ids": ids[first:first + 500]}, headers=headers)
                yield Chunk(list(s2.parse(response.content)), done=first + 500)
            return
        limit = self.settings.fetch_limit
        progress.start(f"Semantic Scholar search {self.argument}", total=limit, unit="papers")
        offset: int | None = 0
        while offset is not None and offset < limit:
            response = client.get(f"{base}/paper/search", headers=headers, params={
                "query": self.argument, "fields": _S2_FIELDS, "offset": offset,
                "limit": min(100, limit - offset)})
            page = s2.parse_search(response.content)
            yield Chunk(page.records, done=offset + len(page.records))
            # `next` must move forward; a server repeating itself must not loop us forever.
            moved = page.next is not None and page.next > offset and bool(page.records)
            offset = page.next if moved else None


def _day(value: date | str | None) -> str | None:
    return value.isoformat() if isinstance(value, date) else value


def _finished(state: dict[str, Any]) -> dict[str, Any]:
    """The state after a complete harvest: next time, ask only for what changed since."""
    last = max(filter(None, [state.get("seen_max"), state.get("last_date")]), default=None)
    return {"token": None, "last_date": last,
            "completed_at": datetime.now(UTC).isoformat(timespec="seconds")}
