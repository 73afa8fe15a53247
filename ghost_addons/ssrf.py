"""The one SSRF guard for requests Ghost makes itself (composer, journey replay, integrations).

Each check alone has a hole, so there are four:

1. `OutboundGuard.check_url` refuses non-HTTP schemes, Ghost's own API and literal IP hosts
   in a denied range before anything is sent (aiohttp never calls the resolver for a
   literal IP). A session from `OutboundGuard.client_session` runs it for every request and
   for every redirect target aiohttp is about to follow.
2. `GuardedResolver` resolves a name and drops every address in a denied range; a name with
   no address left is refused.
3. The connector's `socket_factory` sees the address aiohttp actually connects to (after DNS
   caching, happy eyeballs, every redirect and every pooled connection) and refuses a denied
   one, so DNS rebinding between check and connect does not help.
4. Ghost's own API (`Ghost.targets_api`) is refused at every one of these points, whatever
   the allow-list says: otherwise a replayed or composed request reaches the API as
   "localhost" with the user's token (mitmweb's CVE-2025-23217).

Denied ranges are an explicit list: `ipaddress.is_global` alone passes `::127.0.0.1`,
`64:ff9b::7f00:1` and other wrappers of private IPv4 on these Pythons. IPv4-mapped and NAT64
(64:ff9b::/96) addresses are judged by the IPv4 address they carry, so DNS64 networks still
reach public hosts; the other wrappers (IPv4-compatible, IPv4-translated, local-use NAT64,
6to4, Teredo) are refused outright. A user who means to reach a local app lists hosts or
networks in the `replay.allow_hosts` setting: `localhost`, `*.dev.test` (`dev.test` and its
subdomains, matched as every host setting is, by `ghost_addons.matching`), `127.0.0.1`,
`10.0.0.0/8`.

A guard is made per task and keeps what it refused (`refusals`), so callers can say why a
connection failed; nothing here is shared between tasks.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from ghost_addons.matching import HostList, compile_hosts, normalize_host

if TYPE_CHECKING:
    from ghost_addons.core import Ghost

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
TargetsApi = Callable[[str, int], bool]

ALLOW_SETTING = "replay.allow_hosts"

# (network, why): every range a server-side request must not reach by accident. The more
# specific entries come first so the reason is the most telling one.
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
        ("::/96", "IPv4-compatible (deprecated)"),
        ("::ffff:0:0:0/96", "IPv4-translated"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("100::/64", "discard-only"),
        ("2001::/32", "Teredo tunnel"),
        ("2001::/23", "IETF protocol assignments (ORCHID and others)"),
        ("2001:db8::/32", "documentation"),
        ("2002::/16", "6to4"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "segment routing SIDs"),
        ("fd00:ec2::254/128", "cloud metadata"),
        ("fc00::/7", "unique local (private)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)

# IPv6 forms that carry an IPv4 address in their last 32 bits and reach exactly that host:
# they are as safe as the address they carry.
_IPV4_CARRIERS: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (ipaddress.IPv6Network("::ffff:0:0/96"), "IPv4-mapped"),
    (ipaddress.IPv6Network("64:ff9b::/96"), "NAT64"),
)


class SsrfRefused(OSError):
    """An outbound request or connection was refused by the guard; the message says why.

    An OSError, so aiohttp reports a refusal in its socket factory as a connection error."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.EACCES, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _carried_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    for network, kind in _IPV4_CARRIERS:
        if address in network:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), kind
    return None


def denied_reason(address: IPAddress) -> str:
    """Why Ghost must not reach ``address`` on its own ("" when it may)."""
    for network, why in DENIED_NETWORKS:
        if address.version == network.version and address in network:
            return f"{why} {network}"
    if isinstance(address, ipaddress.IPv6Address):
        carried = _carried_ipv4(address)
        if carried is not None:
            inner, kind = carried
            reason = denied_reason(inner)
            return f"{kind} address of {inner}, {reason}" if reason else ""
    # Belt and braces for anything the list above misses.
    if address.is_loopback or address.is_private or address.is_link_local:
        return "non-public address"
    if address.is_multicast or address.is_reserved or address.is_unspecified:
        return "reserved address"
    return ""


