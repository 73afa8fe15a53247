from urllib.parse import urlsplit

import pytest

from ghost_addons.model import Flow, Response
from plugins.compare.diff import Thresholds, compare_endpoints, similar_pairs
from plugins.compare.endpoints import group_endpoints, is_id_segment, path_template
from tests.plugins.exporters.flows import make_flow


def flow(method: str, url: str, status: int = 200, ms: float = 10, size: int = 100) -> Flow:
    f = make_flow(method, url, duration_us=int(ms * 1000))
    f.response = Response(status_code=status, body_size=size,
                          headers=[("Content-Type", "application/json")])
    assert urlsplit(url).path == f.request.path
    return f


@pytest.mark.parametrize("path,template", [
    ("/users/42", "/users/{id}"),
    ("/users/42/orders/7", "/users/{id}/orders/{id}"),
    ("/o/550e8400-e29b-41d4-a716-446655440000", "/o/{id}"),
    ("/f/01HWRFQP3K5M9TGWQX7Z3K5M9T", "/f/{id}"),
    ("/c/5f2b8c9e1a7d3f4e6b0a", "/c/{id}"),
    ("/t/sk_live_4eC39HqLyjWDarjtT1zdp7dc", "/t/{id}"),
    ("/u/alice@example.com", "/u/{id}"),
    ("/api/v1/items", "/api/v1/items"),
    ("/", "/"),
])
def test_path_templates_collapse_ids(path: str, template: str) -> None:
    assert path_template(path) == template


def test_words_are_not_ids() -> None:
    assert not any(is_id_segment(s) for s in ("users", "v1", "checkout", "api", "html5"))


def test_added_removed_and_changed() -> None:
    a = group_endpoints([
        flow("GET", "https://h/api/users/1"), flow("GET", "https://h/api/users/2"),
        flow("POST", "https://h/api/cart"), flow("GET", "https://h/api/old"),
        flow("GET", "https://h/api/slow", ms=100), flow("GET", "https://h/api/big", size=1000),
    ])
    b = group_endpoints([
        flow("GET", "https://h/api/users/3"), flow("POST", "https://h/api/cart", status=500),
        flow("GET", "https://h/api/new"), flow("GET", "https://h/api/slow", ms=400),
        flow("GET", "https://h/api/big", size=5000),
    ])
    result = compare_endpoints(a, b)
    assert [e["path"] for e in result["added"]] == ["/api/new"]
    assert [e["path"] for e in result["removed"]] == ["/api/old"]
    changes = {(c["method"], c["path"]): c["changes"] for c in result["changed"]}
    assert changes == {("POST", "/api/cart"): ["status"], ("GET", "/api/slow"): ["timing"],
                       ("GET", "/api/big"): ["size"]}
    assert result["unchanged"] == 1  # /api/users/{id}


def test_small_changes_stay_below_the_thresholds() -> None:
    a = group_endpoints([flow("GET", "https://h/x", ms=100, size=1000)])
    b = group_endpoints([flow("GET", "https://h/x", ms=120, size=1100)])
    assert compare_endpoints(a, b)["changed"] == []
    strict = Thresholds(size_ratio=0.05, size_min_bytes=10, timing_ratio=0.1, timing_min_ms=5)
    assert compare_endpoints(a, b, strict)["changed"][0]["changes"] == ["size", "timing"]


def test_renamed_query_parameter_still_matches() -> None:
    a = group_endpoints([flow("GET", "https://h/api/search?page=1&q=x")])
    b = group_endpoints([flow("GET", "https://h/api/search?pg=1&q=x")])
    result = compare_endpoints(a, b)
    assert result["added"] == [] and result["removed"] == []
    assert result["changed"][0]["changes"] == ["query"]


def test_id_the_template_missed_is_matched_by_shape() -> None:
    a = group_endpoints([flow("GET", "https://h/api/users/alice/profile")])
    b = group_endpoints([flow("GET", "https://h/api/users/bob/profile", status=404)])
    result = compare_endpoints(a, b)
    assert result["added"] == [] and result["removed"] == []
    only = result["changed"][0]
    assert only["match"] == "similar" and 0 < only["distance"] <= 0.2
    assert only["changes"] == ["path", "status"]


def test_different_resources_and_methods_do_not_match() -> None:
    a = group_endpoints([flow("GET", "https://h/api/items"), flow("DELETE", "https://h/api/cart")])
    b = group_endpoints([flow("GET", "https://h/api/orders"), flow("POST", "https://h/api/cart")])
    result = compare_endpoints(a, b)
    assert len(result["added"]) == 2 and len(result["removed"]) == 2
    assert similar_pairs(list(a.values()), []) == []
