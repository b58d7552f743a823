"""Jinja2 rendering for pages: autoescaped templates, with what every page shows (navigation,
the subscribe box, the page's feeds) filled in."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from starlette.responses import Response

from paperboy.signals.trending import WINDOWS
from paperboy.web.session import current_reader

# The templates ship with the package and do not change while it serves: with auto_reload on,
# Jinja stats every template (and each it extends or includes) on every page, which was 60% of
# a search page's rendering under load (py-spy, bench/serve.py).
templates = Jinja2Templates(env=Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True,
    auto_reload=False))
templates.env.globals["windows"] = list(WINDOWS)
templates.env.filters["day"] = lambda value: (value or "")[:10]


def shown_date(item: Any) -> str:
    """A paper's or a hit's first-published date as precise as it is known: `2025-03-18`, or
    `2025-03` for one known only to the month of its arXiv id."""
    get = item.get if isinstance(item, dict) else lambda name: getattr(item, name, None)
    published = get("published") or ""
    return published[:7] if get("published_precision") == "month" else published[:10]


templates.env.filters["when"] = shown_date
templates.env.filters["query"] = lambda params: urlencode(
    {k: v for k, v in params.items() if v not in (None, "", False)})


def render(request: Request, name: str, context: dict[str, Any], *,
           status_code: int = 200) -> Response:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    context = {"feeds": [], "reader": current_reader(request), "here": here[:500],
               "can_mail": request.app.state.accounts.mailer is not None,
               # a demo over older data runs on a clock shifted back to the data's last day
               "as_of": getattr(request.app.state.service.clock, "as_of", None),
               "csrf_token": request.app.state.sessions.csrf_token(request), **context}
    return templates.TemplateResponse(request, name, context, status_code=status_code)