def _normalized(address: IPAddress) -> IPAddress:
    """The IPv4 address behind an IPv4-mapped one (the same host for a socket)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


_INET_ATON_CHARS = frozenset("0123456789abcdefxABCDEFX.")


def ip_literal(host: str) -> IPAddress | None:
    """The address a host literal names, in every spelling a resolver takes as an address,
    or None for a name: IPv4 in any `inet_aton` form (`127.1`, `2130706433`, `0x7f.0.0.1`,
    `0177.0.0.1`, `0`), which getaddrinfo and so every connect() accept, and IPv6 with or
    without brackets and zone."""
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        return None
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return None
    # inet_aton also takes trailing text after a space ("127.1 x"): only its own characters.
    if host[0].isdigit() and set(host) <= _INET_ATON_CHARS:
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


LOOPBACK = ipaddress.IPv4Address("127.0.0.1")


def is_local_address(address: IPAddress) -> bool:
    """Whether `address` is one of this machine's own: only then can a socket be bound to
    it. No packet is sent (a bind costs a few microseconds)."""
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.bind((str(address), 0))
    except OSError:
        return False
    return True


def is_localhost_name(host: str) -> bool:
    """`localhost` or a name under it, with or without the root's trailing dot (RFC 6761)."""
    name = host.strip("[]").lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


def host_address(host: str) -> IPAddress | None:
    """`ip_literal`, with an IPv4-mapped (`::ffff:7f00:1`) or IPv4-compatible
    (`::127.0.0.1`) address given as the IPv4 address it carries: the host a connection
    to it reaches, for deciding whether it is this machine."""
    address = ip_literal(host)
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if int(address) >> 32 == 0 and int(address) > 1:  # IPv4-compatible; not :: or ::1
            return ipaddress.IPv4Address(int(address))
    return address


def _is_hostname(name: str) -> bool:
    labels = name.rstrip(".").split(".")
    return bool(name) and len(name) <= 253 and all(
        0 < len(label) <= 63 and label.replace("-", "").replace("_", "").isalnum() for label in labels
    )


@dataclass(frozen=True, slots=True)
class AllowList:
    """Hosts (an exact name or `*.domain`) and networks a user allows Ghost to reach anyway.

    Host entries are matched by the core's one host matcher (`ghost_addons.matching`), so
    `*.dev.test` allows `dev.test` and its subdomains, as in every other host setting. Only
    those two forms are taken: a wider glob here would open private addresses by accident."""

    hosts: tuple[str, ...] = ()
    networks: tuple[IPNetwork, ...] = ()
    _match: HostList = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_match", compile_hosts(self.hosts))

    @classmethod
    def parse(cls, entries: Iterable[object]) -> AllowList:
        """Entries are IPs, CIDRs, host names or `*.domain` wildcards; ValueError names a bad one."""
        hosts: list[str] = []
        networks: list[IPNetwork] = []
        for raw in entries:
            entry = str(raw).strip().lower().strip("[]")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            wildcard = entry.startswith("*.")
            name = entry[2:] if wildcard else entry
            if not _is_hostname(name):
                raise ValueError(
                    f"allow-list entry {raw!r} is not a host name, *.domain wildcard, IP address or CIDR"
                )
            hosts.append(("*." if wildcard else "") + name.rstrip("."))
        return cls(tuple(hosts), tuple(networks))

    def allows_host(self, host: str) -> bool:
        """An allowed name (`*.domain` covers the domain and its subdomains), or an IP
        literal inside an allowed network."""
        if self._match(host):
            return True
        try:
            return self.allows_ip(ipaddress.ip_address(normalize_host(host)))
        except ValueError:
            return False

    def allows_ip(self, address: IPAddress) -> bool:
        candidates = {address, _normalized(address)}
        return any(a.version == n.version and a in n for a in candidates for n in self.networks)


