"""The API's token rules and the public PAC file, against a real in-process Ghost."""

from __future__ import annotations

import aiohttp
import pytest

from ghost_addons.api.http import ApiError
from ghost_addons.api.system_api import pac_host

STREAM = {"Accept": "text/event-stream"}


async def test_a_query_token_never_authorises_a_write_or_a_plain_read(ghost_app) -> None:
    api = await ghost_app()
    token = api.token
    async with aiohttp.ClientSession() as anonymous:
        for method, path in (("POST", "/api/v1/settings/rotate-token"), ("PUT", "/api/v1/settings"),
                             ("DELETE", "/api/v1/flows/x"), ("GET", "/api/v1/settings")):
            async with anonymous.request(method, f"{api.base}{path}?token={token}", headers=STREAM,
                                         json={}) as r:
                assert r.status == 401, (method, path, r.status)
                assert "missing token" in (await r.json())["error"]
        assert api.ghost.token == token  # nothing was rotated
        # The events WebSocket declares the query token: it still opens with it.
        ws = await anonymous.ws_connect(f"{api.base}/api/v1/ws?token={token}")
        await ws.close()
        # ...but only as a WebSocket (or event stream) GET.
        async with anonymous.get(f"{api.base}/api/v1/ws?token={token}") as r:
            assert r.status == 401


async def test_pac_host_is_checked_and_escaped(ghost_app) -> None:
    api = await ghost_app()
    async with aiohttp.ClientSession() as anonymous:  # the PAC needs no token
        for bad in ('evil.example"; return "PROXY attacker:80', "a b", "x/y", "evil.example.com", "8.8.8.8"):
            async with anonymous.get(f"{api.base}/proxy.pac", params={"host": bad}) as r:
                assert r.status == 400, (bad, await r.text())
                assert "host" in (await r.json())["error"]
        for good, expected in (("127.0.0.1", "PROXY 127.0.0.1:"), ("localhost", "PROXY localhost:"),
                               ("127.1", "PROXY 127.0.0.1:"), ("::1", "PROXY [::1]:")):
            async with anonymous.get(f"{api.base}/proxy.pac", params={"host": good}) as r:
                assert r.status == 200, (good, await r.text())
                assert expected in await r.text()
    await api.ok("PUT", "/api/v1/settings", json={"api": {"allowed_hosts": ["ghost.lan"]}})
    async with aiohttp.ClientSession() as anonymous:
        async with anonymous.get(f"{api.base}/proxy.pac", params={"host": "ghost.lan"}) as r:
            assert r.status == 200 and '"PROXY ghost.lan:' in await r.text()


def test_pac_host_names_what_is_wrong() -> None:
    with pytest.raises(ApiError, match="host name or IP address"):
        pac_host('a"b', "127.0.0.1:5565", [])
    with pytest.raises(ApiError, match="api.allowed_hosts"):
        pac_host("example.com", "127.0.0.1:5565", [])
    assert pac_host("EXAMPLE.com", "127.0.0.1:5565", ["example.com"]) == "example.com"
