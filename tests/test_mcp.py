"""The MCP server with the `mcp` package's own client: `paperboy mcp` over stdio and
`paperboy serve` at /mcp over streamable HTTP, both real subprocesses; the tools answer what
Paperboy's own API answers, with their reasons, and refuse bad arguments in words."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import free_port, serving
from conftest import fixture_home
from mcp import Client, StdioServerParameters

MODEL = "hashing-64"
TOOLS = {"search", "paper", "similar", "trending", "daily"}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fixture_home(tmp_path_factory.mktemp("mcp") / "home", MODEL)


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    return {**os.environ, "PAPERBOY_DATABASE_URL": "", "PAPERBOY_EMBEDDING_MODEL": MODEL}


@pytest.fixture(scope="module")
def server(home: Path, env: dict[str, str]) -> Iterator[str]:
    with serving(home, free_port(), env) as url:
        yield url


def _data(result: Any) -> Any:
    assert not result.is_error, result.content
    return result.structured_content if result.structured_content is not None else \
        json.loads(result.content[0].text)


async def _session(target: Any, server: str) -> dict[str, Any]:
    """What one agent session sees: the tools, answers to each, errors, a paper resource."""
    async with Client(target) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        searched = _data(await client.call_tool("search", {
            "query": "kernel thinning", "mode": "lexical", "limit": 5}))
        paper = _data(await client.call_tool("paper", {"id": "2202.12139"}))
        similar = _data(await client.call_tool("similar", {"id": "2202.12139", "limit": 3}))
        trending = _data(await client.call_tool("trending", {"window": "month", "limit": 3}))
        daily = _data(await client.call_tool("daily", {"date": "2026-06-11"}))
        missing = await client.call_tool("paper", {"id": "2612.99999"})
        too_many = await client.call_tool("search", {"query": "kernel", "limit": 500})
        bad_day = await client.call_tool("daily", {"date": "yesterday"})
        templates = (await client.list_resource_templates()).resource_templates
        resource = await client.read_resource("paperboy://papers/2202.12139")
    return {"tools": tools, "search": searched, "paper": paper, "similar": similar,
            "trending": trending, "daily": daily, "errors": [missing, too_many, bad_day],
            "templates": templates, "resource": resource}


def _check(seen: dict[str, Any], server: str) -> None:
    assert set(seen["tools"]) == TOOLS
    assert all(t.annotations and t.annotations.read_only_hint for t in seen["tools"].values())
    own = httpx.get(f"{server}/api/search", params={"q": "kernel thinning", "mode": "lexical",
                                                    "limit": 5}).json()
    assert [r["id"] for r in seen["search"]["results"]] == [r["id"] for r in own["results"]]
    assert all(r["matched_terms"] for r in seen["search"]["results"])  # the reasons
    card = httpx.get(f"{server}/api/papers/2202.12139").json()
    assert seen["paper"]["title"] == card["title"] and seen["paper"]["abstract"] == \
        card["abstract"]
    assert seen["paper"]["bibtex"].startswith("@") and seen["paper"]["links"]["pdf"]
    assert len(seen["similar"]["results"]) == 3
    assert [e["id"] for e in seen["trending"]["results"]] == [
        e["id"] for e in httpx.get(f"{server}/api/trending",
                                   params={"window": "month", "limit": 3}).json()["results"]]
    day = httpx.get(f"{server}/api/daily/2026-06-11").json()
    assert [p["id"] for p in seen["daily"]["results"]] == [p["id"] for p in day["results"]]
    said = [e.content[0].text for e in seen["errors"]]
    assert all(e.is_error for e in seen["errors"]), said
    assert "no paper with id '2612.99999'" in said[0] and "limit must be 1 to 50" in said[1]
    assert "YYYY-MM-DD" in said[2]
    assert [t.uri_template for t in seen["templates"]] == ["paperboy://papers/{paper_id}"]
    (content,) = seen["resource"].contents
    assert content.mime_type == "text/markdown" and content.text.startswith(f"# {card['title']}")


def test_the_mcp_client_over_stdio(home: Path, env: dict[str, str], server: str) -> None:
    command = StdioServerParameters(command=sys.executable, args=[
        "-m", "paperboy", "--home", str(home), "mcp"], env=env)
    _check(asyncio.run(_session(command, server)), server)


def test_the_mcp_client_over_http_and_the_setting_that_turns_it_off(
        home: Path, env: dict[str, str], server: str) -> None:
    _check(asyncio.run(_session(f"{server}/mcp", server)), server)
    # another site's page cannot reach it through the reader's browser (DNS rebinding)
    rebound = httpx.post(f"{server}/mcp", headers={"Host": "evil.example"}, json={})
    assert rebound.status_code in (400, 403, 421)
    with serving(home, free_port(), {**env, "PAPERBOY_MCP": "0"}) as other:
        assert httpx.post(f"{other}/mcp", json={}).status_code in (404, 405)
