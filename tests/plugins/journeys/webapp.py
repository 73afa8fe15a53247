"""A small web app to record journeys on: login form, dashboard, local-only button, noise.

    /                  login page: a form posting JSON to /api/auth, then to /dashboard
    /widgets           a dropdown, select, checkbox, labelled fields, a form without a
                       button, a dialog, an anchor link and a pushState "next" button
    /dashboard         fetches /api/items on load and every 2 s; "Toggle details" only
                       changes the page; "Refresh" fetches /api/items again; "Add note"
                       posts a note with the token sign-in handed out, then reads it back
                       from the Location the app answered
    /api/auth          POST {"username", "password"} -> {"token"}: a fresh token on every
                       sign-in, remembered only by this app instance (a restart forgets it)
    /api/notes         POST {"title"} with `Authorization: Bearer <token>` -> 201 {id, title}
                       and `Location: /api/notes/{id}` (a fresh id); GET /api/notes/{id} reads
                       it back; an unknown token is 401, an unknown id 404
    /api/items         GET -> [{id, name}]; `items_status` forces a status, `items_redirect`
                       answers 302 to that URL instead, `items_without` leaves a key out
    /pick              (linked from the dashboard) a dropdown of realms under one test-id
                       container, a Turkish-labelled button without a test id, today's date
                       (`today`), and a "Save pick" button whose test id is `save_pick_test_id`
    /api/picks         POST {"realm"} with the sign-in token -> 201 {"realm"}
    /greet             (browser replay proofs) a name field, "Greet" posting it to /api/greet
                       and showing the greeting on a banner of colour `greeting_colour`,
                       "Show items" listing /api/items; nothing on the page moves by itself;
                       the Greet button's test id is `greet_test_id`
    /api/greet         POST {"name"} -> {"greeting": "Hello, <name>"}; names kept in `greeted`
    /static/...        CSS, JS, a font, images; /favicon.ico, /manifest.json
    analytics          both pages post a beacon to www.google-analytics.com (answered by
                       the analytics stub plugin inside Ghost, never by the network)

Runs aiohttp on its own loop in a thread, bound to 127.0.0.1, and records every request
it receives (method, path, headers) so tests can check what the target saw.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from tests.support.ports import free_port

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
WOFF2 = b"wOF2" + b"\0" * 60
BEACON = "http://www.google-analytics.com/g/collect?v=2&tid=G-TEST"

NOISE_HEAD = f"""
  <link rel="icon" href="/favicon.ico">
  <link rel="manifest" href="/manifest.json">
  <link rel="stylesheet" href="/static/app.css">
  <script src="/static/app.js"></script>
  <script>
    fetch("{BEACON}", {{method: "POST", mode: "no-cors", body: "page=" + location.pathname}}).catch(() => {{}});
  </script>
"""

LOGIN = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Login - Journey App</title>{NOISE_HEAD}</head>
<body>
  <img src="/static/logo.png" alt="logo">
  <h1>Sign in</h1>
  <form id="login-form" data-testid="login-form">
    <input name="username" data-testid="username" placeholder="Username" autocomplete="off">
    <input name="password" type="password" data-testid="password" placeholder="Password">
    <button type="submit" data-testid="login-button">Sign in</button>
  </form>
  <p id="message"></p>
  <script>
    document.getElementById("login-form").addEventListener("submit", async (event) => {{
      event.preventDefault();
      const form = event.target;
      const response = await fetch("/api/auth", {{
        method: "POST",
        headers: {{"Content-Type": "application/json"}},
        body: JSON.stringify({{username: form.username.value, password: form.password.value}}),
      }});
      if (response.ok) {{
        sessionStorage.setItem("token", (await response.json()).token);
        location.href = "/dashboard";
      }}
      else document.getElementById("message").textContent = "Wrong password";
    }});
  </script>
</body></html>
"""

