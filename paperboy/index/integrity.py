"""Whether an index's files are still the bytes that were written. Pure reads, no writes.

Tantivy ends every file of a segment with a footer: the file's CRC-32 (IEEE, as zlib computes
it) in a small JSON document, that document's length and a magic number (tantivy's
`directory/footer.rs`; `Index::validate_checksum` in Rust, which tantivy-py does not expose).
`tantivy_damage` recomputes the checksum of every file of the segments `meta.json` lists as
live. Damage elsewhere in a file than the parts a query reads is otherwise silent: results go
wrong, or a search panics in the native code.

The vector index writes the CRC-32 of its own files into its `meta.json` (index/vectors.py);
`file_crc32` is the one function both use.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

__all__ = ["file_crc32", "tantivy_damage"]

FOOTER_MAGIC = 1337  # tantivy's FOOTER_MAGIC_NUMBER, after the footer's length (u32 LE each)
_CHUNK = 1 << 20


def file_crc32(path: Path, *, length: int | None = None) -> int:
    """The CRC-32 of the file's first `length` bytes (all of it by default), read in chunks."""
    crc, left = 0, length
    with open(path, "rb") as file:
        while left is None or left > 0:
            chunk = file.read(_CHUNK if left is None else min(_CHUNK, left))
            if not chunk:
                break
            crc = zlib.crc32(chunk, crc)
            if left is not None:
                left -= len(chunk)
    return crc


def tantivy_damage(folder: Path) -> str | None:
    """Why the tantivy index in `folder` cannot be trusted, or None when every file of its live
    segments matches its footer's checksum. A folder with no `meta.json` yet is not damaged."""
    for _ in range(3):  # a merge may retire a segment while it is being read: read again
        try:
            meta_text = (folder / "meta.json").read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            segments = [s["segment_id"].replace("-", "") for s in json.loads(meta_text)["segments"]]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return f"meta.json is unreadable ({exc})"
        try:
            files = sorted(p for p in folder.iterdir() if p.name.split(".", 1)[0] in segments)
            for path in files:
                if problem := _footer_problem(path):
                    return f"{path.name} {problem}"
            return None
        except FileNotFoundError:
            if (folder / "meta.json").read_text(encoding="utf-8") == meta_text:
                raise
    return None


def _footer_problem(path: Path) -> str | None:
    size = path.stat().st_size
    with open(path, "rb") as file:
        if size < 8:
            return "is too short to hold a footer"
        file.seek(size - 8)
        footer_length, magic = struct.unpack("<II", file.read(8))
        if magic != FOOTER_MAGIC or footer_length > size - 8:
            return "has no tantivy footer"
        file.seek(size - 8 - footer_length)
        try:
            expected = json.loads(file.read(footer_length))["crc"]
        except (ValueError, KeyError, TypeError):
            return "has an unreadable footer"
    if file_crc32(path, length=size - 8 - footer_length) != expected:
        return "does not match its checksum"
    return None
