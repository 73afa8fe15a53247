"""Connection checks for the integrations in the settings: an LLM provider and TestRail.

Each check builds one request from the settings (the stored ones, overridden by the fields
given), sends it through Ghost's SSRF guard and turns the answer into ``{"valid": ...}``.
Building the request and reading the answer are pure functions; `call` is the one place
that talks to the network.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from ghost_addons.ssrf import OutboundGuard, SsrfRefused

CHECK_TIMEOUT_S = 15.0
MAX_ANSWER_BYTES = 1024 * 1024
TEST_PROMPT = "Say ok"
LLM_PROVIDERS = ("anthropic", "openai", "ollama")
# The providers' own SDKs read these too: a gateway, or a local stand-in in tests.
BASE_URL_ENV = {"anthropic": "ANTHROPIC_BASE_URL", "openai": "OPENAI_BASE_URL"}
DEFAULT_BASE_URL = {"anthropic": "https://api.anthropic.com", "openai": "https://api.openai.com",
                    "ollama": "http://localhost:11434"}
ANTHROPIC_VERSION = "2023-06-01"


class CheckFailed(Exception):
    """The service could not be reached or refused; the message is for the user."""


@dataclass(frozen=True)
class Outbound:
    """One request a check sends."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    json: dict[str, Any] | None = None

    @property
    def method(self) -> str:
        return "GET" if self.json is None else "POST"


def merged(stored: dict[str, Any], given: dict[str, Any], keys: tuple[str, ...]) -> dict[str, str]:
    """The stored values, replaced by the non-empty strings given (the rest fall back)."""
    out = {key: str(stored.get(key) or "") for key in keys}
    for key in keys:
        value = given.get(key)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"field {key!r} must be a string, got {value!r}")
        if value:
            out[key] = value
    return out


def http_url(value: str, what: str) -> str:
    """`value` without a trailing slash; ValueError unless it is an http(s) URL with a host."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an http:// or https:// URL, got {value!r}")
    return value.rstrip("/")


def llm_request(config: dict[str, str], environ: dict[str, str] | None = None) -> Outbound:
    """The smallest chat request that proves the provider, the model and the key work."""
    provider = config["provider"]
    if provider not in LLM_PROVIDERS:
        raise ValueError(f"provider must be one of {', '.join(LLM_PROVIDERS)}, got {provider!r}")
    if not config["model"]:
        raise ValueError("model is required")
    if provider != "ollama" and not config["api_key"]:
        raise ValueError(f"api_key is required for {provider}")
    env = os.environ if environ is None else environ
    messages = [{"role": "user", "content": TEST_PROMPT}]
    if provider == "ollama":
        base = http_url(config["ollama_endpoint"] or DEFAULT_BASE_URL["ollama"], "ollama_endpoint")
        return Outbound(f"{base}/api/chat", {}, {"model": config["model"], "messages": messages, "stream": False})
    base = http_url(env.get(BASE_URL_ENV[provider]) or DEFAULT_BASE_URL[provider], BASE_URL_ENV[provider])
    if provider == "anthropic":
        return Outbound(f"{base}/v1/messages",
                        {"x-api-key": config["api_key"], "anthropic-version": ANTHROPIC_VERSION},
                        {"model": config["model"], "max_tokens": 8, "messages": messages})
    return Outbound(f"{base}/v1/chat/completions", {"Authorization": f"Bearer {config['api_key']}"},
                    {"model": config["model"], "max_tokens": 8, "messages": messages})


def testrail_request(config: dict[str, str]) -> Outbound:
    """TestRail's GetProjects with basic auth (email and API key)."""
    for key in ("url", "email", "api_key"):
        if not config[key]:
            raise ValueError(f"{key} is required (in the body or the testrail settings)")
    base = http_url(config["url"], "url")
    credentials = base64.b64encode(f"{config['email']}:{config['api_key']}".encode()).decode()
    return Outbound(f"{base}/index.php?/api/v2/get_projects", {"Authorization": f"Basic {credentials}"})


def error_text(status: int, answer: Any) -> str:
    """What a provider's error answer says, in one line."""
    detail = ""
    if isinstance(answer, dict):
        error = answer.get("error")
        if isinstance(error, dict):
            detail = str(error.get("message") or error.get("type") or "")
        elif error:
            detail = str(error)
        detail = detail or str(answer.get("message") or "")
    elif isinstance(answer, str):
        detail = answer.strip()[:200]
    kind = {401: "authentication failed", 403: "permission denied", 404: "not found"}.get(status, f"HTTP {status}")
    return f"{kind}: {detail}" if detail else kind


def llm_verdict(provider: str, status: int, answer: Any) -> dict[str, Any]:
    if status != 200:
        return {"valid": False, "error": error_text(status, answer)}
    replied = isinstance(answer, dict) and (
        (provider == "anthropic" and isinstance(answer.get("content"), list))
        or (provider == "openai" and isinstance(answer.get("choices"), list))
        or (provider == "ollama" and isinstance(answer.get("message"), dict))
    )
    if not replied:
        return {"valid": False, "error": f"the {provider} endpoint answered, but not like {provider}'s chat API"}
    return {"valid": True}


def testrail_verdict(status: int, answer: Any) -> dict[str, Any]:
    if status != 200:
        return {"valid": False, "error": f"TestRail connection failed: {error_text(status, answer)}"}
    # TestRail 6.7+ pages the list ({"projects": [...], "size": n}); older versions send the list
    projects = answer.get("projects") if isinstance(answer, dict) else answer
    if not isinstance(projects, list):
        return {"valid": False, "error": "TestRail connection failed: the answer holds no project list"}
    listed = [{"id": p.get("id"), "name": p.get("name")} for p in projects if isinstance(p, dict)]
    count = answer.get("size", len(listed)) if isinstance(answer, dict) else len(listed)
    return {"valid": True, "project_count": count, "projects": listed}


async def call(guard: OutboundGuard, outbound: Outbound, timeout: float = CHECK_TIMEOUT_S) -> tuple[int, Any]:
    """Send through the SSRF guard: (status, JSON answer or text); CheckFailed when no answer."""
    host = urlsplit(outbound.url).hostname or ""
    try:
        async with guard.client_session(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            async with session.request(outbound.method, outbound.url, headers=outbound.headers,
                                       json=outbound.json, allow_redirects=False) as resp:
                raw = await resp.content.read(MAX_ANSWER_BYTES)
                status = resp.status
    except SsrfRefused as exc:
        raise CheckFailed(f"refused: {exc}") from None
    except TimeoutError:
        raise CheckFailed(f"no answer from {host} within {timeout:.0f} s") from None
    except (aiohttp.ClientError, OSError) as exc:
        if guard.refusals:
            raise CheckFailed(f"refused: {guard.refusals[-1]}") from None
        raise CheckFailed(f"cannot reach {host}: {exc}") from None
    try:
        return status, orjson.loads(raw)
    except orjson.JSONDecodeError:
        return status, raw.decode("utf-8", "replace")