DASHBOARD = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Dashboard - Journey App</title>{NOISE_HEAD}</head>
<body>
  <img src="/static/avatar" alt="avatar">
  <h1>Dashboard</h1>
  <button id="toggle" data-testid="toggle-details">Toggle details</button>
  <button id="refresh" data-testid="refresh">Refresh</button>
  <button id="add-note" data-testid="add-note">Add note</button>
  <a href="/pick" data-testid="pick-link">Pick a realm</a>
  <p id="note"></p>
  <div id="details" hidden>Details are shown</div>
  <ul id="items"></ul>
  <p id="loads">0</p>
  <script>
    let loads = 0;
    async function load() {{
      const response = await fetch("/api/items");
      const items = await response.json();
      document.getElementById("items").innerHTML = items.map(i => `<li>${{i.name}}</li>`).join("");
      document.getElementById("loads").textContent = String(++loads);
    }}
    document.getElementById("toggle").addEventListener("click", () => {{
      const details = document.getElementById("details");
      details.hidden = !details.hidden;
    }});
    document.getElementById("refresh").addEventListener("click", load);
    document.getElementById("add-note").addEventListener("click", async () => {{
      const auth = {{"Authorization": "Bearer " + sessionStorage.getItem("token")}};
      const created = await fetch("/api/notes", {{
        method: "POST",
        headers: {{...auth, "Content-Type": "application/json"}},
        body: JSON.stringify({{title: "Buy milk"}}),
      }});
      const note = await (await fetch(created.headers.get("Location"), {{headers: auth}})).json();
      document.getElementById("note").textContent = note.title;
    }});
    load();
    setInterval(load, 2000);
  </script>
</body></html>
"""


WIDGETS = """<!doctype html>
<html><head><meta charset="utf-8"><title>Widgets - Journey App</title></head>
<body>
  <div data-cy="tag_type"><div>Shire</div><div>Mordor</div></div>
  <select name="country" data-test="country">
    <option value="tr">Türkiye</option><option value="de">Germany</option>
  </select>
  <label><input type="checkbox" name="agree" id="agree"> I agree</label>
  <input type="email" name="email" aria-label="Email address" placeholder="you@example.com">
  <form id="search"><input name="q" data-id="search-box"></form>
  <div role="dialog"><p id="dialog-text">Text in a dialog</p></div>
  <a href="#section-2" title="Jump">Go to section 2</a>
  <button type="button" id="next" onclick="history.pushState({}, '', '/widgets/step-2')">Next step</button>
  <h2 id="section-2">Section 2</h2>
  <script>
    document.getElementById("search").addEventListener("submit", (event) => event.preventDefault());
  </script>
