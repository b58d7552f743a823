"""The web app: server-rendered pages (Jinja2 + htmx), the JSON API and Atom feeds."""

from paperboy.web.app import create_app

__all__ = ["create_app"]
