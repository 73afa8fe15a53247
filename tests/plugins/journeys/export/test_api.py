"""GET /api/v1/journeys/{id}/export: status codes, content types, file names, the registry."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ghost_addons.plugins import PluginLoadError
from tests.plugins.journeys.conftest import PLUGINS, TOKEN, Api, FakeExtension
from tests.support.inprocess import StartGhostApp, make_ghost

from .journeys import login_flows

PLAIN = "tests.plugins.journeys.export.plain_exporter"
CLASHING = "tests.plugins.journeys.export.clashing_exporter"
EXPECTED = {
    "curl": ("text/x-shellscript", ".sh"),
    "har": ("application/json", ".har"),
    "postman": ("application/json", ".postman_collection.json"),
    "k6": ("application/javascript", ".k6.js"),
    "playwright-api": ("text/typescript", ".api.spec.ts"),
    "cypress-api": ("application/javascript", ".api.cy.js"),
}
UI_FORMATS = {
    "playwright-ui": ("text/typescript", ".ui.spec.ts"),
    "cypress-ui": ("application/javascript", ".ui.cy.js"),
}
FORMATS = "curl, cypress-api, cypress-ui, har, k6, playwright-api, playwright-ui, postman"


async def recorded(api: Api, extension: FakeExtension, *, with_flows: bool = True) -> str:
    sid = api.ghost.active_session_id
    journey = await api.ok("POST", "/api/v1/journeys/start", json={"session_id": sid, "name": "Login"})
    if with_flows:
        await api.ghost.store.add_flows(login_flows("http://app.test", "tok3n-value-123456", "n0te1d",
                                                    start=datetime.now(UTC), session_id=sid))
    await api.ok("POST", "/api/v1/journeys/stop", json={"session_id": sid})
    return journey["id"]


async def test_each_format_answers_a_file_to_download(api: Api, extension: FakeExtension) -> None:
    journey_id = await recorded(api, extension)
    for fmt, (content_type, extension_) in EXPECTED.items():
        async with api.session.get(f"{api.base}/api/v1/journeys/{journey_id}/export?format={fmt}") as response:
            body = await response.text()
            assert response.status == 200, body
            assert response.headers["Content-Type"] == f"{content_type}; charset=utf-8"
            assert response.headers["Content-Disposition"] == (
                f'attachment; filename="journey-{journey_id[:8]}{extension_}"')
            assert "/api/notes" in body


async def test_errors_name_what_is_wrong(api: Api, extension: FakeExtension) -> None:
    journey_id = await recorded(api, extension)
    status, body = await api.call("GET", f"/api/v1/journeys/{journey_id}/export")
    assert status == 400 and body["error"] == f"query parameter format is required; use one of {FORMATS}"
    status, body = await api.call("GET", f"/api/v1/journeys/{journey_id}/export?format=selenium")
    assert status == 400 and body["error"] == f"unsupported format 'selenium'; use one of {FORMATS}"
    status, body = await api.call("GET", "/api/v1/journeys/01NOSUCHJOURNEY/export?format=curl")
    assert status == 404 and "01NOSUCHJOURNEY" in body["error"]
    empty = await recorded(api, extension, with_flows=False)
    status, body = await api.call("GET", f"/api/v1/journeys/{empty}/export?format=k6")
    assert status == 422 and body == {"error": "journey has no exportable flows"}
    for fmt in UI_FORMATS:  # flows but no interactions
        status, body = await api.call("GET", f"/api/v1/journeys/{journey_id}/export?format={fmt}")
        assert status == 422 and body == {"error": "journey has no interactions"}
    openapi = await api.ok("GET", "/api/v1/openapi.json")
    assert "/api/v1/journeys/{id}/export" in openapi["paths"]


async def test_a_plugin_adds_a_format_without_importing_journeys(ghost_app: StartGhostApp) -> None:
    api = await ghost_app((*PLUGINS, PLAIN), token=TOKEN)
    sid = api.ghost.active_session_id
    created = await api.ok("POST", "/api/v1/journeys", status=201, json={"session_id": sid, "name": "x"})
    status, body = await api.call("GET", f"/api/v1/journeys/{created['id']}/export?format=nope")
    assert f"{FORMATS}, urls" in body["error"]


async def test_a_format_claimed_twice_stops_ghost_naming_both_plugins(tmp_path: Path) -> None:
    ghost = make_ghost(tmp_path / "home", (*PLUGINS, CLASHING), api_port=0, token=TOKEN)
    with pytest.raises(PluginLoadError) as caught:
        await ghost.start()
    message = str(caught.value)
    assert "journey exporter 'curl'" in message and "'journeys'" in message and "'clashing_exporter'" in message
    await ghost.stop()



async def test_ui_formats_answer_the_page_objects_with_the_configured_test_id_attribute(
    api: Api, extension: FakeExtension,
) -> None:
    sid = api.ghost.active_session_id
    journey = await api.ok("POST", "/api/v1/journeys/start", json={"session_id": sid, "name": "Pick a country"})
    await api.ok("POST", "/api/v1/interactions", status=201, json={
        "type": "change", "page_url": "http://app.test/settings", "selector": 'select[data-test="country"]',
        "element_type": "select", "element_text": "Germany",
        "attributes": {"name": "country", "test_id": "country", "test_id_attr": "data-test", "tag": "select"}})
    await api.ok("POST", "/api/v1/journeys/stop", json={"session_id": sid})
    url = f"{api.base}/api/v1/journeys/{journey['id']}/export?format="
    for fmt, (content_type, extension_) in UI_FORMATS.items():
        async with api.session.get(url + fmt) as response:
            body = await response.text()
            assert response.status == 200, body
            assert response.headers["Content-Type"] == f"{content_type}; charset=utf-8"
            assert response.headers["Content-Disposition"] == (
                f'attachment; filename="journey-{journey['id'][:8]}{extension_}"')
            assert body.startswith("// ===== File: constants.") and "SettingsPage" in body
    async with api.session.get(url + "playwright-ui") as response:
        assert """page.locator('select[data-test="country"]')""" in await response.text()
    await api.ok("PUT", "/api/v1/settings", json={"journeys": {"test_id_attribute": "data-test"}})
    async with api.session.get(url + "playwright-ui") as response:
        body = await response.text()
        assert "page.getByTestId('country')" in body and "test.use({ testIdAttribute: 'data-test' });" in body
