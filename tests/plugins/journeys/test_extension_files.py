"""The extension's files: manifest, the JS helpers (run by node), `scripts/ghost extension`."""

from __future__ import annotations

import importlib.util
import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
EXTENSION = REPO / "extension"
SCRIPT = REPO / "scripts" / "ghost_extension.py"


def load_script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("ghost_extension", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_manifest_is_mv3_with_what_recording_needs() -> None:
    manifest = json.loads((EXTENSION / "manifest.json").read_text())
    assert manifest["manifest_version"] == 3 and manifest["name"] == "Ghost"
    assert {"declarativeNetRequest", "storage", "tabs", "scripting"} <= set(manifest["permissions"])
    assert manifest["host_permissions"] == ["<all_urls>"]
    assert manifest["background"] == {"service_worker": "background.js", "type": "module"}
    script = manifest["content_scripts"][0]
    assert script["js"] == ["content.js"] and script["all_frames"] and script["run_at"] == "document_start"
    for name in ("background.js", "content.js", "options.html", "options.js", "lib/protocol.js", "config.json"):
        assert (EXTENSION / name).is_file(), name
    assert json.loads((EXTENSION / "config.json").read_text())["token"] == ""  # never a real token in git


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_protocol_helpers_with_node() -> None:
    out = subprocess.run(["node", "--test", str(Path(__file__).with_name("protocol.test.mjs"))],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "# fail 0" in out.stdout


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_extension_scripts_parse() -> None:
    for name in ("content.js",):
        out = subprocess.run(["node", "--check", str(EXTENSION / name)], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
    for name in ("background.js", "options.js", "lib/protocol.js"):
        out = subprocess.run(["node", "--input-type=module", "--check"], input=(EXTENSION / name).read_text(),
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, f"{name}: {out.stderr}"


def test_writes_a_configured_copy_from_a_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.yaml").write_text(yaml.safe_dump({"api": {"port": 6123, "token": "abc123"}}))
    target = tmp_path / "ext"
    out = subprocess.run([sys.executable, str(SCRIPT), str(target), "--home", str(home)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert f"--load-extension={target}" in out.stdout
    assert json.loads((target / "config.json").read_text()) == {"api_url": "http://127.0.0.1:6123", "token": "abc123"}
    assert stat.S_IMODE((target / "config.json").stat().st_mode) == 0o600
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    assert (target / "manifest.json").read_bytes() == (EXTENSION / "manifest.json").read_bytes()
    assert (target / "lib" / "protocol.js").is_file()
    # Writing again over an earlier copy is fine.
    again = subprocess.run([sys.executable, str(SCRIPT), str(target), "--api-url", "http://localhost:7000/",
                            "--token", "t2"], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert json.loads((target / "config.json").read_text()) == {"api_url": "http://localhost:7000", "token": "t2"}


def test_refusals_say_what_is_wrong(tmp_path: Path) -> None:
    script = load_script()
    with pytest.raises(script.ExtensionSetupError, match="does not exist"):
        script.read_home(tmp_path)
    (tmp_path / "config.yaml").write_text("api: {port: 5565}\n")
    with pytest.raises(script.ExtensionSetupError, match="no api.token"):
        script.read_home(tmp_path)
    (tmp_path / "config.yaml").write_text("api: {port: 99999, token: x}\n")
    with pytest.raises(script.ExtensionSetupError, match="api.port must be a port"):
        script.read_home(tmp_path)
    with pytest.raises(script.ExtensionSetupError, match="http"):
        script.check_api_url("127.0.0.1:5565")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(script.ExtensionSetupError, match="not a Ghost extension copy"):
        script.write_extension(busy, "http://127.0.0.1:1", "t")
    assert (busy / "notes.txt").read_text() == "mine"
    out = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "x"), "--token", "only"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "go together" in out.stderr
