from ghost_addons.hostmatch import CaptureFilter, compile_hosts


def test_globs() -> None:
    match = compile_hosts(["*.example.com", "api.*"])
    assert match("a.example.com") and match("example.com") and match("API.test")
    assert not match("example.org") and not compile_hosts([])("anything")


def test_capture_filter() -> None:
    assert CaptureFilter([], []).captures("x")
    only = CaptureFilter(["*.shop.com"], ["cdn.shop.com"])
    assert only.captures("api.shop.com") and not only.captures("cdn.shop.com") and not only.captures("other.com")
