"""Reading a file source: detect its format, then stream it into chunks.

JSON Lines (the 4 GB Kaggle snapshot) is streamed line by line in constant memory, with a
checkpoint committed alongside every chunk so that a killed run resumes where it stopped. Other
formats are single documents of modest size and are parsed whole.
"""

from __future__ import annotations

import gzip
import os
import stat
import zlib
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import IO, Any

from paperboy.ingest.chunks import Chunk
from paperboy.models import PaperRecord, RecordError, SourceError
from paperboy.progress import Progress
from paperboy.sources import arxiv_api, hf_daily, kaggle, listing, oai, rss, s2
from paperboy.sources.detect import HEAD_BYTES, HeadTooShort, detect

MAX_HEAD_BYTES = 16 * 1024 * 1024  # how far detection reads for a first JSON record

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
        self.path = path
        self._raw = open_regular_file(path)
        self.size = os.fstat(self._raw.fileno()).st_size
        self.batch_size = batch_size
        self._checkpoint = checkpoint
        if self.size == 0:
            self.close()
            raise SourceError(f"{path}: the file is empty", code="empty")
        compressed = False
        try:
            compressed = self._raw.read(2) == b"\x1f\x8b"
            self._raw.seek(0)
            self._stream: IO[bytes] = gzip.GzipFile(fileobj=self._raw) if compressed \
                else self._raw
            self.format = self._detect()
        except (OSError, EOFError, zlib.error) as error:
            self.close()
            raise SourceError(f"{path}: cannot read{' the gzip data' if compressed else ''}: "
                              f"{error}", code="unreadable") from None
        except SourceError:
            self.close()
            raise

    def _detect(self) -> str:
        """The format from the first HEAD_BYTES, or from more while the first JSON record goes
        on past them (a paper with a thousand authors), up to MAX_HEAD_BYTES."""
        size = HEAD_BYTES
        while True:
            head = self._stream.read(size)
            self._stream.seek(0)
            try:
                return detect(head, name=str(self.path), cut=len(head) == size)
            except HeadTooShort:
                if size >= MAX_HEAD_BYTES:
                    raise SourceError(
                        f"{self.path}: its first JSON record is over {MAX_HEAD_BYTES >> 20} MB "
                        "long; not a format Paperboy reads", code="unknown_format") from None
                size *= 8

    def close(self) -> None:
        self._raw.close()

    def chunks(self, progress: Progress) -> Iterator[Chunk]:
        progress.start(f"{self.path.name} ({self.format})", total=self.size, unit="bytes")
        try:
            if self.format == "kaggle":
                yield from self._lines(progress)
            else:
                yield from self._document()
        except (OSError, EOFError, zlib.error) as error:  # a truncated or corrupt gzip, a bad disk
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


def open_regular_file(path: Path) -> IO[bytes]:
    """`path` opened for reading, or a SourceError that names it and says what is wrong
    (missing, a folder, a FIFO or device, unreadable); a FIFO is never opened (it would block)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file", code="not_found") from None
    except OSError as error:
        raise SourceError(f"{path}: cannot read: {error.strerror}", code="unreadable") from None
    if stat.S_ISDIR(mode):
        raise SourceError(f"{path}: is a folder, not a file", code="not_a_file")
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) \
            else "a device"
        raise SourceError(f"{path}: is {kind}, not a regular file", code="not_a_file")
    try:
        return path.open("rb")
    except PermissionError:
        raise SourceError(f"{path}: permission denied", code="unreadable") from None
    except OSError as error:
        raise SourceError(f"{path}: cannot read: {error.strerror}", code="unreadable") from None
