"""Why the extension cannot connect, as Ghost sees it: its API refused through the proxy."""

from __future__ import annotations

from plugins.extension_bridge import api_refused_error


def test_a_browser_refused_through_the_proxy_is_told_how_to_keep_the_api_direct() -> None:
    error = api_refused_error({"client_addr": "127.0.0.1:40000", "target": "127.0.0.1:5565",
                               "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131"}, 5565)
    assert error.startswith("Ghost refused: a browser sends its connection to Ghost's API (127.0.0.1:5565")
    assert "--proxy-bypass-list='<-loopback>;127.0.0.1:5565'" in error
    assert "a client sends" in api_refused_error({"target": "127.0.0.1:5565", "user_agent": "curl/8"}, 5565)