@dataclass(slots=True)
class OutboundGuard:
    """The checks for one outbound task; `refusals` explains failed connections.

    ``targets_api(host, port)`` says whether an address reaches Ghost's own API
    (`Ghost.targets_api`); such an address is refused even when allow-listed. Build a
    guard for a running Ghost with `guard_for`."""

    targets_api: TargetsApi
    allow: AllowList = field(default_factory=AllowList)
    refusals: list[str] = field(default_factory=list)
    allowed_by_name: set[IPAddress] = field(default_factory=set, init=False, repr=False)

    def refuse(self, message: str) -> SsrfRefused:
        self.refusals.append(message)
        return SsrfRefused(message)

    def check_api(self, host: str, port: int) -> None:
        """Refuse Ghost's own API, by name or by any spelling of its address."""
        names = {host.lower().strip("[]")}
        address = host_address(host)
        if address is not None:
            names.add(str(address))
        if any(self.targets_api(name, port) for name in names):
            raise self.refuse(f"refusing to connect to {host}:{port}: it is Ghost's own API")

    def check_address(self, address: IPAddress, host: str = "") -> None:
        """Refuse a denied address unless the user allowed it (or the name it came from)."""
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
        """Scheme, API and literal-IP checks, done before a request (and each redirect) is sent."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise self.refuse(f"refusing {url!r}: only http and https URLs are sent")
        host = parts.hostname or ""
        if not host:
            raise self.refuse(f"refusing {url!r}: the URL has no host")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise self.refuse(f"refusing {url!r}: the port is not valid") from None
        self.check_api(host, port)
        address = ip_literal(host)
        if address is None and is_localhost_name(host):
            address = LOOPBACK  # RFC 6761: loopback whatever a resolver says, even unresolvable
        if address is None:
            return  # a name: the resolver and the socket factory check what it resolves to
        self.check_address(address, host)

    def socket_factory(self, addr_info: tuple[Any, ...]) -> socket.socket:
        """aiohttp's socket_factory: the last look at the real address before connect()."""
        family, type_, proto, _, sockaddr = addr_info
        host, port = str(sockaddr[0]), int(sockaddr[1])
        self.check_api(host, port)
        self.check_address(ipaddress.ip_address(host.split("%", 1)[0]))
        return socket.socket(family=family, type=type_, proto=proto)

    def connector(self, **kwargs: Any) -> aiohttp.TCPConnector:
        return aiohttp.TCPConnector(
            resolver=GuardedResolver(self),
            socket_factory=self.socket_factory,
            use_dns_cache=False,
            **kwargs,
        )

    def trace_config(self) -> aiohttp.TraceConfig:
        """Runs `check_url` on every request and on every redirect aiohttp follows."""
        trace = aiohttp.TraceConfig()

        async def on_start(_s: aiohttp.ClientSession, _c: SimpleNamespace,
                           params: aiohttp.TraceRequestStartParams) -> None:
            self.check_url(str(params.url))

        async def on_redirect(_s: aiohttp.ClientSession, _c: SimpleNamespace,
                              params: aiohttp.TraceRequestRedirectParams) -> None:
            location = params.response.headers.get("Location") or params.response.headers.get("URI")
            if location:
                self.check_url(urljoin(str(params.url), location))

        trace.on_request_start.append(on_start)
        trace.on_request_redirect.append(on_redirect)
        return trace

    def client_session(self, **kwargs: Any) -> aiohttp.ClientSession:
        """A client whose every request, redirect and connection goes through this guard;
        no proxy from the environment unless ``trust_env=True`` is asked for."""
        kwargs.setdefault("trust_env", False)
        return aiohttp.ClientSession(
            connector=self.connector(), trace_configs=[self.trace_config()], **kwargs
        )


def guard_for(ghost: Ghost) -> OutboundGuard:
    """A guard for one task of a running Ghost: its allow-list setting, its API refused.

    ValueError names the setting and the bad entry (callers answer 400)."""
    entries = ghost.settings.get(ALLOW_SETTING) or []
    if isinstance(entries, str) or not isinstance(entries, Iterable):
        raise ValueError(f"setting {ALLOW_SETTING} must be a list of hosts or CIDRs, not {entries!r}")
    try:
        allow = AllowList.parse(entries)
    except ValueError as exc:
        raise ValueError(f"setting {ALLOW_SETTING}: {exc}") from None
    return OutboundGuard(ghost.targets_api, allow)


class GuardedResolver(AbstractResolver):
    """Resolves with aiohttp's default resolver (or ``inner``) and drops denied addresses,
    remembering the addresses of allow-listed names for the socket factory."""

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
            reason = "" if self.guard.allow.allows_ip(address) else denied_reason(address)
            if reason:
                refused.append(f"{address} ({reason})")
            else:
                kept.append(result)
        if not kept:
            raise self.guard.refuse(
                f"refusing to connect to {host}: it resolves only to {', '.join(refused) or 'nothing'}; "
                f"add it to {ALLOW_SETTING} to allow"
            )
        return kept

    async def close(self) -> None:
        await self.inner.close()


RESOLVE_TIMEOUT_SECS = 3.0


async def check_reachable(guard: OutboundGuard, url: str) -> str | None:
    """Why Ghost must not connect to `url` (scheme, its own API, a denied address, by
    literal or by what the name resolves to now), or None. For checking a URL before it is
    saved (settings import); the connection itself is checked again when it is made. A name
    that does not resolve now is not refused here: it may resolve later, and is checked then.
    """
    try:
        guard.check_url(url)
        host = urlsplit(url).hostname or ""
        if ip_literal(host) is not None:
            return None  # a literal address: check_url has judged it
        resolver = GuardedResolver(guard)
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT_SECS):
                await resolver.resolve(host, 0, socket.AF_UNSPEC)
        finally:
            await resolver.close()
    except SsrfRefused as e:
        return e.message
    except (OSError, TimeoutError):
        return None
    return None
