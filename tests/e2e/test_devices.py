"""Phones and tablets: the setup page the proxy serves at http://ghost.setup/, and flows from
two client addresses (127.0.0.2, 127.0.0.3) with phone User-Agents listed as two devices,
filtered with `device:`, and an export of one device's traffic naming it."""

from __future__ import annotations

import plistlib
import time

import httpx
import requests
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from requests_toolbelt.adapters.source import SourceAddressAdapter

from tests.support.ghostproc import GhostProcess
from tests.support.rawhttp import send_raw
from tests.support.target import Target

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/18.1 Mobile/15E148 Safari/604.1")
PIXEL = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36"


def from_address(ghost: GhostProcess, address: str) -> requests.Session:
    """A client whose connections to the proxy come from `address` (httpx ignores its
    local_address for proxy connections; requests-toolbelt's adapter binds them too)."""
    session = requests.Session()
    adapter = SourceAddressAdapter(address)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.proxies = {"http": ghost.proxy_url, "https": ghost.proxy_url}
    session.verify = str(ghost.ca_path)
    session.trust_env = False
    return session


def wait_flows(ghost: GhostProcess, q: str, count: int, session: str = "") -> list[dict]:
    params = {"q": q, **({"session_id": session} if session else {})}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        flows = ghost.api("GET", "/api/v1/flows", params=params).json()["flows"]
        if len(flows) >= count:
            return flows
        time.sleep(0.1)
    raise AssertionError(f"fewer than {count} flows for {q!r}")


def client_hosts(ghost: GhostProcess, flows: list[dict]) -> list[str]:
    return [ghost.api("GET", f"/api/v1/flows/{f['id']}").json()["client_addr"].rsplit(":", 1)[0] for f in flows]


