"""The SSRF guard: which URLs the ingester may fetch.

Only http(s), and only hosts whose every address is public, unless an operator allow-listed the
network (``WIREDESK_FETCH_ALLOW_NETWORKS``). Checked again on every redirect hop.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]


class BlockedURL(Exception):
    """The guard refused a URL; the message says why."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _unmapped(address: Address) -> Address:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def address_allowed(address: Address, allow: Iterable[Network]) -> bool:
    """True if ``address`` is public, or inside an allow-listed network."""
    address = _unmapped(address)
    if any(address in network for network in allow):
        return True
    return address.is_global and not address.is_multicast


def check_url(url: str, allow: Iterable[Network], resolve: Resolver = system_resolver) -> list[str]:
    """Return the addresses ``url`` may be fetched from, or raise BlockedURL."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise BlockedURL(f"scheme {parts.scheme!r} is not http or https")
    host = parts.hostname
    if not host:
        raise BlockedURL("no host in URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        literal = ipaddress.ip_address(host)
        addresses = [str(literal)]
    except ValueError:
        try:
            addresses = list(resolve(host, port))
        except OSError as exc:
            raise BlockedURL(f"cannot resolve {host}: {exc}") from exc
    if not addresses:
        raise BlockedURL(f"{host} resolves to nothing")
    allow = tuple(allow)
    for raw in addresses:
        if not address_allowed(ipaddress.ip_address(raw), allow):
            raise BlockedURL(f"{host} resolves to non-public address {raw}")
    return addresses
