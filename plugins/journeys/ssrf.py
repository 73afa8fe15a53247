"""The SSRF guard for requests Ghost makes itself (journey replay; meant for the core).

Three checks, because each alone has a hole:

1. `check_url` refuses non-HTTP schemes and literal IP hosts in a denied range before
   anything is sent (aiohttp never calls the resolver for a literal IP).
2. `GuardedResolver` resolves a name and drops every address in a denied range; a name
   with no address left is refused.
3. The connector's `socket_factory` sees the address aiohttp actually connects to (after
   DNS caching, happy eyeballs, every redirect and every pooled connection) and refuses a
   denied one, so DNS rebinding between check and connect does not help.

Denied ranges are an explicit list: `ipaddress.is_global` alone passes `::127.0.0.1`,
`64:ff9b::7f00:1` and other wrappers of private IPv4 on these Pythons. A user who means to
replay against a local app lists hosts or networks in the `replay.allow_hosts` setting:
`localhost`, `*.dev.test`, `127.0.0.1`, `10.0.0.0/8`.

A guard is made per task and keeps what it refused, so callers can say why a connection
failed; nothing here is shared between tasks.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_SETTING = "replay.allow_hosts"

# (network, why) — every range a server-side request must not reach by accident.
DENIED_NETWORKS: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(cidr), why)
    for cidr, why in (
        ("0.0.0.0/8", "'this' network"),
        ("10.0.0.0/8", "private network"),
        ("100.64.0.0/10", "carrier-grade NAT"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local (cloud metadata)"),
        ("172.16.0.0/12", "private network"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation (TEST-NET-1)"),
        ("192.88.99.0/24", "6to4 relay anycast"),
        ("192.168.0.0/16", "private network"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation (TEST-NET-2)"),
        ("203.0.113.0/24", "documentation (TEST-NET-3)"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("255.255.255.255/32", "broadcast"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::ffff:0:0/96", "IPv4-mapped"),
        ("::/96", "IPv4-compatible"),
        ("::ffff:0:0:0/96", "IPv4-translated"),
        ("64:ff9b::/96", "NAT64"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("100::/64", "discard-only"),
        ("2001::/23", "IETF protocol assignments (Teredo, ORCHID)"),
        ("2001:db8::/32", "documentation"),
        ("2002::/16", "6to4"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "segment routing SIDs"),
        ("fc00::/7", "unique local (incl. fd00:ec2::254 metadata)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)


class SsrfRefused(OSError):
    """An outbound request or connection was refused by the guard; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.EACCES, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def denied_reason(address: IPAddress) -> str:
    """Why an address may not be reached ("" when it may)."""
    for network, why in DENIED_NETWORKS:
        if address.version == network.version and address in network:
            return f"{why} {network}"
    # Belt and braces for anything the list above misses.
    if address.is_loopback or address.is_private or address.is_link_local:
        return "non-public address"
    if address.is_multicast or address.is_reserved or address.is_unspecified:
        return "reserved address"
    return ""


def _normalized(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True, slots=True)
class AllowList:
    """Hosts (exact or `*.suffix`) and networks a user allows Ghost to reach anyway."""

    hosts: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        """Entries are IPs, CIDRs, host names or `*.domain` wildcards; ValueError names a bad one."""
        hosts: set[str] = set()
        suffixes: list[str] = []
        networks: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip().lower().strip("[]")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            if entry.startswith("*."):
                name, target = entry[2:], suffixes
            else:
                name, target = entry, None
            if not _is_hostname(name):
                raise ValueError(
                    f"allow-list entry {raw!r} is not a host name, *.domain wildcard, IP address or CIDR"
                )
            if target is None:
                hosts.add(name.rstrip("."))
            else:
                target.append("." + name.rstrip("."))
        return cls(frozenset(hosts), tuple(suffixes), tuple(networks))

    def allows_host(self, host: str) -> bool:
        name = host.lower().strip("[]").rstrip(".")
        if name in self.hosts or any(name.endswith(s) for s in self.suffixes):
            return True
        try:
            return self.allows_ip(ipaddress.ip_address(name))
        except ValueError:
            return False

    def allows_ip(self, address: IPAddress) -> bool:
        candidates = {address, _normalized(address)}
        return any(a.version == n.version and a in n for a in candidates for n in self.networks)


