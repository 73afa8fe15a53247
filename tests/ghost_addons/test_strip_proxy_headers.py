"""The proxy does not forward what the client meant for Ghost: proxy credentials and
hop-by-hop headers (RFC 9110 7.6.1)."""

from mitmproxy.test import tflow

from ghost_addons.capture import strip_proxy_headers


def request_with(*headers: tuple[str, str]):  # type: ignore[no-untyped-def]
    flow = tflow.tflow()
    flow.request.headers.clear()
    for name, value in headers:
        flow.request.headers.add(name, value)
    return flow


def test_proxy_credentials_and_connection_headers_are_removed() -> None:
    flow = request_with(("Host", "h"), ("Proxy-Authorization", "Basic c2VjcmV0"),
                        ("Proxy-Connection", "keep-alive"), ("Keep-Alive", "timeout=5"),
                        ("Connection", "keep-alive, X-Hop"), ("X-Hop", "1"),
                        ("Authorization", "Bearer t"), ("X-A", "1"))
    strip_proxy_headers(flow)
    assert list(flow.request.headers.items(multi=True)) == [
        ("Host", "h"), ("Connection", "keep-alive, X-Hop"), ("Authorization", "Bearer t"),
        ("X-A", "1")]


def test_an_upgrade_handshake_and_te_trailers_stay() -> None:
    headers = (("Connection", "Upgrade"), ("Upgrade", "websocket"), ("TE", "trailers"))
    flow = request_with(*headers)
    strip_proxy_headers(flow)
    assert list(flow.request.headers.items(multi=True)) == list(headers)


def test_nothing_to_strip_changes_nothing() -> None:
    flow = request_with(("Host", "h"), ("X-A", "1"))
    strip_proxy_headers(flow)
    assert list(flow.request.headers.items(multi=True)) == [("Host", "h"), ("X-A", "1")]
