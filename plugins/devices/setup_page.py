"""The phone setup page the proxy serves at http://ghost.setup/ (as mitmproxy's mitm.it): the
CA as PEM and DER, an iOS configuration profile and the steps for iOS and Android. Pure:
the CA bytes come in, (status, content type, body, headers) go out.

The same page answers a request addressed to the proxy's own address and port
(`http://192.168.1.5:4545/`, what the QR code encodes): a phone whose proxy is not set yet
opens it directly, and it says which proxy to set. Nothing else is served that way."""

from __future__ import annotations

import hashlib
import html
import ipaddress
import plistlib
import socket
import uuid

from cryptography import x509

SETUP_HOST = "ghost.setup"
SETUP_URL = f"http://{SETUP_HOST}/"
PROFILE_IDENTIFIER = "dev.ghost.ca"
MOBILECONFIG_TYPE = "application/x-apple-aspen-config"

Answer = tuple[int, str, bytes, dict[str, str]]


def lan_address() -> str:
    """This machine's address on the network its default route uses (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the outgoing interface
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def direct_url(host: str, port: int | str) -> str:
    """The setup page as a phone opens it before its proxy is set: the proxy's own address."""
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def qr_host(listen: list[str]) -> str:
    """The address a phone reaches the proxy at: the first listen address that names one
    (not a wildcard, not loopback), else this machine's LAN address."""
    for address in listen:
        host = address.rsplit(":", 1)[0].strip("[]")
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            continue
        if not (ip.is_unspecified or ip.is_loopback):
            return str(ip)
    return lan_address()


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text.strip("[]").partition("%")[0])
    except ValueError:
        return None
    mapped = getattr(ip, "ipv4_mapped", None)
    return mapped or ip


def addressed_to_proxy(host: str, port: int, proxy_sockname: tuple[str, int] | None) -> bool:
    """True for a request whose target is the proxy itself: the address and port the client
    connected to (a phone opening http://LAN-IP:PROXY-PORT/ with no proxy set sends it in
    origin form, which mitmproxy reads from the Host header). Only an IP literal equal to
    that address counts; names would need a lookup on the proxy's path."""
    if not proxy_sockname or port != proxy_sockname[1]:
        return False
    target = _ip(host)
    return target is not None and target == _ip(str(proxy_sockname[0]))


def proxy_address(sockname: tuple[str, int]) -> str:
    """HOST:PORT the client reached the proxy at (what a phone's proxy setting takes); an
    IPv4 address a dual-stack listener reports as ::ffff:a.b.c.d is shown as a.b.c.d."""
    ip = _ip(str(sockname[0]))
    host = str(ip) if ip is not None else str(sockname[0])
    return f"[{host}]:{sockname[1]}" if ":" in host else f"{host}:{sockname[1]}"


def ca_der(ca_pem: bytes) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding
    return x509.load_pem_x509_certificate(ca_pem).public_bytes(Encoding.DER)


def mobileconfig(der: bytes) -> bytes:
    """An iOS/iPadOS configuration profile installing Ghost's CA (a root certificate payload).
    Its UUIDs derive from the certificate, so the same CA gives the same profile."""
    fingerprint = hashlib.sha256(der).hexdigest()
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"https://ghost.setup/ca/{fingerprint}")
    payload = {
        "PayloadType": "com.apple.security.root",
        "PayloadVersion": 1,
        "PayloadIdentifier": f"{PROFILE_IDENTIFIER}.{fingerprint[:16]}.cert",
        "PayloadUUID": str(uuid.uuid5(namespace, "cert")).upper(),
        "PayloadDisplayName": "Ghost CA",
        "PayloadDescription": "Lets Ghost read this device's HTTPS traffic.",
        "PayloadCertificateFileName": "ghost-ca.cer",
        "PayloadContent": der,
    }
    profile = {
        "PayloadType": "Configuration",
        "PayloadVersion": 1,
        "PayloadIdentifier": f"{PROFILE_IDENTIFIER}.{fingerprint[:16]}",
        "PayloadUUID": str(uuid.uuid5(namespace, "profile")).upper(),
        "PayloadDisplayName": "Ghost CA",
        "PayloadDescription": "Installs the certificate authority of your Ghost proxy. Remove the profile "
                              "when you stop using Ghost.",
        "PayloadOrganization": "Ghost",
        "PayloadRemovalDisallowed": False,
        "PayloadContent": [payload],
    }
    return plistlib.dumps(profile)


