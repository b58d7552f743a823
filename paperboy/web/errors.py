"""The error shape of the API and the feeds, `{"error": {"code", "message"}}`, and its place in
the OpenAPI document: every operation lists the statuses it can answer with this body."""

from __future__ import annotations

from typing import Any

__all__ = ["CODES", "ERROR_SCHEMA", "documented"]

CODES = {400: "bad_request", 401: "sign_in_required", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 413: "request_too_large", 414: "uri_too_long",
         422: "invalid_parameter", 429: "too_many_requests", 500: "internal_error",
         501: "not_implemented", 503: "unavailable"}
_WHEN = {
    400: "A `cursor` that is not one this API gave out.",
    401: "Not signed in: the session cookie is missing, expired or ended.",
    404: "No paper (or nothing else) with that id.",
    413: "A request body over 16 kB.",
    414: "A URL over 4,096 characters.",
    422: "A parameter out of its range or of the wrong type (the message names it).",
    500: "An unexpected error; the message names the request id it was logged under.",
    503: "The word index was found damaged and is being rebuilt from the store.",
}
# What any operation can meet: refusals before routing, parameters, and the unexpected
EVERY_OPERATION = (413, 414, 422, 500)


# written out rather than from a pydantic model: a model's schema would be given the media type
# of the route (text/plain for BibTeX, Atom for feeds), and errors are always JSON
ERROR_SCHEMA = {
    "type": "object", "required": ["error"],
    "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string", "enum": sorted(set(CODES.values()))},
                       "message": {"type": "string"}}}},
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these statuses and those of `EVERY_OPERATION`, each with the
    error shape (JSON) and when it happens."""
    return {status: {"description": f"{CODES[status]}: {_WHEN[status]}",
                     "content": {"application/json": {"schema": ERROR_SCHEMA}}}
            for status in sorted({*statuses, *EVERY_OPERATION})}