def test_the_setup_page_through_the_proxy(ghost: GhostProcess) -> None:
    ca_pem = ghost.ca_path.read_bytes()
    der = x509.load_pem_x509_certificate(ca_pem).public_bytes(Encoding.DER)
    with httpx.Client(proxy=ghost.proxy_url, timeout=20) as client:
        page = client.get("http://ghost.setup/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        for link in ("/ghost.mobileconfig", "/ghost-ca.cer", "/ghost-ca.pem"):
            assert f'href="{link}"' in page.text
        assert f":{ghost.proxy_port}" in page.text
        assert client.get("http://ghost.setup/ghost-ca.pem").content == ca_pem
        assert client.get("http://ghost.setup/ghost-ca.cer").content == der
        profile = client.get("http://ghost.setup/ghost.mobileconfig")
        assert profile.headers["content-type"] == "application/x-apple-aspen-config"
    parsed = plistlib.loads(profile.content)
    (payload,) = parsed["PayloadContent"]
    assert payload["PayloadType"] == "com.apple.security.root" and payload["PayloadContent"] == der
    qr = ghost.api("GET", "/api/v1/setup/qr.png")
    assert qr.status_code == 200 and qr.content.startswith(b"\x89PNG")


def test_two_client_addresses_are_two_devices(ghost: GhostProcess, target: Target) -> None:
    session = ghost.api("POST", "/api/v1/sessions", json={"name": "phones"}).json()["id"]
    assert ghost.api("POST", f"/api/v1/sessions/{session}/activate").status_code == 200
    with from_address(ghost, "127.0.0.2") as iphone, from_address(ghost, "127.0.0.3") as pixel:
        for _ in range(2):
            assert iphone.get(f"{target.http_url}/echo?from=iphone", headers={"User-Agent": IPHONE}, timeout=20).status_code == 200
        assert pixel.get(f"{target.https_url}/echo?from=pixel", headers={"User-Agent": PIXEL}, timeout=20).status_code == 200
    wait_flows(ghost, "path:/echo", 3, session)
    devices = {d["id"]: d for d in ghost.api("GET", "/api/v1/devices").json()}
    assert devices["127.0.0.2"]["name"] == "iPhone (iOS 18.1)" and devices["127.0.0.2"]["flow_count"] == 2
    assert devices["127.0.0.3"]["name"] == "Pixel 8 (Android 14)" and devices["127.0.0.3"]["flow_count"] == 1
    assert client_hosts(ghost, wait_flows(ghost, "device:iPhone*", 2)) == ["127.0.0.2", "127.0.0.2"]
    assert client_hosts(ghost, wait_flows(ghost, "device:127.0.0.3", 1)) == ["127.0.0.3"]
    assert len(ghost.api("GET", "/api/v1/flows", params={"q": "-device:127.0.0.3"}).json()["flows"]) == 2


def test_an_export_of_one_devices_traffic_carries_the_device(ghost: GhostProcess, target: Target) -> None:
    session = ghost.api("POST", "/api/v1/sessions", json={"name": "iphone only"}).json()["id"]
    assert ghost.api("POST", f"/api/v1/sessions/{session}/activate").status_code == 200
    with from_address(ghost, "127.0.0.2") as iphone:
        assert iphone.get(f"{target.http_url}/echo", headers={"User-Agent": IPHONE}, timeout=20).status_code == 200
    wait_flows(ghost, "path:/echo", 1, session)
    assert ghost.api("GET", f"/api/v1/sessions/{session}/export/json").status_code == 200
    (artifact,) = ghost.api("GET", "/api/v1/artifacts", params={"session_id": session}).json()
    assert (artifact["device_id"], artifact["device_name"]) == ("127.0.0.2", "iPhone (iOS 18.1)")


def direct_get(ghost: GhostProcess, path: str, host: str = "", extra: bytes = b"") -> tuple[int, bytes, bytes]:
    """A phone whose proxy is not set yet opening http://PROXY-ADDRESS:PORT{path}: an
    origin-form request straight to the proxy port (status, head, body)."""
    host = host or f"127.0.0.1:{ghost.proxy_port}"
    answer = send_raw(ghost.proxy_port, f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {IPHONE}\r\n"
                      .encode() + extra + b"Connection: close\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head, body


def test_the_setup_page_opens_before_the_proxy_is_set(ghost: GhostProcess) -> None:
    ca_pem = ghost.ca_path.read_bytes()
    status, head, page = direct_get(ghost, "/")
    assert status == 200 and b"text/html" in head
    assert f'<code id="proxy-port">{ghost.proxy_port}</code>'.encode() in page  # says which proxy to set
    assert b'<code id="proxy-host">127.0.0.1</code>' in page and b'href="/ghost.mobileconfig"' in page
    assert direct_get(ghost, "/ghost-ca.pem")[2] == ca_pem
    assert plistlib.loads(direct_get(ghost, "/ghost.mobileconfig")[2])["PayloadType"] == "Configuration"
    # nothing else of Ghost that way: no API (even with the token), no forwarding to itself
    auth = f"Authorization: Bearer {ghost.token}\r\n".encode()
    for path in ("/api/v1/flows", "/api/v1/settings", "/ws"):
        status, _, body = direct_get(ghost, path, extra=auth)
        assert status == 404 and body.startswith(b"Nothing at ") and b"{" not in body
    # an origin-form request naming the API's port is a proxy request to the API: refused
    status, _, body = direct_get(ghost, "/api/v1/flows", host=f"127.0.0.1:{ghost.api_port}", extra=auth)
    assert status == 403 and b'"flows"' not in body
    qr = ghost.api("GET", "/api/v1/setup/qr.png")
    assert qr.status_code == 200 and qr.content.startswith(b"\x89PNG")
    assert qr.headers["X-Ghost-Setup-URL"].startswith("http://")
    assert qr.headers["X-Ghost-Setup-URL"].endswith(f":{ghost.proxy_port}/")


def test_the_capture_filter_never_hides_the_setup_page(ghost: GhostProcess, target: Target) -> None:
    for proxy in ({"host_include": ["*.example.org"]}, {"host_include": [], "host_exclude": ["*"]}):
        r = ghost.api("PUT", "/api/v1/settings", json={"proxy": proxy})
        assert r.status_code == 200, r.text
        with httpx.Client(proxy=ghost.proxy_url, timeout=20) as client:
            page = client.get("http://ghost.setup/", headers={"User-Agent": IPHONE})
            assert page.status_code == 200 and b'href="/ghost-ca.pem"' in page.content
            assert client.get("http://ghost.setup/ghost-ca.pem").content == ghost.ca_path.read_bytes()
            assert client.get(f"{target.http_url}/echo?uncaptured").status_code == 200  # still forwarded
        assert direct_get(ghost, "/")[0] == 200
    time.sleep(0.3)
    assert ghost.flows(q="path:/echo") == []  # the filter still keeps what it leaves out
