"""What the Fetcher may fetch: a well-formed http(s) URL whose host resolves only to public
addresses (the address guard; ``fetch.allow_private_addresses`` switches the second half off).

The guard resolves the name itself before the request reaches the transport, so a custom
transport cannot skip it. The connection resolves the name again, so a DNS answer that changes
between the two lookups (rebinding) is not caught.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import socket

import httpx

from pipeline.core.errors import AddressRefusedError, InvalidURLError, NetworkError

# What a host may look like after IDNA encoding (":" for IPv6 literals, "_" occurs in the wild).
_HOST_CHARACTERS = re.compile(rb"[A-Za-z0-9_.:\-]+")

# First match wins; ranges from the IANA special-purpose address registries.
_IPV4_SPECIAL = (
    ("0.0.0.0/8", "unspecified"),  # "this network"; 0.0.0.0 reaches the local host
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared"),  # carrier-grade NAT
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),  # includes cloud metadata at 169.254.169.254
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "reserved"),  # retired 6to4 relay anycast
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("255.255.255.255/32", "broadcast"),
    ("240.0.0.0/4", "reserved"),
)
_IPV6_SPECIAL = (
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("64:ff9b:1::/48", "private"),  # local-use NAT64
    ("2001::/23", "reserved"),  # IETF protocol assignments, Teredo among them
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("fc00::/7", "private"),  # unique local
    ("fe80::/10", "link-local"),
    ("fec0::/10", "private"),  # deprecated site-local
    ("ff00::/8", "multicast"),
)
_IPV4_RANGES = [(ipaddress.IPv4Network(network), name) for network, name in _IPV4_SPECIAL]
_IPV6_RANGES = [(ipaddress.IPv6Network(network), name) for network, name in _IPV6_SPECIAL]
_IPV6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")  # all public IPv6 space lies here
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def classify_address(address: str) -> str | None:
    """The class of a non-public IP address ('loopback', 'private', 'link-local', 'shared',
    'reserved', 'multicast', 'unspecified', 'broadcast', 'documentation', 'benchmarking'),
    or None for a public, fetchable address.

    IPv6 forms that carry an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, NAT64
    ``64:ff9b::a.b.c.d``, 6to4 ``2002::/16``) are judged by that IPv4 address. Raises
    ValueError when ``address`` is not an IP address.
    """
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv4Address):
        return _classify_ipv4(ip)
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        return _classify_ipv4(embedded)
    for network, name in _IPV6_RANGES:
        if ip in network:
            return name
    return None if ip in _IPV6_GLOBAL_UNICAST else "reserved"


def _classify_ipv4(ip: ipaddress.IPv4Address) -> str | None:
    for network, name in _IPV4_RANGES:
        if ip in network:
            return name
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def checked_url(url: str | httpx.URL) -> httpx.URL:
    """``url`` parsed, or InvalidURLError unless it is http(s) with a well-formed host."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise InvalidURLError(f"{url!s:.200}: not a valid URL ({exc})") from None
    if parsed.scheme not in ("http", "https"):
        raise InvalidURLError(f"{url!s:.200}: only http and https URLs are fetched")
    if not parsed.host:
        raise InvalidURLError(f"{url!s:.200}: the URL has no host")
    if not _HOST_CHARACTERS.fullmatch(parsed.raw_host):  # httpx percent-encodes "[bad" etc.
        raise InvalidURLError(f"{url!s:.200}: {parsed.host!r} is not a valid host name")
    return parsed


async def refuse_private(target: httpx.URL) -> None:
    """Raise AddressRefusedError when any address of the URL's host is not public."""
    for address in await _addresses_of(target):
        kind = classify_address(address)
        if kind is not None:
            raise AddressRefusedError(
                f"{target.host} resolves to {address}, a {kind} address: refused"
                " (set fetch.allow_private_addresses: true to allow)"
            )


async def _addresses_of(target: httpx.URL) -> list[str]:
    host = target.host
    with contextlib.suppress(ValueError):
        return [str(ipaddress.ip_address(host))]  # an IP literal needs no lookup
    loop = asyncio.get_running_loop()
    try:
        name = target.raw_host.decode("ascii")  # IDNA-encoded by httpx
        infos = await loop.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise NetworkError(f"cannot resolve {host}: {exc.strerror}") from None
    except UnicodeError:
        raise InvalidURLError(f"{host}: not a valid host name") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise NetworkError(f"cannot resolve {host}: no addresses")
    return addresses
