"""Cypress exports parse and lint clean (Cypress itself cannot be installed here): every file
of every cypress-* format parses with the TypeScript compiler API and passes ESLint with
eslint-plugin-cypress's recommended rules, from the fixed journey and from one recorded
into Ghost and downloaded through the API. The cypress-api export also runs against the
restarted app through a small harness of the Cypress commands it uses."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from plugins.journeys.export import BUILTIN
from plugins.journeys.export.model import filename
from tests.plugins.journeys.conftest import Api, FakeExtension
from tests.plugins.journeys.webapp import JourneyAppServer
from tests.support.cypress_check import check_cypress_files, run_cypress_api, write_export

from .journeys import JOURNEY_ID, flow, login_journey
from .test_tools import export, record, recorded_app  # noqa: F401 (recorded_app is a fixture)

CYPRESS_FORMATS = sorted(name for name in BUILTIN if name.startswith("cypress"))


def test_the_check_finds_parse_errors_and_cypress_lint_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.cy.js"
    broken.write_text('it("x", () => {\n  const button = cy.get("button");\n  cy.wait(500);\n  let y = (;\n});\n')
    lint_only = tmp_path / "lint.cy.js"
    lint_only.write_text('it("x", () => {\n  const button = cy.get("button");\n  button.click();\n  cy.wait(500);\n'
                         '  undefinedHelper();\n});\n')
    problems = check_cypress_files([broken, lint_only])
    assert {(Path(p.file).name, p.rule) for p in problems} == {
        ("broken.cy.js", "typescript/TS1109"), ("broken.cy.js", "eslint/parse"),
        ("lint.cy.js", "cypress/no-assigning-return-values"), ("lint.cy.js", "cypress/no-unnecessary-waiting"),
        ("lint.cy.js", "no-undef")}


def test_write_export_splits_a_multi_file_export(tmp_path: Path) -> None:
    text = "// ===== File: constants.js =====\nexport const A = 1;\n\n// ===== File: pages/Login.js =====\nexport {};\n"
    paths = write_export(text, tmp_path, "unused.cy.js")
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == ["constants.js", "pages/Login.js"]
    assert paths[0].read_text() == "export const A = 1;\n"
    assert write_export("cy.log(1);\n", tmp_path / "one", "a.cy.js") == [tmp_path / "one" / "a.cy.js"]


def test_every_cypress_format_parses_and_lints_clean(tmp_path: Path) -> None:
    assert "cypress-api" in CYPRESS_FORMATS
    files: list[Path] = []
    for fmt in CYPRESS_FORMATS:
        exporter = BUILTIN[fmt]
        text = exporter.generate(login_journey())
        files += write_export(text, tmp_path / fmt, filename(JOURNEY_ID, exporter.extension))
    problems = check_cypress_files(files)
    assert not problems, "\n".join(map(str, problems))


def test_cypress_api_with_a_binary_body_a_redirect_and_a_recorded_404(tmp_path: Path) -> None:
    journey = login_journey()
    base = "http://127.0.0.1:8080"
    upload = dataclasses.replace(flow(8, base, "PUT", "/api/blob", 204, {}),
                                 request=dataclasses.replace(journey.steps[0].flow.request, method="PUT",  # type: ignore[union-attr]
                                                             url=base + "/api/blob", body=b"\xff\x00\xfe"))
    extra = [flow(7, base, "GET", "/old", 302, {}, response_headers=[("Location", "/new")]), upload,
             flow(9, base, "GET", "/api/missing", 404, {"error": "no such thing"})]
    steps = [*journey.steps, *(dataclasses.replace(journey.steps[0], flow=f) for f in extra)]
    text = BUILTIN["cypress-api"].generate(type(journey)(journey.journey, steps))
    assert 'body: Cypress.Buffer.from("/wD+", "base64")' in text
    assert text.count("failOnStatusCode: false") == 1  # the recorded 404 only
    assert 'expect(response.status, "step 7: GET").to.eq(404);' in text
    assert 'expect(response.body).to.include.all.keys("error");' in text
    assert text.count("followRedirect: false") == 7
    twice = type(journey)(journey.journey, [*journey.steps, journey.steps[2]])  # GET /api/items again
    assert BUILTIN["cypress-api"].generate(twice).count("cy.request({") == 5  # every flow, none deduplicated
    path = tmp_path / "journey.api.cy.js"
    path.write_text(text)
    problems = check_cypress_files([path])
    assert not problems, "\n".join(map(str, problems))


async def test_a_recorded_journey_s_cypress_api_export_parses_and_lints_clean(
    api: Api, extension: FakeExtension, recorded_app: tuple[JourneyAppServer, str, str], tmp_path: Path,  # noqa: F811
) -> None:
    server, token, note_id = recorded_app
    journey_id = await record(api, extension, server.state.url, token, note_id)
    path = await export(api, journey_id, "cypress-api", tmp_path)
    text = path.read_text()
    assert token not in text and note_id not in text and text.count("secret") == 1
    assert 'Cypress.env("PASSWORD") || "secret"' in text
    problems = check_cypress_files([path])
    assert not problems, "\n".join(map(str, problems))


async def test_the_cypress_api_export_passes_against_the_restarted_app(
    api: Api, extension: FakeExtension, recorded_app: tuple[JourneyAppServer, str, str], tmp_path: Path,  # noqa: F811
) -> None:
    server, token, note_id = recorded_app
    port = server.state.port
    journey_id = await record(api, extension, server.state.url, token, note_id)
    spec = await export(api, journey_id, "cypress-api", tmp_path)
    # What the export avoids: a request built when it is queued, before the token is read.
    eager = tmp_path / "eager.cy.js"
    eager.write_text(spec.read_text().replace("cy.wrap(null).then(() =>\n      cy.request(", "cy.request(").replace(
        "      }),\n    ).then((response) => {", "    }).then((response) => {"))
    assert "cy.wrap" not in eager.read_text()
    server.stop()
    restarted = JourneyAppServer(port=port)
    app = restarted.start()
    try:
        result = await asyncio.to_thread(run_cypress_api, spec)
        assert result.returncode == 0 and "passed: " in result.stdout, (result.stdout, result.stderr[-3000:])
        assert len(app.tokens) == len(app.notes) == 1
        result = await asyncio.to_thread(run_cypress_api, eager)
        assert result.returncode == 1 and "answered 401" in result.stdout, result.stdout
        app.items_status = 503  # a recorded 200 answered 503 fails cy.request itself, as in Cypress
        result = await asyncio.to_thread(run_cypress_api, spec)
        assert result.returncode == 1 and "/api/items answered 503" in result.stdout, result.stdout
        app.items_status, app.items_without = 200, "name"
        result = await asyncio.to_thread(run_cypress_api, spec)
        assert result.returncode == 1 and "expected { id: 1 } to contain keys 'id', and 'name'" in result.stdout, result.stdout
    finally:
        restarted.stop()
