"""Reading a file source: detect its format, then stream it into chunks.

JSON Lines (the 4 GB Kaggle snapshot) is streamed line by line in constant memory, with a
checkpoint committed alongside every chunk so that a killed run resumes where it stopped. Other
formats are single documents of modest size and are parsed whole.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import IO, Any

from paperboy.ingest.chunks import Chunk
from paperboy.models import PaperRecord, RecordError, SourceError
from paperboy.progress import Progress
from paperboy.sources import arxiv_api, hf_daily, kaggle, listing, oai, rss, s2
from paperboy.sources.detect import HEAD_BYTES, detect

Parser = Callable[[bytes], Iterable[PaperRecord | RecordError]]

PARSERS: dict[str, Parser] = {
    "arxiv_api": arxiv_api.parse,
    "oai": oai.parse,
    "arxiv_rss": rss.parse,
    "kaggle": kaggle.parse,
    "hf_daily": hf_daily.parse,
    "s2": s2.parse,
    "listing": listing.parse,
}


class FileSource:
    """One input file, opened and sniffed; `chunks()` reads it."""

    def __init__(self, path: Path, *, batch_size: int,
                 checkpoint: Callable[[str], Any]) -> None:
        if not path.is_file():
            raise SourceError(f"{path}: no such file", code="not_found")
        self.path = path
        self.size = path.stat().st_size
        self.batch_size = batch_size
        self._checkpoint = checkpoint
        self._raw = path.open("rb")
        compressed = self._raw.read(2) == b"\x1f\x8b"
        self._raw.seek(0)
        self._stream: IO[bytes] = gzip.GzipFile(fileobj=self._raw) if compressed else self._raw
        try:
            head = self._stream.read(HEAD_BYTES)
            self._stream.seek(0)
        except (OSError, EOFError) as error:
            self.close()
            raise SourceError(f"{path}: cannot read: {error}", code="unreadable") from None
        try:
            self.format = detect(head, name=str(path))
        except SourceError:
            self.close()
            raise

    def close(self) -> None:
        self._raw.close()

    def chunks(self, progress: Progress) -> Iterator[Chunk]:
        progress.start(f"{self.path.name} ({self.format})", total=self.size, unit="bytes")
        try:
            if self.format == "kaggle":
                yield from self._lines(progress)
            else:
                yield from self._document()
        except (OSError, EOFError) as error:  # a truncated gzip member, an unreadable disk
            raise SourceError(f"{self.path}: read failed: {error}", code="unreadable") from None
        finally:
            progress.finish()
            self.close()

    def _document(self) -> Iterator[Chunk]:
        items = iter(PARSERS[self.format](self._stream.read()))
        while batch := list(islice(items, self.batch_size)):
            yield Chunk(batch)
        yield Chunk([], done=self.size)

    def _lines(self, progress: Progress) -> Iterator[Chunk]:
        key = f"file:{self.path.resolve()}"
        stat = self.path.stat()
        identity = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        offset, line = 0, 1
        saved = self._checkpoint(key)
        if saved and {k: saved.get(k) for k in identity} == identity:
            offset, line = saved["offset"], saved["line"]
            self._stream.seek(offset)
            progress.note(f"resuming {self.path.name} at line {line:,} "
                          f"(an earlier run stopped there)")
        while lines := list(islice(self._stream, self.batch_size)):
            items = list(kaggle.parse_lines(lines, first_line=line))
            offset += sum(map(len, lines))
            line += len(lines)
            state = {**identity, "offset": offset, "line": line}
            yield Chunk(items, state=[(key, state)], done=self._raw.tell())
        yield Chunk([], state=[(key, None)], done=self.size)
