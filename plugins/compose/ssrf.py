"""SSRF guard for requests Ghost itself sends (composer, replay, integrations).

Ghost resolves the host, refuses loopback, private, link-local, cloud-metadata,
multicast, reserved and tunnelled (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo)
addresses from an explicit deny list — ``ipaddress.is_global`` alone lets through
``::127.0.0.1`` and ``64:ff9b::7f00:1`` on these Pythons — and checks the address each
socket really connects to (aiohttp skips the resolver for literal IPs; its
``socket_factory`` sees every address), so every redirect hop is checked too.

An allow-list (setting ``replay.allow_hosts``: host names, ``*.suffix`` wildcards, IPs or
CIDRs) lets a user reach a local app on purpose.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_DENY_V4: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "a 'this network' address"),
    ("10.0.0.0/8", "a private address"),
    ("100.64.0.0/10", "a carrier-grade NAT address"),
    ("127.0.0.0/8", "a loopback address"),
    ("169.254.0.0/16", "a link-local address (cloud metadata lives here)"),
    ("172.16.0.0/12", "a private address"),
    ("192.0.0.0/24", "an IETF protocol address"),
    ("192.0.2.0/24", "a documentation address"),
    ("192.88.99.0/24", "a 6to4 relay address"),
    ("192.168.0.0/16", "a private address"),
    ("198.18.0.0/15", "a benchmarking address"),
    ("198.51.100.0/24", "a documentation address"),
    ("203.0.113.0/24", "a documentation address"),
    ("224.0.0.0/4", "a multicast address"),
    ("240.0.0.0/4", "a reserved address"),
    ("255.255.255.255/32", "the broadcast address"),
)
_DENY_V6: tuple[tuple[str, str], ...] = (
    ("::/128", "the unspecified address"),
    ("::1/128", "a loopback address"),
    ("fc00::/7", "a unique-local (private) address"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a site-local address"),
    ("ff00::/8", "a multicast address"),
    ("100::/64", "a discard-only address"),
    ("2001:db8::/32", "a documentation address"),
    ("2001::/32", "a Teredo tunnel address"),
    ("fd00:ec2::254/128", "a cloud metadata address"),
)
DENY_NETWORKS: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(net), why) for net, why in _DENY_V4 + _DENY_V6)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPAT = ipaddress.ip_network("::/96")
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")


class SsrfRefused(Exception):
    """Ghost refused to connect; the message says which address and why."""


def forbidden_reason(address: IPAddress) -> str | None:
    """Why Ghost must not connect to ``address`` on its own, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded: ipaddress.IPv4Address | None = None
        if address.ipv4_mapped is not None:
            embedded = address.ipv4_mapped
        elif address in _IPV4_COMPAT and int(address) > 1:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        elif any(address in net for net in _NAT64):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        elif address in _SIX_TO_FOUR:
            embedded = address.sixtofour
        if embedded is not None:
            inner = forbidden_reason(embedded)
            return f"an IPv6 address embedding {embedded} ({inner})" if inner else None
    for net, why in DENY_NETWORKS:
        if address.version == net.version and address in net:
            return why
    return None


def parse_allow_list(entries: Iterable[str]) -> tuple[list[str], list[IPNetwork]]:
    """Split allow-list entries into host patterns and networks; ValueError on junk."""
    hosts: list[str] = []
    nets: list[IPNetwork] = []
    for raw in entries:
        entry = str(raw).strip().lower()
        if not entry:
            continue
        try:
            nets.append(ipaddress.ip_network(entry, strict=False))
            continue
        except ValueError:
            pass
        if any(c in entry for c in "/ :") and not entry.startswith("["):
            raise ValueError(f"allow-list entry {raw!r} is neither a host name nor a CIDR")
        hosts.append(entry.strip("[]").rstrip("."))
    return hosts, nets


@dataclass
class SsrfGuard:
    """One guard per outgoing request (it remembers which resolved addresses belong to an
    allow-listed host name)."""

    allow: list[str] = field(default_factory=list)
    blocked_ports: set[tuple[str, int]] = field(default_factory=set)  # e.g. Ghost's own API
    _hosts: list[str] = field(init=False, default_factory=list)
    _nets: list[IPNetwork] = field(init=False, default_factory=list)
    _approved: set[str] = field(init=False, default_factory=set)
    refused: list[str] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self._hosts, self._nets = parse_allow_list(self.allow)

    def host_allowed(self, host: str) -> bool:
        name = host.lower().strip("[]").rstrip(".")
        for pattern in self._hosts:
            if pattern.startswith("*."):
                if name.endswith(pattern[1:]) or name == pattern[2:]:
                    return True
            elif name == pattern:
                return True
        return False

    def address_allowed(self, address: IPAddress) -> bool:
        return any(address.version == n.version and address in n for n in self._nets)

    def check_address(self, ip: str, host: str = "", port: int | None = None) -> None:
        """Raise SsrfRefused unless Ghost may connect to ``ip`` (for ``host``)."""
        address = ipaddress.ip_address(ip.split("%", 1)[0])
        if port is not None and (str(address), port) in self.blocked_ports:
            self._refuse(f"{address}:{port} is Ghost's own API")
        if str(address) in self._approved or self.address_allowed(address):
            return
        if host and self.host_allowed(host):
            return
        reason = forbidden_reason(address)
        if reason:
            self._refuse(f"{host or address} resolves to {address}, {reason}; add it to "
                         "replay.allow_hosts to allow it")

    def _refuse(self, message: str) -> None:
        self.refused.append(message)
        raise SsrfRefused(message)

    def approve(self, ip: str) -> None:
        self._approved.add(ip)

    def socket_factory(self, addr_info: Any) -> socket.socket:
        """aiohttp's socket_factory: the last look at the address before connect()."""
        family, type_, proto, _canon, sockaddr = addr_info
        try:
            self.check_address(str(sockaddr[0]), port=int(sockaddr[1]))
        except SsrfRefused as exc:
            raise OSError(str(exc)) from None
        return socket.socket(family=family, type=type_, proto=proto)

    def connector(self, **kwargs: Any) -> aiohttp.TCPConnector:
        return aiohttp.TCPConnector(resolver=GuardedResolver(self),
                                    socket_factory=self.socket_factory, **kwargs)


class GuardedResolver(AbstractResolver):
    """Resolves, then drops forbidden addresses (remembering allow-listed ones)."""

    def __init__(self, guard: SsrfGuard) -> None:
        self.guard = guard
        self.inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self.inner.resolve(host, port, family)
        allowed_name = self.guard.host_allowed(host)
        kept: list[ResolveResult] = []
        reasons: list[str] = []
        for result in results:
            if allowed_name:
                self.guard.approve(result["host"])
                kept.append(result)
                continue
            try:
                self.guard.check_address(result["host"], host)
            except SsrfRefused as exc:
                reasons.append(str(exc))
                continue
            kept.append(result)
        if not kept:
            raise OSError(reasons[0] if reasons else f"{host} did not resolve")
        return kept

    async def close(self) -> None:
        await self.inner.close()
