"""The address policy shared by image fetches and callbacks: which URLs and addresses pass."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kirin_video.netpolicy import (
    ABSOLUTE_URL,
    AddressRefused,
    IPAddress,
    check_address,
    parse_callback_url,
    pinned,
    resolve_host,
)

PUBLIC = "93.184.216.34"
DERANDOMIZED = settings(derandomize=True, database=None, deadline=None)


def resolving(*addresses: str) -> Any:
    """A resolver that answers every host with ``addresses``."""

    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(address) for address in addresses]

    return resolve


def pin(
    url: str, *addresses: str, allow_private: bool = False
) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
    return asyncio.run(
        pinned(httpx.URL(url), resolve=resolving(*addresses), allow_private=allow_private)
    )


def refused(url: str, *addresses: str) -> AddressRefused:
    with pytest.raises(AddressRefused) as exc:
        pin(url, *addresses)
    return exc.value


# check_address: each kind of address that is not public, named; public ones in every form pass.


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "not globally routable"),
        ("ff02::1", "multicast"),
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("::ffff:224.0.0.1", "multicast"),
        ("2002:a00:1::", "private (6to4 of 10.0.0.1)"),
        ("2002:7f00:1::", "loopback (6to4 of 127.0.0.1)"),
        ("2002:a9fe:a9fe::", "link-local (6to4 of 169.254.169.254)"),
        ("64:ff9b::a00:1", "private (NAT64 of 10.0.0.1)"),
        ("64:ff9b::7f00:1", "loopback (NAT64 of 127.0.0.1)"),
        ("2001:0:5db8:d822::f5ff:fffe", "private (Teredo client of 10.0.0.1)"),
        ("2001:0:a00:1::a2ff:fffe", "private (Teredo server of 10.0.0.1)"),
        ("64:ff9b:1::5db8:d822", "reserved"),  # local-use NAT64 (RFC 8215): not the well-known one
    ],
)
def test_non_public_addresses_are_refused(address: str, reason: str) -> None:
    assert check_address(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "address",
    [
        PUBLIC,
        "2606:4700:4700::1111",
        f"::ffff:{PUBLIC}",  # IPv4-mapped
        "2002:5db8:d822::",  # 6to4 of 93.184.216.34
        "64:ff9b::5db8:d822",  # NAT64 of 93.184.216.34
        "2001:0:5db8:d822::a2ff:fffe",  # Teredo: server 93.184.216.34, client 93.0.0.1
    ],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert check_address(ipaddress.ip_address(address)) is None


# Every address of a refused network, as sent or wrapped in an IPv6 form.

REFUSED_NETWORKS = [
    ipaddress.ip_network(network)
    for network in (
        "127.0.0.0/8",  # loopback
        "10.0.0.0/8",  # private
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",  # link-local (cloud metadata)
        "224.0.0.0/4",  # multicast
        "::1/128",
        "fc00::/7",  # unique local
        "fe80::/10",
        "ff00::/8",
    )
]
WRAPPED = {
    "mapped": lambda v4: ipaddress.IPv6Address(f"::ffff:{v4}"),
    "6to4": lambda v4: ipaddress.IPv6Address((0x2002 << 112) | (int(v4) << 80)),
    "NAT64": lambda v4: ipaddress.IPv6Address(f"64:ff9b::{v4}"),
}


@st.composite
def refused_addresses(draw: st.DrawFn) -> IPAddress:
    """An address inside a loopback, private, link-local or multicast network, in any form."""
    network = draw(st.sampled_from(REFUSED_NETWORKS))
    address = network[draw(st.integers(0, network.num_addresses - 1))]
    if isinstance(address, ipaddress.IPv4Address):
        form = draw(st.sampled_from([None, *WRAPPED]))
        return address if form is None else WRAPPED[form](address)
    return address


@settings(DERANDOMIZED, max_examples=300)
@given(address=refused_addresses())
def test_every_address_of_a_refused_network_is_refused(address: IPAddress) -> None:
    assert check_address(address) is not None, address


# pinned: the connection goes to the checked address, with the name the client gave.


def test_pinned_connects_to_the_checked_address_with_the_host_and_tls_name() -> None:
    target, headers, extensions = pin("https://cdn.test:8443/a.png?x=1", PUBLIC)
    assert target == httpx.URL(f"https://{PUBLIC}:8443/a.png?x=1")
    assert headers == {"Host": "cdn.test:8443"}
    assert extensions == {"sni_hostname": "cdn.test"}


def test_pinned_plain_http_needs_no_tls_name() -> None:
    target, headers, extensions = pin("http://cdn.test/a", PUBLIC)
    assert (target, headers, extensions) == (
        httpx.URL(f"http://{PUBLIC}/a"),
        {"Host": "cdn.test"},
        {},
    )


def test_pinned_ipv6_address_is_bracketed_in_the_target() -> None:
    target, _, _ = pin("http://cdn.test/a", "2606:4700:4700::1111")
    assert str(target) == "http://[2606:4700:4700::1111]/a"


def test_a_host_with_any_private_address_is_refused() -> None:
    exc = refused("http://mixed.test/x", PUBLIC, "10.0.0.7")
    assert exc.rule == "URL must point to a public address"
    assert exc.detail == "mixed.test resolves to an address not allowed here (private)"


@pytest.mark.parametrize(
    ("url", "addresses", "detail"),
    [
        (
            "http://tunnel.test/x",
            ("2002:a9fe:a9fe::",),
            "tunnel.test resolves to an address not allowed here (link-local)",
        ),
        ("http://127.0.0.1:8080/x", ("127.0.0.1",), "127.0.0.1 is not allowed here (loopback)"),
        (
            "http://[2002:7f00:1::]/x",
            ("2002:7f00:1::",),
            "2002:7f00:1:: is not allowed here (loopback (6to4 of 127.0.0.1))",
        ),
    ],
)
def test_a_refusal_names_the_address_only_when_the_client_sent_it(
    url: str, addresses: tuple[str, ...], detail: str
) -> None:
    exc = refused(url, *addresses)
    assert exc.detail == detail
    if "resolves" in detail:
        assert all(address not in exc.detail for address in addresses)


def test_allow_private_lifts_the_address_rule() -> None:
    target, _, _ = pin("http://local.test:8080/x", "127.0.0.1", allow_private=True)
    assert target == httpx.URL("http://127.0.0.1:8080/x")


@pytest.mark.parametrize("url", ["ftp://cdn.test/x", "file:///etc/passwd"])
def test_pinned_refuses_schemes_other_than_http_and_https(url: str) -> None:
    exc = refused(url, PUBLIC)
    assert exc.rule == ABSOLUTE_URL
    assert exc.detail == f"scheme {httpx.URL(url).scheme!r}"


def test_a_host_that_resolves_to_nothing_is_refused() -> None:
    exc = refused("http://void.test/x")
    assert (exc.rule, exc.detail) == ("URL host must resolve", "void.test does not resolve")


def test_a_resolver_failure_is_refused_without_its_errno_text() -> None:
    async def failing(host: str, port: int) -> list[IPAddress]:
        raise OSError(-2, "Name or service not known")

    with pytest.raises(AddressRefused) as exc:
        asyncio.run(pinned(httpx.URL("http://gone.test/x"), resolve=failing, allow_private=False))
    assert exc.value.rule == "URL host must resolve"
    assert exc.value.detail == "gone.test does not resolve"


def test_resolve_host_answers_a_literal_address_without_dns() -> None:
    assert asyncio.run(resolve_host("127.0.0.1", 80)) == [ipaddress.IPv4Address("127.0.0.1")]


# parse_callback_url: what the sender can parse, refused up front when it cannot.


@pytest.mark.parametrize(
    "url", ["https://hooks.test/kirin", "http://203.0.113.9:8080/cb?x=1", "https://[2001:db8::1]/"]
)
def test_absolute_http_urls_parse(url: str) -> None:
    assert parse_callback_url(url) == httpx.URL(url)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.test/x",
        "hooks.test/x",
        "http:///x",
        "http://[::1/x",
        "http://256.256.256.256/x",
        "http://hooks.test\x00/x",
        "http://☃.test/x",
        "http://hooks.test:99999/x",
    ],
)
def test_urls_the_sender_cannot_use_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match=ABSOLUTE_URL):
        parse_callback_url(url)
