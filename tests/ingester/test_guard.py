"""The SSRF guard's decisions, checked without ever connecting to the refused addresses."""

from __future__ import annotations

import ipaddress

import pytest

from wiredesk.ingester.guard import BlockedURL, check_url

LOOPBACK = (ipaddress.ip_network("127.0.0.1/32"),)


def resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def resolve(host: str, port: int) -> list[str]:
        return table[host]
    return resolve


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/feed",
    "http://192.168.1.10/feed",
    "http://172.16.5.4/feed",
    "http://[::1]/feed",
    "http://[::ffff:127.0.0.1]/feed",
    "http://127.0.0.2/feed",
    "http://0.0.0.0/feed",
    "http://[fd00::1]/feed",
    "http://[64:ff9b::a00:1]/feed",  # NAT64 of 10.0.0.1
    "http://[64:ff9b::a9fe:a9fe]/feed",  # NAT64 of 169.254.169.254
    "http://[2002:a00:1::]/feed",  # 6to4 of 10.0.0.1
    "http://[::7f00:1]/feed",  # IPv4-compatible 127.0.0.1
])
def test_non_public_addresses_are_refused(url: str) -> None:
    with pytest.raises(BlockedURL):
        check_url(url, (), resolver({}))


def test_names_resolving_to_private_addresses_are_refused() -> None:
    table = {"metadata.example": ["169.254.169.254"], "mixed.example": ["93.184.216.34", "10.1.2.3"]}
    for host in table:
        with pytest.raises(BlockedURL, match="non-public"):
            check_url(f"https://{host}/rss", (), resolver(table))


def test_a_refusal_names_the_setting_that_lets_a_private_network_through() -> None:
    """An operator adding a wire on the newsroom's own network read "blocked: ... non-public
    address" in `feeds list` and `ingest --once`, with nothing saying what lets it through."""
    with pytest.raises(BlockedURL, match="WIREDESK_FETCH_ALLOW_NETWORKS"):
        check_url("http://wire.internal/rss", (), resolver({"wire.internal": ["10.0.0.5"]}))


def test_public_names_and_allow_listed_networks_pass() -> None:
    assert check_url("https://news.example/rss", (), resolver(
        {"news.example": ["93.184.216.34"]})) == ["93.184.216.34"]
    assert check_url("http://127.0.0.1:8080/f", LOOPBACK, resolver({})) == ["127.0.0.1"]
    with pytest.raises(BlockedURL):  # the allow-list is exact: 127.0.0.2 stays refused
        check_url("http://127.0.0.2:8080/f", LOOPBACK, resolver({}))
    # An IPv6 form of a public IPv4 address is as public as that address.
    for embedded in ("64:ff9b::5db8:d822", "2002:5db8:d822::"):  # 93.184.216.34
        assert check_url("https://news.example/rss", (), resolver(
            {"news.example": [embedded]})) == [embedded]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/f", "gopher://x/"])
def test_only_http_and_https(url: str) -> None:
    with pytest.raises(BlockedURL, match="scheme"):
        check_url(url, (), resolver({}))
