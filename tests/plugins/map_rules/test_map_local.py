import os
from pathlib import Path

import pytest

from plugins.map_rules.local import (
    MAX_LOCAL_FILE_SIZE,
    LocalPathError,
    check_local_path,
    directory_candidates,
    guess_content_type,
    path_prefix,
    read_local,
    sniff_content_type,
)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    (home / "mocks" / "site" / "js").mkdir(parents=True)
    (home / "mocks" / "cart.json").write_text('{"items": []}')
    (home / "mocks" / "site" / "index.html").write_text("<h1>index</h1>")
    (home / "mocks" / "site" / "js" / "app.js").write_text("console.log(1)")
    (home / "config.yaml").write_text("token: secret")
    (home / "ghost.db").write_bytes(b"SQLite")
    (tmp_path / "outside.txt").write_text("outside")
    return home


def test_relative_and_absolute_inside_home(home: Path):
    assert check_local_path(home, "mocks/cart.json") == (home / "mocks" / "cart.json").resolve()
    assert check_local_path(home, str(home / "mocks" / "cart.json")) == (home / "mocks/cart.json").resolve()
    assert check_local_path(home, "mocks/site") == (home / "mocks" / "site").resolve()


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("../outside.txt", "must not contain '..'"),
        ("mocks/../../outside.txt", "must not contain '..'"),
        ("mocks\\..\\..\\outside.txt", "must not contain '..'"),
        ("/etc/passwd", "outside the Ghost home"),
        ("mocks/missing.json", "does not exist"),
        ("config.yaml", "private"),
        ("ghost.db", "private"),
        ("mocks/a\0b", "NUL"),
    ],
)
def test_refused_paths(home: Path, path: str, message: str):
    with pytest.raises(LocalPathError, match=message):
        check_local_path(home, path)


def test_absolute_path_outside_home(home: Path, tmp_path: Path):
    with pytest.raises(LocalPathError, match="outside the Ghost home"):
        check_local_path(home, str(tmp_path / "outside.txt"))
    with pytest.raises(LocalPathError, match="not the home itself"):
        check_local_path(home, str(home))


def test_symlink_out_of_home_refused(home: Path, tmp_path: Path):
    (home / "mocks" / "link.txt").symlink_to(tmp_path / "outside.txt")
    (home / "mocks" / "dirlink").symlink_to(tmp_path)
    with pytest.raises(LocalPathError, match="outside the Ghost home"):
        check_local_path(home, "mocks/link.txt")
    with pytest.raises(LocalPathError, match="outside the Ghost home"):
        check_local_path(home, "mocks/dirlink/outside.txt")
    # a symlink that stays inside the home is fine
    (home / "mocks" / "inner.json").symlink_to(home / "mocks" / "cart.json")
    assert check_local_path(home, "mocks/inner.json") == (home / "mocks" / "cart.json").resolve()


def test_not_a_regular_file(home: Path):
    os.mkfifo(home / "mocks" / "fifo")
    with pytest.raises(LocalPathError, match="not a regular file"):
        check_local_path(home, "mocks/fifo")


def test_size_cap(home: Path):
    big = home / "mocks" / "big.bin"
    with open(big, "wb") as handle:
        handle.truncate(MAX_LOCAL_FILE_SIZE + 1)
    with pytest.raises(LocalPathError, match="limit"):
        check_local_path(home, "mocks/big.bin")


def test_read_file(home: Path):
    found = read_local(home, "mocks/cart.json", "/cart", "/cart?x=1")
    assert found.status == 200
    assert found.body == b'{"items": []}'
    assert found.content_type.startswith("application/json")


def test_read_directory(home: Path):
    assert path_prefix("/static/*") == "/static/"
    assert path_prefix("/a/b?c") == "/a/b"
    js = read_local(home, "mocks/site", "/static/*", "/static/js/app.js?v=3")
    assert (js.status, js.body) == (200, b"console.log(1)")
    assert "javascript" in js.content_type
    index = read_local(home, "mocks/site", "/static/*", "/static/")
    assert (index.status, index.body) == (200, b"<h1>index</h1>")
    assert read_local(home, "mocks/site", "/static/*", "/static/nope.css").status == 404
    # escaping through the URL is impossible: safe_join refuses, nothing outside is read
    assert directory_candidates((home / "mocks/site").resolve(), "/static/*", "/static/../../config.yaml") == []
    assert read_local(home, "mocks/site", "/static/*", "/static/%2e%2e/%2e%2e/config.yaml").status == 404


def test_read_directory_symlink_escape(home: Path, tmp_path: Path):
    (home / "mocks" / "site" / "out.txt").symlink_to(tmp_path / "outside.txt")
    refused = read_local(home, "mocks/site", "/s/*", "/s/out.txt")
    assert refused.status == 403 and refused.body == b""


def test_read_rechecks_at_serve_time(home: Path, tmp_path: Path):
    target = home / "mocks" / "swap.json"
    target.write_text("{}")
    assert read_local(home, "mocks/swap.json", "", "/").status == 200
    target.unlink()
    assert read_local(home, "mocks/swap.json", "", "/").status == 404
    target.symlink_to(tmp_path / "outside.txt")
    assert read_local(home, "mocks/swap.json", "", "/").status == 403


def test_content_types():
    assert guess_content_type("a.html", b"") == "text/html; charset=utf-8"
    assert guess_content_type("a.png", b"") == "image/png"
    assert sniff_content_type(b'  {"a": 1}') == "application/json"
    assert sniff_content_type(b"<!DOCTYPE html><p>") == "text/html; charset=utf-8"
    assert sniff_content_type(b"\x89PNG\r\n") == "image/png"
    assert sniff_content_type(b"plain words") == "text/plain; charset=utf-8"
    assert sniff_content_type(b"\xff\xfe\x00\x01binary") == "application/octet-stream"
