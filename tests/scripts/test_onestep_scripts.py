"""The pure parts of `scripts/ghost browser`, `run` and `qr`."""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import ghost_browser  # noqa: E402
import ghost_run  # noqa: E402

from tests.support.tls_app import make_ca_chain  # noqa: E402


def test_spki_hash_is_sha256_of_the_public_key_info(tmp_path: Path) -> None:
    ca_pem = make_ca_chain(tmp_path)[0].read_bytes()
    key = x509.load_pem_x509_certificate(ca_pem).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert ghost_browser.spki_hash(ca_pem) == base64.b64encode(hashlib.sha256(key).digest()).decode()


def test_unpacked_extension_id_is_chromiums() -> None:
    # Chromium: the first 16 bytes of SHA-256 of the path, hex digits mapped to a-p
    assert ghost_browser.unpacked_extension_id(Path("/tmp/ext")) == "".join(
        chr(ord("a") + int(c, 16)) for c in hashlib.sha256(b"/tmp/ext").hexdigest()[:32])


def test_browser_flags_keep_the_api_direct_and_capture_loopback(tmp_path: Path) -> None:
    flags = ghost_browser.chromium_args(tmp_path / "p", tmp_path / "e", "127.0.0.1:4545", "http://127.0.0.1:5565",
                                        "SPKI=")
    assert "--proxy-server=http://127.0.0.1:4545" in flags
    assert "--proxy-bypass-list=<-loopback>;127.0.0.1:5565;localhost:5565" in flags
    assert "--ignore-certificate-errors-spki-list=SPKI=" in flags
    assert not any(f == "--ignore-certificate-errors" for f in flags)


def test_browser_env_keeps_chromiums_user_files_in_the_profile(tmp_path: Path) -> None:
    env = ghost_browser.browser_env(tmp_path)
    assert env["XDG_CONFIG_HOME"].startswith(str(tmp_path)) and env["XDG_CACHE_HOME"].startswith(str(tmp_path))


def test_run_env(tmp_path: Path) -> None:
    env = ghost_run.run_env({"NO_PROXY": "localhost,127.0.0.1,internal.example,::1", "PATH": "/bin"},
                            "127.0.0.1:4545", "curl", tmp_path / "bundle.pem", tmp_path / "ca.pem")
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        assert env[key] == "http://curl:ghost@127.0.0.1:4545"
    assert env["NO_PROXY"] == env["no_proxy"] == "internal.example"
    for key in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT", "GIT_SSL_CAINFO"):
        assert env[key] == str(tmp_path / "bundle.pem")
    assert env["NODE_EXTRA_CA_CERTS"] == str(tmp_path / "ca.pem") and env["NODE_USE_ENV_PROXY"] == "1"
    assert env["NODE_OPTIONS"] == f"--require={ghost_run.NODE_PRELOAD}" and env["PATH"] == "/bin"


def test_the_bundle_holds_the_system_authorities_and_ghosts_ca(tmp_path: Path) -> None:
    ca = make_ca_chain(tmp_path)[0]
    (tmp_path / "mitmproxy-ca-cert.pem").write_bytes(ca.read_bytes())
    bundle = ghost_run.write_bundle(tmp_path).read_bytes()
    assert bundle.endswith(ca.read_bytes())
    system = ghost_run.system_bundle()
    if system is not None:
        assert bundle.startswith(system.read_bytes()[:1000])


@pytest.mark.parametrize(("command", "name"), [(["/usr/bin/python3.12", "-c", "x"], "python3.12"),
                                               (["my tool"], "my-tool")])
def test_command_name(command: list[str], name: str) -> None:
    assert ghost_run.command_name(command) == name


def test_run_without_a_running_ghost_says_so(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "ghost_run.py"), "--home", str(tmp_path), "--",
                          "true"], capture_output=True, text=True, timeout=60, env={"PYTHONPATH": str(REPO)})
    assert out.returncode == 2 and "no Ghost runs" in out.stderr


def test_qr_prints_a_code_and_the_steps(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "ghost_qr.py"), "--home", str(tmp_path)],
                         capture_output=True, text=True, timeout=60, env={"PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr
    assert "█" in out.stdout or "▀" in out.stdout
    assert "http://ghost.setup/" in out.stdout and "listen_host=0.0.0.0" in out.stdout
    # the code opens the proxy's own address, which answers before the phone's proxy is set
    assert re.search(r"open http://[0-9.]+:4545/ in the phone", out.stdout), out.stdout
