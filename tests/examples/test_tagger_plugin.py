"""ghost-tagger inside a real (not started) Ghost: loaded by path as a user loads it, its
declarations, its settings check and hot reload, its pipeline stage and its table."""

from __future__ import annotations

from pathlib import Path

import pytest
from ghost_tagger import counts
from ghost_tagger.plugin import DEFAULT_RULES, by_session, stats_session
from mitmproxy.test import tflow

from ghost_addons.api.http import ApiError
from ghost_addons.core import Ghost
from ghost_addons.settings_schema import SettingsError
from ghost_addons.store import db, migrations, sessions
from tests.examples.conftest import EXAMPLES
from tests.ghost_addons.factories import make_flow

TAGGER = EXAMPLES / "ghost-tagger" / "ghost_tagger"


@pytest.fixture
def ghost(tmp_path: Path) -> Ghost:
    return Ghost(tmp_path / "home", plugin_paths=(str(TAGGER),), api_port=1)


def test_it_declares_its_settings_and_event(ghost: Ghost) -> None:
    rules = ghost.settings.schema.lookup("tagger.rules")
    assert rules is not None and rules.owner == "ghost_tagger"  # named after its folder when loaded by path
    assert ghost.settings.get("tagger.rules") == DEFAULT_RULES
    assert ghost.settings.get("tagger.block_status") == 403
    assert ghost.events.types.owner_of("tagger.tagged") == "ghost_tagger"


def test_a_bad_rule_or_status_is_refused_and_nothing_changes(ghost: Ghost) -> None:
    with pytest.raises(SettingsError, match="tagger.rules has a bad rule 'colour:red -> red': unknown condition"):
        ghost.settings.check_update({"tagger": {"rules": ["status:5xx -> e", "colour:red -> red"]}})
    with pytest.raises(SettingsError, match="tagger.block_status must be 400-599, got 200"):
        ghost.settings.check_update({"tagger": {"block_status": 200}})
    assert ghost.settings.get("tagger.rules") == DEFAULT_RULES


async def test_rules_reload_when_the_setting_changes(ghost: Ghost) -> None:
    tagger = ghost.pm.get_plugin("ghost_tagger")
    tagger.apply_settings(ghost)
    record = make_flow("f1", method="POST", url="http://api.example.com/x", status=201)
    capture = ghost.pm.direct("ghost_capture")
    capture(ghost=ghost, flow=tflow.tflow(), record=record)
    assert record.tags == []
    changed = ghost.settings.update({"tagger": {"rules": ["method:POST -> write"], "block_status": 451}})
    await ghost.settings_changed(changed)
    capture(ghost=ghost, flow=tflow.tflow(), record=record)
    assert record.tags == ["write"] and tagger.block_status == 451


def test_a_block_rule_answers_the_request_and_nothing_else(ghost: Ghost) -> None:
    ghost.settings.update({"tagger": {"rules": ["host:ads.example.com path:/track* -> block"]}})
    ghost.pm.get_plugin("ghost_tagger").apply_settings(ghost)
    stage = ghost.pm.direct("ghost_map_rules")
    blocked, passed = tflow.tflow(), tflow.tflow()
    blocked.request.host, blocked.request.path = "ads.example.com", "/track?id=1"
    passed.request.host, passed.request.path = "ads.example.com", "/page"
    assert stage(ghost=ghost, flow=blocked, phase="request") == []  # no coroutine: it is decided at once
    assert stage(ghost=ghost, flow=passed, phase="request") == []
    assert blocked.response.status_code == 403
    assert blocked.response.headers["X-Ghost-Blocked-By"] == "tagger"
    assert "host:ads.example.com path:/track* -> block" in blocked.response.text
    assert passed.response is None
    answered = tflow.tflow(resp=True)
    answered.request.host = "ads.example.com"
    stage(ghost=ghost, flow=answered, phase="response")
    assert answered.response.status_code == 200


def test_stored_flows_are_counted_per_session_and_tag(ghost: Ghost) -> None:
    tagger = ghost.pm.get_plugin("ghost_tagger")
    tagger.apply_settings(ghost)
    stored = ghost.pm.direct("ghost_flow_stored")
    for flow in (make_flow("1", url="http://127.0.0.1/", status=503, session_id="a", tags=["server-error", "local"]),
                 make_flow("2", url="http://127.0.0.1/", status=404, session_id="a", tags=["client-error", "local"]),
                 make_flow("3", url="http://x.localhost/", status=200, session_id="b", tags=["local"]),
                 make_flow("4", url="http://x.localhost/", status=500, session_id="b", tags=[])):  # imported untagged
        assert stored(ghost=ghost, flow=flow) == []
    assert by_session(tagger.pending) == {"a": {"server-error": 1, "local": 2, "client-error": 1},
                                          "b": {"local": 1}}


def test_the_counts_table_adds_up_and_goes_with_its_session(tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "ghost.db")
    migrations.apply(conn, [(migrations.CORE, migrations.CORE_MIGRATIONS),
                            (counts.MIGRATION_OWNER, counts.MIGRATIONS)])
    a = sessions.create_session(conn, "a")["id"]
    b = sessions.create_session(conn, "b")["id"]
    counts.add_counts(conn, [(a, "local", 2), (a, "server-error", 1), (b, "local", 1)])
    counts.add_counts(conn, [(a, "local", 3), ("gone", "local", 7)])  # a deleted session is skipped
    assert counts.read_counts(conn, a) == {"local": 5, "server-error": 1}
    assert counts.read_counts(conn, None) == {"local": 6, "server-error": 1}
    sessions.delete_session(conn, a)
    assert counts.read_counts(conn, a) == {} and counts.read_counts(conn, None) == {"local": 1}
    conn.close()


@pytest.mark.parametrize("query, expected", [({}, None), ({"session_id": "01J"}, "01J")])
def test_the_stats_query(query: dict[str, str], expected: str | None) -> None:
    assert stats_session(query) == expected


@pytest.mark.parametrize("query, message", [
    ({"session": "x"}, "unknown query parameter 'session'; this route takes session_id"),
    ({"session_id": " "}, "session_id must not be empty"),
])
def test_a_bad_stats_query_is_a_400(query: dict[str, str], message: str) -> None:
    with pytest.raises(ApiError, match=message) as caught:
        stats_session(query)
    assert caught.value.status == 400
