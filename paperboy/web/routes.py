"""Routes whose sync endpoints answer in one trip to the requests' pool of threads."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from fastapi.datastructures import Default, DefaultPlaceholder
from fastapi.routing import APIRoute

_INFERRED = Default(None)  # FastAPI's own default: no response_model given


class OneTrip(APIRoute):
    """An `APIRoute` whose sync endpoint's answer is not checked against its return
    annotation (`-> dict[str, Any]`, which says nothing a check could catch). FastAPI makes
    that check in a second trip to the worker threads, and there it waits behind every request
    queued meanwhile (app.py: one pool, first come first served), so under load such an
    endpoint answered in twice the time of the others. A declared `response_model` holds."""

    def __init__(self, path: str, endpoint: Callable[..., Any], *,
                 response_model: Any = _INFERRED, **kwargs: Any) -> None:
        if isinstance(response_model, DefaultPlaceholder) and \
                not inspect.iscoroutinefunction(endpoint):
            response_model = None
        super().__init__(path, endpoint, response_model=response_model, **kwargs)
