"""Devices: names from User-Agents, the setup page's files, the exposure warning's test."""

from __future__ import annotations

import plistlib

import pytest

from ghost_addons.store.gql import GqlError, compile_query
from plugins.devices import exposed_addresses, qr_png
from plugins.devices.names import device_id, device_name
from plugins.devices.setup_page import (
    MOBILECONFIG_TYPE,
    SETUP_URL,
    addressed_to_proxy,
    answer,
    ca_der,
    direct_url,
    mobileconfig,
    proxy_address,
    qr_host,
)
from plugins.exporters import DevicesSeen
from tests.ghost_addons.factories import make_flow

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/18.1 Mobile/15E148 Safari/604.1")
PIXEL = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36"


@pytest.mark.parametrize(("user_agent", "name"), [
    (IPHONE, "iPhone (iOS 18.1)"),
    ("Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15", "iPad (iPadOS 17.2)"),
    (PIXEL, "Pixel 8 (Android 14)"),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 Chrome/120", "Android device (Android 10)"),
    ("Dalvik/2.1.0 (Linux; U; Android 13; SM-S911B Build/TP1A.220624.014)", "SM-S911B (Android 13)"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15", "Mac (macOS 10.15.7)"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120", "Windows PC"),
    ("Mozilla/5.0 (X11; Linux x86_64) Chrome/131", "Linux PC"),
    ("curl/8.5.0", "curl 8.5.0"),
    ("", ""),
    ("(" * 100_000, ""),
])
def test_device_names_from_user_agents(user_agent: str, name: str) -> None:
    assert device_name(user_agent) == name


def test_device_id_is_the_client_address_without_port() -> None:
    assert device_id("127.0.0.2:50000") == "127.0.0.2"
    assert device_id("[::1]:50000") == "::1"


def test_the_mobileconfig_installs_ghosts_ca(tmp_path) -> None:
    from tests.support.tls_app import make_ca_chain
    ca_pem = make_ca_chain(tmp_path)[0].read_bytes()
    profile = plistlib.loads(mobileconfig(ca_der(ca_pem)))
    assert profile["PayloadType"] == "Configuration" and profile["PayloadVersion"] == 1
    (payload,) = profile["PayloadContent"]
    assert payload["PayloadType"] == "com.apple.security.root"
    assert payload["PayloadContent"] == ca_der(ca_pem)
    assert mobileconfig(ca_der(ca_pem)) == mobileconfig(ca_der(ca_pem))  # same CA, same profile UUIDs
    code, content_type, body, headers = answer("/ghost.mobileconfig", ca_pem, "10.0.0.5:4545")
    assert (code, content_type) == (200, MOBILECONFIG_TYPE) and plistlib.loads(body) == profile
    code, _, body, _ = answer("/", ca_pem, "10.0.0.5:4545")
    assert code == 200 and b"10.0.0.5:4545" in body and b'href="/ghost-ca.cer"' in body
    assert answer("/nope", ca_pem, "x")[0] == 404


@pytest.mark.parametrize(("host", "port", "sockname", "direct"), [
    ("192.168.1.5", 4545, ("192.168.1.5", 4545), True),
    ("192.168.1.5", 4545, ("::ffff:192.168.1.5", 4545, 0, 0), True),  # a dual-stack listener
    ("::1", 4545, ("::1", 4545, 0, 0), True),
    ("[::1]", 4545, ("::1", 4545, 0, 0), True),
    ("192.168.1.5", 80, ("192.168.1.5", 4545), False),  # another port of this machine: a proxy request
    ("192.168.1.6", 4545, ("192.168.1.5", 4545), False),  # another machine
    ("ghost-box.local", 4545, ("192.168.1.5", 4545), False),  # names are not resolved on the proxy's path
    ("192.168.1.5", 4545, None, False),
])
def test_a_request_addressed_to_the_proxy_itself(host: str, port: int, sockname, direct: bool) -> None:
    assert addressed_to_proxy(host, port, sockname) is direct


def test_the_direct_setup_page_says_which_proxy_to_set(tmp_path) -> None:
    from tests.support.tls_app import make_ca_chain
    ca_pem = make_ca_chain(tmp_path)[0].read_bytes()
    code, _, body, _ = answer("/", ca_pem, "192.168.1.5:4545", direct=True)
    assert code == 200 and b'<code id="proxy-host">192.168.1.5</code>' in body
    assert b'<code id="proxy-port">4545</code>' in body and b'href="/ghost-ca.cer"' in body
    assert b"already sends" not in answer("/", ca_pem, "192.168.1.5:4545", direct=True)[2]
    assert b"already sends" in answer("/", ca_pem, "192.168.1.5:4545")[2]
    assert answer("/api/v1/flows", ca_pem, "192.168.1.5:4545", direct=True)[0] == 404


def test_setup_addresses() -> None:
    assert direct_url("192.168.1.5", 4545) == "http://192.168.1.5:4545/"
    assert direct_url("fd00::5", 4545) == "http://[fd00::5]:4545/"
    assert proxy_address(("::ffff:10.0.0.7", 4545, 0, 0)) == "10.0.0.7:4545"
    assert proxy_address(("fd00::5", 4545, 0, 0)) == "[fd00::5]:4545"
    assert qr_host(["127.0.0.1:4545", "192.168.1.5:4545"]) == "192.168.1.5"
    lan = qr_host(["0.0.0.0:4545", "[::]:4545"])  # a wildcard: the address of the default route
    assert lan and lan != "0.0.0.0"


def test_exposed_addresses_are_the_non_loopback_ones() -> None:
    assert exposed_addresses(["127.0.0.1:4545", "[::1]:4545"]) == []
    assert exposed_addresses(["0.0.0.0:4545", "127.0.0.1:4545", "192.168.1.5:4545"]) == ["0.0.0.0:4545",
                                                                                          "192.168.1.5:4545"]


def test_the_qr_png_is_a_png() -> None:
    assert qr_png(SETUP_URL).startswith(b"\x89PNG\r\n\x1a\n")


def test_gql_device_matches_id_or_name() -> None:
    sql, params = compile_query("device:iPhone*")
    assert "$.device.id" in sql and "$.device.name" in sql and params == ["iPhone%", "iPhone%"]
    sql, params = compile_query("-device:127.0.0.2")
    assert sql.startswith("NOT (") and params == ["127.0.0.2", "127.0.0.2"]
    with pytest.raises(GqlError):
        compile_query("device:")


def test_an_export_of_one_devices_traffic_names_the_device() -> None:
    seen = DevicesSeen()
    a = make_flow("01A")
    a.metadata["device"] = {"id": "127.0.0.2", "name": "iPhone (iOS 18.1)"}
    seen.add([a, a])
    assert (seen.only_id(), seen.only_name()) == ("127.0.0.2", "iPhone (iOS 18.1)")
    b = make_flow("01B")
    b.metadata["device"] = {"id": "127.0.0.3", "name": "Pixel 8 (Android 14)"}
    seen.add([b])
    assert (seen.only_id(), seen.only_name()) == ("", "")
