"""What a mail provider checks of a message, read from its raw bytes: RFC 5322 (lines, header
syntax, the fields a message must have once), MIME's transfer encodings, RFC 2369's
List-Unsubscribe and RFC 8058's one-click unsubscribe. Python's parser is used only for what
it checks strictly (addresses, dates, defects); everything else is read from the bytes, since
the parser decodes back what a provider would refuse (RFC 2047 words in List-Unsubscribe)."""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser
from email.utils import parsedate_to_datetime

# RFC 5322 3.6: fields a message has exactly once (Date, From) or at most once
ONCE = ("date", "from")
AT_MOST_ONCE = ("sender", "reply-to", "to", "cc", "bcc", "message-id", "in-reply-to",
                "references", "subject", "list-unsubscribe", "list-unsubscribe-post",
                "mime-version", "content-type", "content-transfer-encoding")
_FIELD = re.compile(rb"^([\x21-\x39\x3b-\x7e]+):(.*)$", re.S)  # name: printable ASCII but colon
_MESSAGE_ID = re.compile(r"^<[^<>@\s]+@[^<>@\s]+>$")
_LIST_URIS = re.compile(r"^\s*<[^<>\s]+>(\s*,\s*<[^<>\s]+>)*\s*$")  # RFC 2369 3.1


def problems(raw: bytes) -> list[str]:
    """Every way the message breaks those RFCs (empty: none)."""
    found: list[str] = []
    head, separator, body = raw.partition(b"\r\n\r\n")
    if not separator:
        return ["no empty line (CRLF CRLF) between header and body"]
    lines = raw.split(b"\r\n")
    if any(b"\n" in line or b"\r" in line for line in lines):
        found.append("a bare CR or LF: lines must end in CRLF (RFC 5322 2.1)")
    if any(len(line) > 998 for line in lines):
        found.append("a line over 998 characters (RFC 5322 2.1.1)")

    fields: dict[str, list[str]] = {}
    for field in re.split(rb"\r\n(?![ \t])", head):
        match = _FIELD.match(field)
        if match is None:
            found.append(f"not a header field: {field[:60]!r}")
            continue
        if not field.isascii():
            found.append(f"8-bit bytes in the header field {match.group(1).decode()}")
        value = re.sub(rb"\r\n([ \t])", rb"\1", match.group(2)).decode("ascii", "replace")
        fields.setdefault(match.group(1).decode().lower(), []).append(value.strip())
    for name in ONCE:
        if len(fields.get(name, [])) != 1:
            found.append(f"{name} must occur once, found {len(fields.get(name, []))}")
    for name in AT_MOST_ONCE:
        if len(fields.get(name, [])) > 1:
            found.append(f"{name} occurs {len(fields[name])} times")
    if fields.get("date"):
        try:
            if parsedate_to_datetime(fields["date"][0]).tzinfo is None:
                found.append("Date has no zone")
        except (TypeError, ValueError):
            found.append(f"Date is not an RFC 5322 date: {fields['date'][0]!r}")
    if not fields.get("message-id"):
        found.append("no Message-ID (RFC 5322 3.6.4: every message should have one)")
    elif not _MESSAGE_ID.match(fields["message-id"][0]):
        found.append(f"Message-ID is malformed: {fields['message-id'][0]!r}")

    found += _unsubscribe(fields)
    found += _parsed(raw)
    return found


def _unsubscribe(fields: dict[str, list[str]]) -> list[str]:
    found = []
    unsubscribe = fields.get("list-unsubscribe", [""])[0]
    if unsubscribe:
        if "=?" in unsubscribe or not _LIST_URIS.match(unsubscribe):
            found.append(f"List-Unsubscribe is not a list of <URI>s (RFC 2369): {unsubscribe!r}")
    if "list-unsubscribe-post" in fields:
        if fields["list-unsubscribe-post"][0] != "List-Unsubscribe=One-Click":
            found.append("List-Unsubscribe-Post must be List-Unsubscribe=One-Click (RFC 8058)")
        if not re.search(r"<https://[^>]+>", unsubscribe):
            found.append("one-click unsubscribe needs an https URI in List-Unsubscribe "
                         "(RFC 8058 3.1)")
    return found


def _parsed(raw: bytes) -> list[str]:
    """What Python's parser finds wrong: defects of the message, its parts and its address
    and date fields, and body bytes a transfer encoding does not allow."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    found = []
    for part in message.walk():
        found += [f"MIME defect: {type(d).__name__}" for d in part.defects]
        for name in ("from", "to", "reply-to", "date"):
            header = part.get(name)
            if header is not None:
                found += [f"{name}: {type(d).__name__}" for d in header.defects]
        if not part.is_multipart():
            encoding = str(part.get("content-transfer-encoding", "7bit")).lower()
            payload = part.get_payload(decode=False)
            data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) \
                else b""
            if encoding in ("7bit", "quoted-printable", "base64") and not data.isascii():
                found.append(f"8-bit bytes in a {encoding} part ({part.get_content_type()})")
    return found
