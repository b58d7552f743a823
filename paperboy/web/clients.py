"""Which client a request comes from, behind the reverse proxies the operator names.

Rate limits count per client. Behind a proxy every request arrives from the proxy's address, so
the client is read from `X-Forwarded-For`, but only when the request comes from a proxy named in
`PAPERBOY_TRUSTED_PROXIES`: anyone else could write any address there. The header is read from
the right (the hop the trusted proxy added) leftwards, past every trusted proxy, and the first
address that is not one is the client (as nginx's `real_ip_recursive` does).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(setting: str) -> list[Network]:
    """The networks of a comma-separated list of addresses and CIDR blocks; ValueError names
    the first that is neither."""
    networks = []
    for part in (p.strip() for p in setting.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"PAPERBOY_TRUSTED_PROXIES: {part!r} is not an address or a "
                             "network such as 10.0.0.0/8") from None
    return networks


def client_address(peer: str, forwarded_for: str | None,
                   trusted: Sequence[Network]) -> str:
    """The client's address: `peer` itself unless it is a trusted proxy."""
    if not trusted or not _within(peer, trusted):
        return peer
    client = peer
    for hop in reversed((forwarded_for or "").split(",")):
        hop = hop.strip()
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # a malformed hop: trust nothing further left
        client = hop
        if not _within(hop, trusted):
            break
    return client


def _within(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)
