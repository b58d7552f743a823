"""`/api/docs`: the JSON API described for people, from the app's own OpenAPI schema.

Swagger UI and ReDoc load their scripts from a CDN, which an offline install cannot reach; this
page is plain server-rendered HTML (no script), so it works wherever Paperboy does. Machines
read the same description at `/openapi.json`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from paperboy.web.render import render

router = APIRouter()
_METHODS = ("get", "post", "put", "patch", "delete")


@router.get("/api", include_in_schema=False)
@router.get("/api/docs", include_in_schema=False)
def api_docs(request: Request) -> Response:
    """A short guide (curl, huggingface_hub, an MCP client) and the reference of every
    operation."""
    schema = request.app.openapi()
    return render(request, "apidocs.html", {
        "title": "API – Paperboy", "info": schema.get("info", {}),
        "groups": operations(schema), "base": request.app.state.base_url,
        "mcp": request.app.state.mcp is not None})


def operations(schema: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The schema's operations grouped by their first tag, in path order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for path, item in schema.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            tag = (operation.get("tags") or ["other"])[0]
            groups.setdefault(tag, []).append({
                "method": method.upper(), "path": path,
                "summary": operation.get("summary", ""),
                "description": operation.get("description", ""),
                "parameters": [_parameter(p) for p in operation.get("parameters", [])],
            })
    return list(groups.items())


def _parameter(parameter: dict[str, Any]) -> dict[str, Any]:
    schema = parameter.get("schema", {})
    kinds = [s.get("type") or s.get("format") for s in schema.get("anyOf", [schema])]
    limits = ", ".join(f"{name} {schema[key]}" for key, name in (
        ("minimum", "≥"), ("maximum", "≤"), ("maxLength", "at most"),
    ) if key in schema)
    return {"name": parameter.get("name", ""), "where": parameter.get("in", ""),
            "required": parameter.get("required", False),
            "type": " or ".join(k for k in kinds if k and k != "null") or "any",
            "default": schema.get("default"), "limits": limits,
            "description": parameter.get("description", "")}