def _is_hostname(name: str) -> bool:
    labels = name.rstrip(".").split(".")
    return bool(name) and len(name) <= 253 and all(
        0 < len(label) <= 63 and label.replace("-", "").replace("_", "").isalnum() for label in labels
    )


@dataclass(slots=True)
class OutboundGuard:
    """The three checks for one outbound task; `refusals` explains failed connections."""

    allow: AllowList = field(default_factory=AllowList)
    # Addresses never reached, allow-list or not: Ghost's own API (host, port).
    blocked: frozenset[tuple[str, int]] = frozenset()
    refusals: list[str] = field(default_factory=list)
    allowed_by_name: set[IPAddress] = field(default_factory=set, init=False, repr=False)

    def refuse(self, message: str) -> SsrfRefused:
        self.refusals.append(message)
        return SsrfRefused(message)

    def check_port(self, address: IPAddress, port: int) -> None:
        if (str(_normalized(address)), port) in self.blocked or (str(address), port) in self.blocked:
            raise self.refuse(f"refusing to connect to {address}:{port}: it is Ghost's own API")

    def check_address(self, address: IPAddress, host: str = "") -> None:
        if self.allow.allows_ip(address) or address in self.allowed_by_name:
            return
        if host and self.allow.allows_host(host):
            return
        reason = denied_reason(address)
        if reason:
            label = f"{host} ({address})" if host and host != str(address) else str(address)
            raise self.refuse(
                f"refusing to connect to {label}: {reason}; add it to {ALLOW_SETTING} to allow"
            )

    def check_url(self, url: str) -> None:
        """Scheme and literal-IP checks, done before a request (and each redirect) is sent."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise self.refuse(f"refusing {url!r}: only http and https URLs are replayed")
        host = parts.hostname or ""
        if not host:
            raise self.refuse(f"refusing {url!r}: the URL has no host")
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return  # a name: the resolver and the socket factory check what it resolves to
        self.check_port(address, parts.port or (443 if parts.scheme == "https" else 80))
        self.check_address(address, host)

    def socket_factory(self, addr_info: tuple[int, int, int, str, tuple]) -> socket.socket:  # type: ignore[type-arg]
        family, type_, proto, _, sockaddr = addr_info
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        self.check_port(address, int(sockaddr[1]))
        self.check_address(address)
        return socket.socket(family=family, type=type_, proto=proto)

    def connector(self, **kwargs: object) -> aiohttp.TCPConnector:
        return aiohttp.TCPConnector(
            resolver=GuardedResolver(self),
            socket_factory=self.socket_factory,
            use_dns_cache=False,
            **kwargs,  # type: ignore[arg-type]
        )


class GuardedResolver(AbstractResolver):
    """Resolves with aiohttp's default resolver and drops denied addresses."""

    def __init__(self, guard: OutboundGuard, inner: AbstractResolver | None = None) -> None:
        self.guard = guard
        self.inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self.inner.resolve(host, port, family)
        if self.guard.allow.allows_host(host):
            for result in results:
                self.guard.allowed_by_name.add(ipaddress.ip_address(result["host"]))
            return results
        kept, refused = [], []
        for result in results:
            address = ipaddress.ip_address(result["host"])
            if self.guard.allow.allows_ip(address) or not denied_reason(address):
                kept.append(result)
            else:
                refused.append(f"{address} ({denied_reason(address)})")
        if not kept:
            raise self.guard.refuse(
                f"refusing to connect to {host}: it resolves only to {', '.join(refused)}; "
                f"add it to {ALLOW_SETTING} to allow"
            )
        return kept

    async def close(self) -> None:
        await self.inner.close()
