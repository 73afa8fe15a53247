"""The AI agent: a tool-using chat over the Anthropic Messages API or Ollama's chat API,
streamed as SSE.

- ``POST /api/v1/agent/chat`` {message, session_id?, conversation_id?} runs the loop
  (plugins/agent/loop.py) and streams each step: ``text``, ``tool_call``, ``tool_result``,
  ``approval_required``, then ``done`` (or ``error``). The client going away cancels the
  run. The ``X-Ghost-Conversation-Id`` response header names the conversation; sending it
  back as ``conversation_id`` continues it (plugins/agent/conversations.py).
- ``GET /api/v1/agent/conversations``, ``DELETE /api/v1/agent/conversations/{id}``.
- ``POST /api/v1/agent/approvals/{id}`` {approve: bool} lets a waiting tool run (or not);
  ``GET /api/v1/agent/approvals`` lists the ones waiting.
- ``GET /api/v1/sessions/{id}/report`` and ``/poc`` serve what the agent wrote in the
  session workspace (plugins/agent/workspace.py).

The provider, model and key are the ``llm`` settings (declared by plugins/integrations);
the client is rebuilt when they change. The provider's address (``ANTHROPIC_BASE_URL``,
read by the SDK, or api.anthropic.com; ``llm.ollama_endpoint`` for Ollama) is checked by
Ghost's SSRF guard before each chat (and Ollama's requests go through the guard itself).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson
from aiohttp import web

from ghost_addons.api.http import ApiError, json_response, read_json_object
from ghost_addons.api.lookups import outbound_guard, session_or_404
from ghost_addons.errors import Conflict, NotFound
from ghost_addons.hookspecs import RegisterEvent, RegisterSettings, hookimpl
from ghost_addons.ids import new_id
from ghost_addons.settings_schema import Setting
from ghost_addons.ssrf import SsrfRefused, guard_for, host_address
from plugins.agent import workspace
from plugins.agent.conversations import Conversation, Conversations
from plugins.agent.loop import Limits, agent_loop
from plugins.agent.ollama import LlmFailed, OllamaLlm
from plugins.agent.tools import GhostClient, ToolRunner

if TYPE_CHECKING:
    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost

log = logging.getLogger("ghost.agent")

CHAT_BODY_LIMIT = 64 * 1024
MESSAGE_MAX_CHARS = 32 * 1024
KEEPALIVE_SECS = 1.0  # a comment line this often: how a vanished client is noticed while the loop waits
LLM_TIMEOUT_SECS = 120.0
AGENT_PROVIDERS = ("anthropic", "ollama")
OLLAMA_DEFAULT = "http://localhost:11434"
SETTINGS = (
    Setting("max_iterations", 20, "Model calls one chat may make before it stops.", minimum=1, maximum=200),
    Setting("token_budget", 200_000, "Input plus output tokens one chat may use before it stops.",
            minimum=1_000, maximum=10_000_000),
    Setting("max_tokens", 4096, "The longest answer the model may give in one call (tokens).",
            minimum=256, maximum=64_000),
    Setting("approval_timeout_secs", 600, "How long a tool that needs approval waits for it; then it "
            "counts as not approved.", minimum=5, maximum=86_400),
)


class AnthropicLlm:
    """The Messages API through the `anthropic` SDK (base URL from ANTHROPIC_BASE_URL)."""

    def __init__(self, api_key: str, model: str) -> None:
        # Imported here, when an agent is configured: the SDK takes a second to import, which
        # every start of Ghost (and every test's) would otherwise pay.
        import anthropic

        self.api_error = anthropic.APIError
        self.client = anthropic.AsyncAnthropic(api_key=api_key, timeout=LLM_TIMEOUT_SECS, max_retries=1)
        self.model = model

    @property
    def base_url(self) -> str:
        return str(self.client.base_url)

    async def create(self, *, system: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                     max_tokens: int) -> Any:
        try:
            return await self.client.messages.create(model=self.model, system=system, messages=messages,
                                                     tools=tools, max_tokens=max_tokens)  # type: ignore[arg-type]
        except self.api_error as e:
            raise LlmFailed(str(e)) from e

    async def close(self) -> None:
        await self.client.close()


@dataclass
class Approval:
    id: str
    tool: str
    input: dict[str, Any]
    session_id: str
    future: asyncio.Future[bool]


def sse(event: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def wants_html(accept: str) -> bool:
    """Whether an Accept header prefers text/html over Markdown (Markdown wins ties and
    is the default)."""
    weights: dict[str, float] = {}
    for part in accept.split(",")[:50]:
        media, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        weights[media.strip().lower()] = q
    html = weights.get("text/html", 0.0)
    markdown = weights.get("text/markdown", weights.get("text/*", weights.get("*/*", 0.0)))
    return html > 0 and html > markdown


def loopback_api_url(ghost: Ghost) -> str:
    """Ghost's API as the tools reach it: on loopback, so the API's Host check (DNS
    rebinding) lets the call in even when the API listens on every interface."""
    address = host_address(ghost.api_host)
    if address is not None and address.is_unspecified:
        return f"http://{'[::1]' if address.version == 6 else '127.0.0.1'}:{ghost.api_port}"
    return ghost.api_url


async def check_provider_address(ghost: Ghost, base_url: str) -> None:
    """The SSRF guard on the provider's address: a 400 saying why when refused.
    (The SDK connects by itself, so the address is checked here, before each chat.)"""
    guard = outbound_guard(ghost)
    try:
        guard.check_url(base_url)
        parts = urlsplit(base_url)
        host = parts.hostname or ""
        if host_address(host) is None:
            infos = await asyncio.get_running_loop().getaddrinfo(host, parts.port or 443)
            for info in infos:
                guard.check_address(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]), host)
    except SsrfRefused as e:
        raise ApiError(400, f"the LLM provider's address is refused: {e}") from None
    except OSError as e:
        raise ApiError(400, f"the LLM provider's host does not resolve: {e}") from None


class AgentPlugin:
    """One per Ghost: the LLM client (rebuilt when the llm settings change) and the
    approvals waiting."""

    def __init__(self) -> None:
        self.llm: AnthropicLlm | OllamaLlm | None = None
        self.llm_config: tuple[str, ...] = ()
        self.approvals: dict[str, Approval] = {}
        self.chats_started = 0
        self.chats_running = 0
        self.conversations = Conversations()

    @hookimpl
    def ghost_settings(self, register: RegisterSettings) -> None:
        register("agent", *SETTINGS)

    @hookimpl
    def ghost_event_types(self, register: RegisterEvent) -> None:
        register("agent.approval_required", "{id, tool, input, session_id}",
                 "The AI agent wants to run a tool that needs approval (POST /api/v1/agent/approvals/{id}).")
        register("agent.approval_resolved", "{id, approved}",
                 "An agent tool call was approved or refused (or its wait ran out, or its chat ended).")

    @hookimpl
    def ghost_settings_changed(self, ghost: Ghost, changed: set[str]) -> None:
        if any(key.startswith("llm.") for key in changed) and self.llm is not None:
            old, self.llm = self.llm, None
            ghost.spawn(old.close(), name="agent: close the old LLM client")

    @hookimpl
    def ghost_event(self, ghost: Ghost, type: str, data: Any) -> None:  # noqa: A002 (the hook's name)
        if type == "session.deleted" and isinstance(data, dict) and isinstance(data.get("id"), str):
            try:
                folder = workspace.workspace_dir(ghost.home, data["id"])
            except ValueError:
                return
            ghost.spawn(asyncio.to_thread(shutil.rmtree, folder, True), name="agent: delete a session workspace")

    def llm_for(self, ghost: Ghost) -> AnthropicLlm | OllamaLlm:
        """The client for the llm settings, rebuilt when they changed since the last chat."""
        provider, api_key, model, endpoint = (ghost.settings.get(f"llm.{key}") for key in
                                              ("provider", "api_key", "model", "ollama_endpoint"))
        if provider not in AGENT_PROVIDERS:
            raise ApiError(400, f"the agent runs on {' or '.join(AGENT_PROVIDERS)}; llm.provider is {provider!r}")
        if provider == "anthropic" and not api_key:
            raise ApiError(400, "llm.api_key is empty; set the Anthropic API key in the settings")
        if not model:
            raise ApiError(400, "llm.model is empty; set the model in the settings")
        config = (provider, api_key, model, endpoint)
        if self.llm is None or self.llm_config != config:
            if self.llm is not None:
                ghost.spawn(self.llm.close(), name="agent: close the old LLM client")
            self.llm_config = config
            self.llm = AnthropicLlm(api_key, model) if provider == "anthropic" else \
                OllamaLlm(endpoint or OLLAMA_DEFAULT, model, lambda: guard_for(ghost), LLM_TIMEOUT_SECS)
        return self.llm

    @hookimpl
    def ghost_monitor(self, ghost: Ghost, report: dict[str, Any]) -> None:
        report["agent"] = {"chats_started": self.chats_started, "chats_running": self.chats_running,
                           "approvals_waiting": sum(1 for a in self.approvals.values() if not a.future.done())}

    def limits(self, ghost: Ghost) -> Limits:
        return Limits(ghost.settings.get("agent.max_iterations"), ghost.settings.get("agent.token_budget"),
                      ghost.settings.get("agent.max_tokens"))

    async def wait_for_approval(self, ghost: Ghost, approval: Approval, emit: Any) -> bool:
        self.approvals[approval.id] = approval
        shown = {"id": approval.id, "tool": approval.tool, "input": approval.input, "session_id": approval.session_id}
        await emit("approval_required", shown)
        ghost.events.publish("agent.approval_required", shown)
        approved = False  # also when the wait runs out or the chat is cancelled meanwhile
        try:
            approved = await asyncio.wait_for(asyncio.shield(approval.future),
                                              ghost.settings.get("agent.approval_timeout_secs"))
        except TimeoutError:
            pass
        finally:
            self.approvals.pop(approval.id, None)
            ghost.events.publish("agent.approval_resolved", {"id": approval.id, "approved": approved})
        return approved

    @hookimpl
    def ghost_routes(self, ghost: Ghost, routes: RouteTable) -> None:
        async def chat(request: web.Request) -> web.StreamResponse:
            body = await read_json_object(request, limit=CHAT_BODY_LIMIT)
            message = body.get("message")
            if not isinstance(message, str) or not message.strip():
                raise ApiError(400, "message is required: what you want the agent to do")
            if len(message) > MESSAGE_MAX_CHARS:
                raise ApiError(400, f"message is {len(message)} characters; the limit is {MESSAGE_MAX_CHARS}")
            conversation_id = body.get("conversation_id")
            if conversation_id is not None and not isinstance(conversation_id, str):
                raise ApiError(400, "conversation_id must be a string")
            session_id = body.get("session_id")
            if session_id is not None and not isinstance(session_id, str):
                raise ApiError(400, "session_id must be a string")
            conversation = self.conversations.get(conversation_id) if conversation_id else None
            if conversation_id and conversation is None:
                raise NotFound(f"no conversation {conversation_id} (unknown, or forgotten after "
                               f"{int(self.conversations.ttl_secs)} s unused or a restart); start a new one")
            if conversation is not None and session_id and session_id != conversation.session_id:
                raise ApiError(400, f"conversation {conversation.id} is about session {conversation.session_id}, "
                                    f"not {session_id}")
            session_id = conversation.session_id if conversation else session_id or ghost.active_session_id
            await session_or_404(ghost, session_id)
            if conversation is not None and conversation.busy:
                raise Conflict(f"conversation {conversation.id} is answering a message; send the next when it is done")
            llm = self.llm_for(ghost)
            await check_provider_address(ghost, llm.base_url)
            if conversation is None:
                conversation = self.conversations.new(new_id(), session_id)
            conversation.busy = True  # no await between the check above and this
            try:
                return await self.stream_chat(ghost, request, llm, message, conversation)
            finally:
                self.conversations.finish(conversation)

        async def list_conversations(request: web.Request) -> web.Response:
            self.conversations.expire()
            return json_response({"conversations": [c.describe() for c in self.conversations.items.values()]})

        async def forget_conversation(request: web.Request) -> web.Response:
            conversation = self.conversations.get(request.match_info["id"])
            if conversation is None:
                raise NotFound(f"no conversation {request.match_info['id']}")
            if conversation.busy:
                raise Conflict(f"conversation {conversation.id} is answering a message")
            self.conversations.forget(conversation.id)
            return web.Response(status=204)

        async def approve(request: web.Request) -> web.Response:
            body = await read_json_object(request, limit=1024)
            approved = body.get("approve")
            if not isinstance(approved, bool):
                raise ApiError(400, "approve must be true or false")
            approval = self.approvals.get(request.match_info["id"])
            if approval is None:
                raise NotFound(f"no tool call waiting for approval with id {request.match_info['id']}")
            if approval.future.done():
                raise Conflict(f"tool call {approval.id} was already answered")
            approval.future.set_result(approved)
            return json_response({"id": approval.id, "tool": approval.tool, "approved": approved})

        async def waiting(request: web.Request) -> web.Response:
            return json_response({"approvals": [
                {"id": a.id, "tool": a.tool, "input": a.input, "session_id": a.session_id}
                for a in self.approvals.values() if not a.future.done()]})

        async def report(request: web.Request) -> web.Response:
            session = await session_or_404(ghost, request.match_info["id"])
            folder = workspace.workspace_dir(ghost.home, session["id"])
            try:
                text = await asyncio.to_thread(workspace.read_report, folder)
            except workspace.TooLarge as e:
                raise ApiError(413, str(e)) from None
            if text is None:
                raise NotFound(f"the agent has written no report for session {session['id']}")
            if wants_html(request.headers.get("Accept", "")):
                page = await asyncio.to_thread(workspace.report_html, text, f"Ghost report: {session['name']}")
                return web.Response(text=page, content_type="text/html", charset="utf-8")
            return web.Response(text=text, content_type="text/markdown", charset="utf-8", headers={
                "Content-Disposition": f'attachment; filename="report-{session["id"]}.md"'})

        async def poc(request: web.Request) -> web.Response:
            session = await session_or_404(ghost, request.match_info["id"])
            folder = workspace.workspace_dir(ghost.home, session["id"])
            archive = await asyncio.to_thread(workspace.poc_zip, folder)
            if archive is None:
                raise NotFound(f"the agent has written no PoC files for session {session['id']}")
            return web.Response(body=archive, content_type="application/zip", headers={
                "Content-Disposition": f'attachment; filename="poc-{session["id"]}.zip"'})

        routes.add("POST", "/api/v1/agent/chat", chat,
                   "Run the AI agent on a message; streams its steps as server-sent events",
                   body="{message, session_id?, conversation_id?} (64 KB; session_id defaults to the active "
                        "session; conversation_id, from the X-Ghost-Conversation-Id header of an earlier chat, "
                        "continues that conversation)",
                   responses={200: "text/event-stream: text, tool_call, tool_result, approval_required, done, error; "
                                   "the X-Ghost-Conversation-Id header names the conversation",
                              400: "Bad body, no LLM configured, or the provider's address refused",
                              404: "No such session or conversation",
                              409: "The conversation is answering another message"})
        routes.add("GET", "/api/v1/agent/conversations", list_conversations,
                   "The agent's conversations kept for continuing (in memory, forgotten after an hour unused)",
                   responses={200: "{conversations: [{id, session_id, messages, bytes, busy}]}"})
        routes.add("DELETE", "/api/v1/agent/conversations/{id}", forget_conversation, "Forget a conversation",
                   responses={204: "Forgotten", 404: "No such conversation", 409: "It is answering a message"})
        routes.add("GET", "/api/v1/agent/approvals", waiting, "Agent tool calls waiting for approval",
                   responses={200: "{approvals: [{id, tool, input, session_id}]}"})
        routes.add("POST", "/api/v1/agent/approvals/{id}", approve, "Approve or refuse a waiting agent tool call",
                   body="{approve: bool}", responses={200: "{id, tool, approved}", 404: "Nothing waits with that id",
                                                      409: "Already answered"})
        routes.add("GET", "/api/v1/sessions/{id}/report", report,
                   "The agent's report.md of a session: Markdown, or HTML with Accept: text/html (10 MB cap)",
                   responses={200: "text/markdown (attachment) or text/html", 404: "No session or no report",
                              413: "report.md is over 10 MB"})
        routes.add("GET", "/api/v1/sessions/{id}/poc", poc,
                   "The agent's PoC files of a session as a zip (regular files only, 10 MB each)",
                   responses={200: "application/zip", 404: "No session or no PoC files"})

    async def stream_chat(self, ghost: Ghost, request: web.Request, llm: AnthropicLlm | OllamaLlm, message: str,
                          conversation: Conversation) -> web.StreamResponse:
        session_id = conversation.session_id
        queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue()

        async def emit(event: str, data: dict[str, Any]) -> None:
            await queue.put((event, data))

        async def approve(call_id: str, tool: str, args: dict[str, Any]) -> bool:
            approval = Approval(new_id(), tool, args, session_id, asyncio.get_running_loop().create_future())
            return await self.wait_for_approval(ghost, approval, emit)

        runner = ToolRunner(GhostClient(lambda: loopback_api_url(ghost), lambda: ghost.token), ghost.home, session_id)

        async def drive() -> None:
            self.chats_started += 1
            self.chats_running += 1
            try:
                outcome = await agent_loop(llm, runner, message, self.limits(ghost), emit, approve,
                                           conversation.messages)
                await emit("done", outcome.to_dict())
            except LlmFailed as e:
                log.warning("agent: the LLM provider failed: %s", e)
                await emit("error", {"error": f"the LLM provider failed: {e}"})
            except Exception as e:
                log.exception("agent: the chat failed")
                await emit("error", {"error": f"the agent failed: {e!r}"})
            finally:
                self.chats_running -= 1
                await queue.put(None)

        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                               "X-Accel-Buffering": "no",
                                               "X-Ghost-Conversation-Id": conversation.id})
        await response.prepare(request)
        task = ghost.spawn(drive(), name="agent chat")
        try:
            with ghost.streams.hold(request, response):  # rotating the token ends the chat
                while True:
                    try:
                        item = await asyncio.wait_for(queue.get(), KEEPALIVE_SECS)
                    except TimeoutError:
                        await response.write(b": keepalive\n\n")
                        continue
                    if item is None:
                        break
                    await response.write(sse(*item))
        except ConnectionError:
            log.info("agent: the client went away; the chat is cancelled")
        finally:
            task.cancel()
        return response


def make_plugin() -> AgentPlugin:
    return AgentPlugin()
