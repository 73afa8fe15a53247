"""Connection checks for the integrations in the settings, without saving anything:

- ``POST /api/v1/settings/llm/validate`` sends "Say ok" to the LLM provider
  (anthropic, openai or ollama) with the model and key given (or stored);
- ``POST /api/v1/settings/testrail/validate`` calls TestRail's GetProjects.

Both answer 200 with ``{"valid": true|false, ...}``: the verdict is in the body. A body that
is not what the route takes (not JSON, wrong types, an unknown provider, a URL that is not
http(s)) is a 400. Every request goes through Ghost's SSRF guard: private and local
addresses are refused unless ``replay.allow_hosts`` lists them (a local Ollama needs
``localhost`` there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from ghost_addons.api.http import ApiError, json_response, read_json_object
from ghost_addons.api.lookups import outbound_guard
from ghost_addons.hookspecs import RegisterSettings, hookimpl
from ghost_addons.settings_schema import Setting
from plugins.integrations.checks import (
    CheckFailed,
    call,
    llm_request,
    llm_verdict,
    merged,
    testrail_request,
    testrail_verdict,
)

if TYPE_CHECKING:
    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost

LLM_BODY_LIMIT = 64 * 1024
TESTRAIL_BODY_LIMIT = 4 * 1024  # the spec's limit for this route
LLM_KEYS = ("provider", "api_key", "model", "ollama_endpoint")
TESTRAIL_KEYS = ("url", "email", "api_key")


PROVIDERS = ("anthropic", "openai", "ollama")
LLM_SETTINGS = (
    Setting("provider", "anthropic", "The LLM provider of the AI agent (empty: none).", choices=("", *PROVIDERS)),
    Setting("api_key", "", "The provider's API key (not needed for Ollama).", secret=True),
    Setting("model", "claude-sonnet-4-20250514", "The model the agent uses."),
    Setting("ollama_endpoint", "", "Ollama's URL, e.g. http://localhost:11434 (add localhost to "
            "replay.allow_hosts for a local one).", url=True, outbound=True),
)
TESTRAIL_SETTINGS = (
    Setting("url", "", "Your TestRail URL, e.g. https://company.testrail.io.", url=True, outbound=True),
    Setting("email", "", "The TestRail user's email."),
    Setting("api_key", "", "The TestRail API key.", secret=True),
)


@hookimpl
def ghost_settings(register: RegisterSettings) -> None:
    register("llm", *LLM_SETTINGS, import_requires=("provider",))
    register("testrail", *TESTRAIL_SETTINGS, import_requires=("url", "email"))


def _or_400(build: Any, *args: Any) -> Any:
    """`build(*args)` (a merge or a request builder), its ValueError as a 400."""
    try:
        return build(*args)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


def _stored(ghost: Ghost, section: str, keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: ghost.settings.get(f"{section}.{key}") for key in keys}


@hookimpl
def ghost_routes(ghost: Ghost, routes: RouteTable) -> None:
    async def validate_llm(request: web.Request) -> web.Response:
        body = await read_json_object(request, limit=LLM_BODY_LIMIT)
        config = _or_400(merged, _stored(ghost, "llm", LLM_KEYS), body, LLM_KEYS)
        outbound = _or_400(llm_request, config)
        try:
            return json_response(llm_verdict(config["provider"], *await call(outbound_guard(ghost), outbound)))
        except CheckFailed as exc:
            return json_response({"valid": False, "error": str(exc)})

    async def validate_testrail(request: web.Request) -> web.Response:
        body = await read_json_object(request, limit=TESTRAIL_BODY_LIMIT)
        config = _or_400(merged, _stored(ghost, "testrail", TESTRAIL_KEYS), body, TESTRAIL_KEYS)
        outbound = _or_400(testrail_request, config)
        try:
            return json_response(testrail_verdict(*await call(outbound_guard(ghost), outbound)))
        except CheckFailed as exc:
            return json_response({"valid": False, "error": f"TestRail connection failed: {exc}"})

    routes.add("POST", "/api/v1/settings/llm/validate", validate_llm,
               "Check an LLM provider, model and key with one short chat request; nothing is saved",
               body="{provider?, api_key?, model?, ollama_endpoint?} (missing fields: the stored settings)",
               responses={200: "{valid: true} or {valid: false, error}"})
    routes.add("POST", "/api/v1/settings/testrail/validate", validate_testrail,
               "Check TestRail credentials with GetProjects; nothing is saved",
               body="{url?, email?, api_key?} (4 KB limit; missing fields: the stored settings)",
               responses={200: "{valid: true, project_count, projects} or {valid: false, error}"})
