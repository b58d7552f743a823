"""Hypothesis against every source parser and format detection: random bytes, the recorded
fixtures truncated, flipped and spliced with bad UTF-8, deep nesting, huge fields and wrong
JSON types. Each input parses into records and per-record errors, or fails as a SourceError
naming the input; nothing else escapes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, LISTING
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperboy.ingest.files import PARSERS, FileSource
from paperboy.models import PaperRecord, RecordError, SourceError
from paperboy.sources.detect import HeadTooShort, detect

EXAMPLES = 500  # per parser and kind of input
FIXTURE_OF = {
    "arxiv_api": FIXTURES / "arxiv_api_query.xml",
    "oai": FIXTURES / "arxiv_oai_listrecords_arXiv_prefix.xml",
    "arxiv_rss": FIXTURES / "arxiv_rss.xml",
    "kaggle": FIXTURES / "arxiv_kaggle_snapshot.jsonl",
    "hf_daily": FIXTURES / "hf_daily_papers.json",
    "s2": FIXTURES / "s2_paper_batch.json",
    "listing": LISTING,
}
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
BAD_UTF8 = [b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x00", b"\xe2\x82"]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=4),
    max_leaves=12)


def _parses_or_says_why(fmt: str, data: bytes) -> None:
    try:
        items = list(PARSERS[fmt](data))
    except SourceError as error:
        assert str(error), fmt
        return
    for item in items:
        assert isinstance(item, PaperRecord | RecordError), (fmt, type(item))
        if isinstance(item, RecordError):
            assert item.message


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """The fixture cut short, with bytes flipped, and bad UTF-8 or markup spliced in."""
    data = bytearray(original[:draw(st.integers(0, len(original)))])
    for _ in range(draw(st.integers(0, 8))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "splice", "delete"]))
        if action == "flip":
            data[at] = draw(st.integers(0, 255))
        elif action == "splice":
            data[at:at] = draw(st.sampled_from(BAD_UTF8 + [b"<", b"]]>", b"&#0;", b"{", b'"',
                                                            b"<!ENTITY x SYSTEM 'file:///'>"]))
        else:
            del data[at:at + draw(st.integers(1, 64))]
    return bytes(data)


@pytest.mark.parametrize("fmt", sorted(PARSERS))
def test_every_parser_survives_mutated_recordings(fmt: str) -> None:
    original = FIXTURE_OF[fmt].read_bytes()[:200_000]

    @FUZZ
    @given(data=mutated(original))
    def survives(data: bytes) -> None:
        _parses_or_says_why(fmt, data)

    survives()


@pytest.mark.parametrize("fmt", sorted(PARSERS))
def test_every_parser_survives_random_bytes(fmt: str) -> None:
    @FUZZ
    @given(data=st.binary(max_size=2048))
    def survives(data: bytes) -> None:
        _parses_or_says_why(fmt, data)

    survives()


@pytest.mark.parametrize("fmt", ["kaggle", "hf_daily", "s2"])
def test_json_parsers_survive_wrong_types_in_every_field(fmt: str) -> None:
    records = _json_records(fmt)

    @FUZZ
    @given(data=st.data())
    def survives(data: st.DataObject) -> None:
        record = json.loads(json.dumps(data.draw(st.sampled_from(records))))
        _replace_somewhere(data, record)
        text = json.dumps(record)
        _parses_or_says_why(fmt, (text + "\n").encode() if fmt == "kaggle" else
                            _wrapped(fmt, text).encode())

    survives()


def _json_records(fmt: str) -> list[Any]:
    raw = FIXTURE_OF[fmt].read_text(encoding="utf-8")
    if fmt == "kaggle":
        return [json.loads(line) for line in raw.splitlines()[:20] if line.strip()]
    loaded = json.loads(raw)
    found = loaded if isinstance(loaded, list) else loaded.get("data", [loaded])
    return [record for record in found if isinstance(record, dict)][:20]


def _wrapped(fmt: str, record: str) -> str:
    return f"[{record}]"


def _replace_somewhere(data: st.DataObject, value: Any) -> None:
    """One value somewhere in the record (its fields, or theirs) becomes any JSON value."""
    while isinstance(value, dict | list) and value:
        keys = list(value) if isinstance(value, dict) else list(range(len(value)))
        key = data.draw(st.sampled_from(keys))
        if data.draw(st.booleans()) or not isinstance(value[key], dict | list):
            value[key] = data.draw(JSON_VALUES)
            return
        value = value[key]


@pytest.mark.parametrize("fmt", ["kaggle", "hf_daily", "s2"])
def test_json_parsers_survive_deep_nesting_and_huge_fields(fmt: str) -> None:
    record = _json_records(fmt)[0]
    huge = dict(record)
    for key, value in list(huge.items()):
        if isinstance(value, str):
            huge[key] = value * (2_000_000 // max(1, len(value)))  # a few MB of one field
    deep = "[" * 100_000 + "]" * 100_000
    nested = '{"paper": ' * 50_000 + "{}" + "}" * 50_000
    for text in (json.dumps(huge), deep, nested, '{"id": ' + deep + "}"):
        _parses_or_says_why(fmt, (text + "\n").encode() if fmt == "kaggle" else
                            (text if text.startswith("[") else f"[{text}]").encode())


@FUZZ
@given(head=st.one_of(
    st.binary(max_size=4096),
    st.builds(lambda n: b"[" * n, st.integers(1, 200_000)),
    st.builds(lambda n, tail: b'{"a":' * n + tail, st.integers(1, 50_000), st.binary(max_size=20)),
    st.sampled_from(list(FIXTURE_OF.values())).map(lambda p: p.read_bytes()[:4096]),
), cut=st.booleans())
def test_detection_names_a_format_or_refuses_the_input(head: bytes, cut: bool) -> None:
    try:
        found = detect(head, name="fuzzed", cut=cut)
    except HeadTooShort:
        assert cut
    except SourceError as error:
        assert "fuzzed: not a format Paperboy reads" in str(error)
    else:
        assert found in PARSERS


@pytest.mark.parametrize("fmt", sorted(PARSERS))
def test_a_whole_mutated_file_ingests_or_fails_with_its_name(fmt: str, tmp_path: Path) -> None:
    original = FIXTURE_OF[fmt].read_bytes()[:100_000]
    path = tmp_path / "fuzzed"

    @settings(FUZZ, max_examples=100)
    @given(data=mutated(original))
    def survives(data: bytes) -> None:
        path.write_bytes(data)
        try:
            source = FileSource(path, batch_size=100, checkpoint=lambda _: None)
        except SourceError as error:
            assert str(path) in str(error)
            return
        _parses_or_says_why(source.format, data)
        source.close()

    survives()


def test_a_first_json_record_past_the_detection_head_is_still_detected(tmp_path: Path) -> None:
    record = json.loads(FIXTURE_OF["kaggle"].read_text(encoding="utf-8").splitlines()[0])
    record["authors"] = ", ".join(f"Author Number{n}" for n in range(30_000))  # ~500 kB
    path = tmp_path / "many-authors.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    source = FileSource(path, batch_size=100, checkpoint=lambda _: None)
    assert source.format == "kaggle"
    source.close()
