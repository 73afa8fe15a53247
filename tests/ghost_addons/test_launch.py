"""The launcher's arguments: Ghost's port and host first, unless the command line chooses."""

from __future__ import annotations

from pathlib import Path

import pytest

from ghost_addons.launch import chosen, launch_args, main


@pytest.mark.parametrize("argv, expected", [
    ([], {}),
    (["-p", "9000"], {"listen_port": "9000"}),
    (["-p9000"], {"listen_port": "9000"}),
    (["--listen-port", "9000"], {"listen_port": "9000"}),
    (["--listen-port=9000"], {"listen_port": "9000"}),
    (["--listen-host", "0.0.0.0"], {"listen_host": "0.0.0.0"}),
    (["--listen-host=0.0.0.0"], {"listen_host": "0.0.0.0"}),
    (["--set", "listen_port=9000", "--set=listen_host=::1"], {"listen_port": "9000", "listen_host": "::1"}),
    (["--set", "ghost_home=/data/g", "--set", "ghost_api_port=7000", "-q"], {"ghost_home": "/data/g"}),
    (["--mode", "reverse:http://127.0.0.1:9@8443", "-v"], {}),
    (["-p"], {"listen_port": ""}),   # mitmproxy itself rejects this; the launcher adds nothing
])
def test_chosen_reads_the_options_mitmdump_takes(argv: list[str], expected: dict[str, str]) -> None:
    assert chosen(argv) == expected


def test_the_port_comes_from_the_settings_in_ghost_home(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("proxy:\n  port: 4999\n")
    assert launch_args(["--set", f"ghost_home={tmp_path}"]) == [
        "--listen-port", "4999", "--listen-host", "127.0.0.1"]
    assert launch_args(["--set", f"ghost_home={tmp_path / 'new'}"])[:2] == ["--listen-port", "4545"]
    assert not (tmp_path / "new").exists()   # reading the settings writes nothing


def test_the_listen_host_comes_from_the_settings_too(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("proxy:\n  listen_host: 0.0.0.0\n")
    assert launch_args(["--set", f"ghost_home={tmp_path}"]) == ["--listen-port", "4545", "--listen-host", "0.0.0.0"]
    assert launch_args(["--set", f"ghost_home={tmp_path}", "--set", "listen_host=127.0.0.1"]) == [
        "--listen-port", "4545"]


def test_options_on_the_command_line_are_left_alone(tmp_path: Path) -> None:
    assert launch_args(["-p", "9000", "--listen-host", "0.0.0.0", "--set", f"ghost_home={tmp_path}"]) == []


def test_a_broken_config_leaves_the_choice_to_ghost(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "config.yaml").write_text("proxy: [1\n")
    assert main(["--set", f"ghost_home={tmp_path}"]) == 0
    out = capsys.readouterr()
    assert out.out == ""
    assert "cannot read the proxy port" in out.err