def _intro(address: str, direct: bool) -> str:
    if not direct:
        return (f"<p>This page comes from the Ghost proxy at <code>{address}</code>: this device already sends "
                "its traffic through Ghost. To read HTTPS too, install and trust Ghost's certificate authority "
                "(CA).</p>")
    return (f"""<p>This page comes from the Ghost proxy at <code>{address}</code>.</p>
<ol id="steps"><li>Send this device's traffic through Ghost: Settings &gt; Wi-Fi &gt; this network &gt; Proxy &gt;
Manual: server <code id="proxy-host">{address.rpartition(":")[0]}</code>, port
<code id="proxy-port">{address.rpartition(":")[2]}</code>.</li>
<li>Install and trust Ghost's certificate authority (CA) below, so that Ghost can read HTTPS too.</li></ol>""")


def page(proxy_address: str, direct: bool = False) -> bytes:
    """The setup page; `direct`: opened at the proxy's own address, so the device may not use
    the proxy yet and the page starts with the proxy to set."""
    address = html.escape(proxy_address)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ghost setup</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:1.5rem auto;padding:0 1rem}}
a.button{{display:inline-block;margin:.3rem 0;padding:.6rem 1rem;border-radius:6px;background:#222;color:#fff;
text-decoration:none}}code{{background:#f2f2f2;padding:0 .2rem}}</style></head>
<body>
<h1>Ghost setup</h1>
{_intro(address, direct)}
<h2>iPhone and iPad</h2>
<p><a class="button" id="mobileconfig" href="/ghost.mobileconfig">Download the profile</a></p>
<ol><li>Open this page in Safari and download the profile; allow it.</li>
<li>Settings &gt; General &gt; VPN &amp; Device Management &gt; Ghost CA &gt; Install.</li>
<li>Settings &gt; General &gt; About &gt; Certificate Trust Settings: switch on full trust for Ghost CA.</li></ol>
<h2>Android</h2>
<p><a class="button" id="der" href="/ghost-ca.cer">Download the CA (DER)</a></p>
<ol><li>Download the certificate.</li>
<li>Settings &gt; Security &gt; More security settings &gt; Encryption &amp; credentials &gt; Install a certificate
&gt; CA certificate, and pick <code>ghost-ca.cer</code>.</li>
<li>Apps trust user CAs only when they opt in (network security config); browsers such as Chrome do.</li></ol>
<h2>Other devices</h2>
<p><a class="button" id="pem" href="/ghost-ca.pem">Download the CA (PEM)</a></p>
<p>Remove the CA (and this device's proxy setting) when you stop using Ghost.</p>
</body></html>
""".encode()


def answer(path: str, ca_pem: bytes, proxy_address: str, direct: bool = False) -> Answer:
    """What the setup host (or the proxy's own address, `direct`) answers for `path`."""
    route = path.split("?", 1)[0]
    if route in ("/", "/index.html"):
        return 200, "text/html; charset=utf-8", page(proxy_address, direct), {}
    if route in ("/ghost-ca.pem", "/cert/pem"):
        return 200, "application/x-pem-file", ca_pem, {"Content-Disposition": 'attachment; filename="ghost-ca.pem"'}
    if route in ("/ghost-ca.cer", "/cert/der"):
        return 200, "application/x-x509-ca-cert", ca_der(ca_pem), {
            "Content-Disposition": 'attachment; filename="ghost-ca.cer"'}
    if route in ("/ghost.mobileconfig", "/cert/mobileconfig"):
        return 200, MOBILECONFIG_TYPE, mobileconfig(ca_der(ca_pem)), {
            "Content-Disposition": 'attachment; filename="ghost.mobileconfig"'}
    return 404, "text/plain; charset=utf-8", f"Nothing at {route}; the setup page is {SETUP_URL}\n".encode(), {}