</body></html>
"""


@dataclass
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class JourneyApp:
    port: int = field(default_factory=free_port)
    seen: list[SeenRequest] = field(default_factory=list)
    items_status: int = 200
    items_redirect: str = ""
    items_without: str = ""  # a key left out of every item (an API whose response changed shape)
    tokens: set[str] = field(default_factory=set)
    notes: dict[str, str] = field(default_factory=dict)
    picks: list[str] = field(default_factory=list)
    today: str = "03-12-2026"
    save_pick_test_id: str = "save-pick"
    greeting_colour: str = "#2e7d32"
    greet_test_id: str = "greet"
    greeted: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def requests_to(self, path: str) -> list[SeenRequest]:
        return [s for s in self.seen if s.path == path]


def item_list(state: JourneyApp) -> list[dict[str, object]]:
    """GET /api/items: two items, without the key `items_without` when a test sets it."""
    items: list[dict[str, object]] = [{"id": 1, "name": "Apples"}, {"id": 2, "name": "Pears"}]
    return [{k: v for k, v in item.items() if k != state.items_without} for item in items]


def make_app(state: JourneyApp) -> web.Application:
    @web.middleware
    async def remember(request: web.Request, handler):  # type: ignore[no-untyped-def]
        state.seen.append(SeenRequest(request.method, request.path, dict(request.headers)))
        return await handler(request)

    async def login(request: web.Request) -> web.Response:
        return web.Response(text=LOGIN, content_type="text/html")

    async def dashboard(request: web.Request) -> web.Response:
        return web.Response(text=DASHBOARD, content_type="text/html")

    async def widgets(request: web.Request) -> web.Response:
        return web.Response(text=WIDGETS, content_type="text/html")

    async def auth(request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("password") != "secret":
            return web.json_response({"error": "wrong password"}, status=401)
        token = secrets.token_hex(16)
        state.tokens.add(token)
        return web.json_response({"token": token})

    def signed_in(request: web.Request) -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or token not in state.tokens:
            raise web.HTTPUnauthorized(text='{"error": "sign in first"}', content_type="application/json")

    async def create_note(request: web.Request) -> web.Response:
        signed_in(request)
        body = await request.json()
        note_id = secrets.token_hex(8)
        state.notes[note_id] = str(body.get("title", ""))
        return web.json_response({"id": note_id, "title": state.notes[note_id]}, status=201,
                                 headers={"Location": f"/api/notes/{note_id}"})

    async def read_note(request: web.Request) -> web.Response:
        signed_in(request)
        note_id = request.match_info["id"]
        if note_id not in state.notes:
            raise web.HTTPNotFound(text='{"error": "no such note"}', content_type="application/json")
        return web.json_response({"id": note_id, "title": state.notes[note_id]})

    async def items(request: web.Request) -> web.Response:
        if state.items_redirect:
            raise web.HTTPFound(state.items_redirect)
        if state.items_status != 200:
            return web.json_response({"error": "forced"}, status=state.items_status)
        return web.json_response(item_list(state))

    async def static(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        kinds = {
            "app.css": ("text/css", b"@font-face{font-family:I;src:url(/static/font.woff2)} body{font-family:I}"),
            "app.js": ("application/javascript", b"window.appLoaded = true;"),
            "font.woff2": ("font/woff2", WOFF2),
            "logo.png": ("image/png", PNG),
            "avatar": ("image/png", PNG),  # no extension: only its content type says image
        }
        if name not in kinds:
            raise web.HTTPNotFound()
        content_type, body = kinds[name]
        return web.Response(body=body, content_type=content_type)

    async def favicon(request: web.Request) -> web.Response:
        return web.Response(body=PNG, content_type="image/png")

    async def manifest(request: web.Request) -> web.Response:
        return web.json_response({"name": "Journey App"})

    app = web.Application(middlewares=[remember])
    add_pick_routes(app, state, signed_in)
    add_greet_routes(app, state)
    app.router.add_get("/", login)
    app.router.add_get("/dashboard", dashboard)
    app.router.add_get("/widgets", widgets)
    app.router.add_post("/api/auth", auth)
    app.router.add_get("/api/items", items)
    app.router.add_post("/api/notes", create_note)
    app.router.add_get("/api/notes/{id}", read_note)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/manifest.json", manifest)
    return app


def pick_page(state: JourneyApp) -> str:
    """The page the UI export proofs record on: its date and the save button's test id come
    from the app's state, so a restarted app can show another date or rename the test id."""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Pick - Journey App</title></head>
