"""The web app (`paperboy.web.app.create_app`): server-rendered pages (Jinja2 + htmx), the JSON
API and Atom feeds."""
