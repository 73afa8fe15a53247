"""The MCP server's own logic, without a client: where it finds Ghost, and the bounds it
puts on answers (the tools themselves are driven over stdio in tests/e2e/test_mcp_e2e.py)."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def load():
    sys.path.insert(0, str(REPO / "scripts"))
    spec = importlib.util.spec_from_file_location("ghost_mcp", REPO / "scripts" / "ghost_mcp.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mcp_script = load()


def args(**kw) -> argparse.Namespace:
    return argparse.Namespace(**{"home": "/nonexistent", "api_url": "", "token": "", **kw})


def test_the_flags_win_then_the_environment_then_the_home(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("GHOST_API_URL", raising=False)
    monkeypatch.delenv("GHOST_API_TOKEN", raising=False)
    assert mcp_script.connection(args(api_url="http://127.0.0.1:9/", token="t")) == ("http://127.0.0.1:9", "t")
    monkeypatch.setenv("GHOST_API_URL", "http://127.0.0.1:8")
    monkeypatch.setenv("GHOST_API_TOKEN", "env")
    assert mcp_script.connection(args()) == ("http://127.0.0.1:8", "env")
    monkeypatch.delenv("GHOST_API_URL")
    monkeypatch.delenv("GHOST_API_TOKEN")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"api": {"port": 5999, "token": "home-token"}}))
    assert mcp_script.connection(args(home=str(tmp_path))) == ("http://127.0.0.1:5999", "home-token")
    with pytest.raises(mcp_script.ExtensionSetupError, match="does not exist"):
        mcp_script.connection(args())
    with pytest.raises(mcp_script.ExtensionSetupError, match="http"):
        mcp_script.connection(args(api_url="ftp://x", token="t"))


def test_bodies_are_cut_and_lists_capped() -> None:
    flow = {"request": {"body": "x" * 10}, "response": {"body": "short"}}
    cut = mcp_script.trim_bodies(flow, limit=5)
    assert cut["request"]["body"] == "xxxxx" and "body_cut_by_mcp" in cut["request"]
    assert cut["response"] == {"body": "short"}
    assert mcp_script.capped([1, 2, 3], 2) == {"items": [1, 2], "count": 2, "truncated": True}
    assert mcp_script.capped([1], 2) == {"items": [1], "count": 1, "truncated": False}


def test_ghost_errors_are_shown_by_their_message() -> None:
    assert mcp_script.error_text(b'{"error": "unknown field colour"}') == "unknown field colour"
    assert mcp_script.error_text(b"<html>oops") == "<html>oops"