<body>
  <h1>Pick a realm</h1>
  <p>{state.today}</p>
  <div data-testid="realm">
    <div class="option">Shire</div><div class="option">Mordor</div><div class="option">Rohan</div>
  </div>
  <p id="chosen"></p>
  <button type="button" id="greet">Giriş Yap</button>
  <p id="greeting"></p>
  <button type="button" data-testid="{state.save_pick_test_id}">Save pick</button>
  <p id="saved"></p>
  <script>
    let realm = "";
    for (const option of document.querySelectorAll("[data-testid=realm] .option")) {{
      option.addEventListener("click", () => {{
        realm = option.textContent;
        document.getElementById("chosen").textContent = realm;
      }});
    }}
    document.getElementById("greet").addEventListener("click", () => {{
      document.getElementById("greeting").textContent = "Hoş geldiniz";
    }});
    document.querySelector("button:last-of-type").addEventListener("click", async () => {{
      const response = await fetch("/api/picks", {{
        method: "POST",
        headers: {{"Authorization": "Bearer " + sessionStorage.getItem("token"), "Content-Type": "application/json"}},
        body: JSON.stringify({{realm}}),
      }});
      document.getElementById("saved").textContent = response.ok ? "Saved " + realm : "Not saved";
    }});
  </script>
</body></html>
"""


def add_pick_routes(app: web.Application, state: JourneyApp, signed_in: Callable[[web.Request], None]) -> None:
    async def pick(request: web.Request) -> web.Response:
        return web.Response(text=pick_page(state), content_type="text/html")

    async def save_pick(request: web.Request) -> web.Response:
        signed_in(request)
        realm = str((await request.json()).get("realm", ""))
        state.picks.append(realm)
        return web.json_response({"realm": realm}, status=201)

    app.router.add_get("/pick", pick)
    app.router.add_post("/api/picks", save_pick)


def greet_page(state: JourneyApp) -> str:
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Greet - Journey App</title>
<style>body {{ font: 20px sans-serif; margin: 20px; }} #greeting {{ display: none; padding: 30px; font-size: 40px;
  color: white; background: {state.greeting_colour}; }} #greeting.shown {{ display: block; }}
  * {{ caret-color: transparent; }}</style></head>
<body>
  <h1>Greeter</h1>
  <input id="name" data-testid="name" placeholder="Your name" autocomplete="off">
  <button type="button" id="greet-button" data-testid="{state.greet_test_id}">Greet</button>
  <button type="button" data-testid="show-items">Show items</button>
  <p id="greeting"></p>
  <ul id="items"></ul>
  <script>
    document.getElementById("greet-button").addEventListener("click", async () => {{
      const response = await fetch("/api/greet", {{
        method: "POST", headers: {{"Content-Type": "application/json"}},
        body: JSON.stringify({{name: document.getElementById("name").value}}),
      }});
      const greeting = document.getElementById("greeting");
      greeting.textContent = (await response.json()).greeting;
      greeting.className = "shown";
    }});
    document.querySelector("[data-testid=show-items]").addEventListener("click", async () => {{
      const items = await (await fetch("/api/items")).json();
      document.getElementById("items").innerHTML = items.map(i => `<li>${{i.name}}</li>`).join("");
    }});
  </script>
</body></html>
"""


def add_greet_routes(app: web.Application, state: JourneyApp) -> None:
    async def greet(request: web.Request) -> web.Response:
        return web.Response(text=greet_page(state), content_type="text/html")

    async def api_greet(request: web.Request) -> web.Response:
        name = str((await request.json()).get("name", ""))
        state.greeted.append(name)
        return web.json_response({"greeting": f"Hello, {name}"})

    app.router.add_get("/greet", greet)
    app.router.add_post("/api/greet", api_greet)


class JourneyAppServer:
    """`start()` returns the app's state; `stop()` always shuts the thread down."""

    def __init__(self, port: int = 0) -> None:
        """`port`: listen there (a restarted app on the port of the one it replaces)."""
        self.state = JourneyApp(port=port) if port else JourneyApp()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="journey-app")
        self.runner: web.AppRunner | None = None

    def start(self) -> JourneyApp:
        self.thread.start()

        async def up() -> None:
            self.runner = web.AppRunner(make_app(self.state), access_log=None)
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", self.state.port).start()

        asyncio.run_coroutine_threadsafe(up(), self.loop).result(10)
        return self.state

    def stop(self) -> None:
        if self.loop.is_closed():  # stopped already (a test that restarts the app)
            return
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
