import pytest

from plugins.map_rules.remote import build_remote_url


@pytest.mark.parametrize(
    ("remote", "path", "keep_path", "keep_query", "expected"),
    [
        ("http://127.0.0.1:9000", "/v1/users/1?f=name", True, True, "http://127.0.0.1:9000/v1/users/1?f=name"),
        ("http://127.0.0.1:9000/", "/v1/users/1?f=name", True, True, "http://127.0.0.1:9000/v1/users/1?f=name"),
        ("https://staging/base", "/v1/u", True, True, "https://staging/base/v1/u"),
        ("https://staging/base/", "/v1/u?a=1", True, False, "https://staging/base/v1/u"),
        ("https://staging/fixed", "/v1/u?a=1", False, True, "https://staging/fixed?a=1"),
        ("https://staging/fixed?k=v", "/v1/u?a=1", False, True, "https://staging/fixed?k=v&a=1"),
        ("https://staging/fixed?k=v", "/v1/u?a=1", False, False, "https://staging/fixed?k=v"),
        ("https://staging", "/v1/u", False, False, "https://staging/"),
        ("http://h:1", "/", True, True, "http://h:1/"),
        ("http://h:1", "/a%20b?x=%2F", True, True, "http://h:1/a%20b?x=%2F"),
    ],
)
def test_build_remote_url(remote, path, keep_path, keep_query, expected):
    assert build_remote_url(remote, path, preserve_path=keep_path, preserve_query=keep_query) == expected
