"""A client names itself with the user of its proxy URL; the header never reaches the target."""

from __future__ import annotations

import base64

from mitmproxy.test import tflow

from ghost_addons.capture import CLIENT_NAME_MAX, client_name, take_proxy_authorization


def basic(user_pass: str) -> str:
    return "Basic " + base64.b64encode(user_pass.encode()).decode()


def test_the_user_of_basic_credentials_is_the_name() -> None:
    assert client_name(basic("curl:")) == "curl"
    assert client_name(basic("run-python3.12:secret")) == "run-python3.12"
    assert client_name(basic("my tool/é:x")) == "my-tool--"
    assert client_name(basic("x" * 500 + ":")) == "x" * CLIENT_NAME_MAX


def test_anything_else_names_nothing() -> None:
    assert client_name("Bearer abc") == ""
    assert client_name("Basic %%%") == ""
    assert client_name("Basic " + "A" * 100_000) == ""
    assert client_name("") == ""


def test_the_header_is_taken_off_the_request() -> None:
    flow = tflow.tflow()
    assert take_proxy_authorization(flow) is None
    flow.request.headers["Proxy-Authorization"] = basic("node:")
    assert take_proxy_authorization(flow) == "node"
    assert "Proxy-Authorization" not in flow.request.headers
