"""The client address that rate limits count: X-Forwarded-For only through trusted proxies."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import NOW, make_settings
from fastapi.testclient import TestClient

from paperboy.clock import FixedClock
from paperboy.embed import HashingEmbedder
from paperboy.service import Paperboy
from paperboy.web.app import create_app
from paperboy.web.clients import client_address, trusted_networks

PROXY = trusted_networks("127.0.0.1, 10.0.0.0/8")


@pytest.mark.parametrize("peer, header, client", [
    ("203.0.113.7", "198.51.100.1", "203.0.113.7"),  # not a proxy: its header is anyone's
    ("127.0.0.1", "198.51.100.1", "198.51.100.1"),
    ("127.0.0.1", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # the left part is the client's say
    ("127.0.0.1", "198.51.100.1, 10.1.2.3", "198.51.100.1"),  # past a second trusted hop
    ("127.0.0.1", None, "127.0.0.1"),
    ("127.0.0.1", "not-an-address", "127.0.0.1"),
    ("127.0.0.1", "2001:db8::1", "2001:db8::1"),
])
def test_the_client_is_the_first_untrusted_hop(peer: str, header: str | None,
                                               client: str) -> None:
    assert client_address(peer, header, PROXY) == client
    assert client_address(peer, header, []) == peer  # no proxies named: the peer


def test_a_bad_proxy_setting_names_itself() -> None:
    with pytest.raises(ValueError, match="PAPERBOY_TRUSTED_PROXIES: 'nginx'"):
        trusted_networks("127.0.0.1,nginx")


def test_behind_a_trusted_proxy_each_reader_has_their_own_rate_limit(tmp_path: Path) -> None:
    service = Paperboy(make_settings(tmp_path / "home", smtp_url=f"file:{tmp_path / 'mail'}",
                                     trusted_proxies="127.0.0.1"),
                       embedder=HashingEmbedder(dim=64), clock=FixedClock(NOW))
    app = create_app(service, base_url="https://papers.example.org")
    with TestClient(app, base_url="https://testserver", client=("127.0.0.1", 5000)) as proxy:
        token = proxy.get("/signin").text.split('name="csrf" value="')[1].split('"')[0]

        def sign_in(address: str, reader: str) -> int:
            return proxy.post("/signin", data={"email": f"{address}@example.org",
                                               "csrf": token},
                              headers={"X-Forwarded-For": reader}).status_code

        # one reader spends the per-client budget (with a new address each time) ...
        codes = [sign_in(f"a{n}", "198.51.100.1") for n in range(40)]
        assert codes[0] == 200 and codes[-1] == 429
        # ... and another reader behind the same proxy is still served
        assert sign_in("b", "198.51.100.2") == 200
    service.close()
