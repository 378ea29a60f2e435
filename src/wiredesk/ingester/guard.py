"""The SSRF guard: which URLs the ingester may fetch, and which addresses it may connect to.

Only http(s), and only hosts whose every address is public, unless an operator allow-listed the
network (``WIREDESK_FETCH_ALLOW_NETWORKS``). The address check runs inside the HTTP client's
connection step (``GuardedBackend``): the addresses that were checked are the ones connected to,
so a name that resolves to a public address for the check and a private one for the connection
(DNS rebinding) gets nowhere. Every redirect hop opens its connections through the same backend.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpcore
from httpcore._backends.sync import SyncBackend

from wiredesk.config import env_name

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]

ALLOWED_SCHEMES = frozenset({"http", "https"})


class BlockedURL(Exception):
    """The guard refused a URL; the message says why."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# IPv6 prefixes whose last 32 bits are an IPv4 address that a translator or the host itself
# reaches: NAT64's well-known prefix (RFC 6052) and the deprecated IPv4-compatible form.
_IPV4_IN_LAST_32_BITS = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("::/96"))


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address leads to (mapped, 6to4, NAT64, IPv4-compatible)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if any(address in prefix for prefix in _IPV4_IN_LAST_32_BITS):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.ipv4_mapped or address.sixtofour


def address_allowed(address: Address, allow: Iterable[Network]) -> bool:
    """True if ``address`` is public, or inside an allow-listed network. An IPv6 address that
    carries an IPv4 one (NAT64, 6to4, mapped) must pass as that IPv4 address too: 64:ff9b::a00:1
    is 10.0.0.1 behind a NAT64 gateway."""
    inner = _embedded_ipv4(address)
    if inner is not None:
        return address_allowed(inner, allow)
    if any(address in network for network in allow):
        return True
    return address.is_global and not address.is_multicast


def check_scheme(url: str) -> str:
    """Return the URL's host if its scheme is http(s) and it names one; else raise BlockedURL."""
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES:
        raise BlockedURL(f"scheme {parts.scheme!r} is not http or https")
    if not parts.hostname:
        raise BlockedURL("no host in URL")
    return parts.hostname


def allowed_addresses(host: str, port: int, allow: Iterable[Network],
                      resolve: Resolver = system_resolver) -> list[str]:
    """The addresses ``host`` may be reached at, or BlockedURL if any of them is non-public.

    A name that does not resolve is httpcore.ConnectError: a failed connection (an expired
    domain, a resolver outage), not a refusal by the guard."""
    host = host.strip("[]")
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = list(resolve(host, port))
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
    if not addresses:
        raise httpcore.ConnectError(f"cannot resolve {host}: no address")
    allow = tuple(allow)
    for raw in addresses:
        # One bad address refuses the name: an attacker controls the order a resolver returns.
        if not address_allowed(ipaddress.ip_address(raw), allow):
            raise BlockedURL(f"{host} resolves to non-public address {raw} "
                             f"({env_name('fetch_allow_networks')} lets a network through)")
    return addresses


def check_url(url: str, allow: Iterable[Network], resolve: Resolver = system_resolver) -> list[str]:
    """Return the addresses ``url`` may be fetched from, or raise BlockedURL."""
    host = check_scheme(url)
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return allowed_addresses(host, port, allow, resolve)


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore network backend that resolves, checks, and connects to the checked address.

    TLS still uses the URL's host name for SNI and certificate checks (httpcore passes the
    origin's host to ``start_tls``), and the Host header is untouched: only the TCP connect
    is pinned to an address the guard approved.
    """

    def __init__(self, allow: Iterable[Network], resolve: Resolver = system_resolver,
                 backend: httpcore.NetworkBackend | None = None):
        self.allow = tuple(allow)
        self.resolve = resolve
        self.backend = backend or SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        """Connect to the first approved address of ``host`` that answers."""
        addresses = allowed_addresses(host, port, self.allow, self.resolve)
        last: Exception | None = None
        for address in addresses:
            try:
                return self.backend.connect_tcp(address, port, timeout=timeout,
                                                local_address=local_address,
                                                socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        raise BlockedURL("unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        self.backend.sleep(seconds)
