"""The phone setup page the proxy serves at http://ghost.setup/ (as mitmproxy's mitm.it): the
CA as PEM and DER, an iOS configuration profile and the steps for iOS and Android. Pure:
the CA bytes come in, (status, content type, body, headers) go out."""

from __future__ import annotations

import hashlib
import html
import plistlib
import uuid

from cryptography import x509

SETUP_HOST = "ghost.setup"
SETUP_URL = f"http://{SETUP_HOST}/"
PROFILE_IDENTIFIER = "dev.ghost.ca"
MOBILECONFIG_TYPE = "application/x-apple-aspen-config"

Answer = tuple[int, str, bytes, dict[str, str]]


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


def page(proxy_address: str) -> bytes:
    address = html.escape(proxy_address)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ghost setup</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:1.5rem auto;padding:0 1rem}}
a.button{{display:inline-block;margin:.3rem 0;padding:.6rem 1rem;border-radius:6px;background:#222;color:#fff;
text-decoration:none}}code{{background:#f2f2f2;padding:0 .2rem}}</style></head>
<body>
<h1>Ghost setup</h1>
<p>This page comes from the Ghost proxy at <code>{address}</code>: this device already sends its traffic
through Ghost. To read HTTPS too, install and trust Ghost's certificate authority (CA).</p>
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


def answer(path: str, ca_pem: bytes, proxy_address: str) -> Answer:
    """What the setup host answers for `path`."""
    route = path.split("?", 1)[0]
    if route in ("/", "/index.html"):
        return 200, "text/html; charset=utf-8", page(proxy_address), {}
    if route in ("/ghost-ca.pem", "/cert/pem"):
        return 200, "application/x-pem-file", ca_pem, {"Content-Disposition": 'attachment; filename="ghost-ca.pem"'}
    if route in ("/ghost-ca.cer", "/cert/der"):
        return 200, "application/x-x509-ca-cert", ca_der(ca_pem), {
            "Content-Disposition": 'attachment; filename="ghost-ca.cer"'}
    if route in ("/ghost.mobileconfig", "/cert/mobileconfig"):
        return 200, MOBILECONFIG_TYPE, mobileconfig(ca_der(ca_pem)), {
            "Content-Disposition": 'attachment; filename="ghost.mobileconfig"'}
    return 404, "text/plain; charset=utf-8", f"Nothing at {route}; the setup page is {SETUP_URL}\n".encode(), {}
