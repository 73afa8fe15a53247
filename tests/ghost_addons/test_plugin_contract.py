"""The plugin contract's boundaries: no feature imports another, the core imports no feature,
registries refuse a name that is taken, every setting and event is declared and documented."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from ghost_addons.config import core_schema
from ghost_addons.core import Ghost
from ghost_addons.events import UnknownEvent
from ghost_addons.plugins import PluginLoadError, make_plugin_manager
from ghost_addons.reference import declared_tables, with_tables
from plugins import DEFAULT_PLUGINS

REPO = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in a file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            if module.count(".") == 0:  # `from plugins import compose`: the names are modules
                found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def python_files(folder: str) -> list[Path]:
    return sorted((REPO / folder).rglob("*.py"))


def test_no_feature_imports_another() -> None:
    crossings = []
    for path in python_files("plugins"):
        parts = path.relative_to(REPO / "plugins").parts
        if len(parts) < 2:
            continue  # plugins/__init__.py: the list of built-ins
        own = parts[0]
        for line, module in imported_modules(path):
            names = module.split(".")
            if names[0] == "plugins" and len(names) > 1 and names[1] != own:
                crossings.append(f"plugins/{'/'.join(parts)}:{line} imports {module}")
    assert not crossings, "features meet through hooks and registries, not imports:\n" + "\n".join(crossings)


def test_the_core_imports_no_feature() -> None:
    crossings = [
        f"{path.relative_to(REPO)}:{line} imports {module}"
        for path in python_files("ghost_addons")
        for line, module in imported_modules(path)
        if module == "plugins" or module.startswith("plugins.")
    ]
    assert not crossings, "the core must not know its features:\n" + "\n".join(crossings)


def test_the_import_scan_sees_what_it_must(tmp_path: Path) -> None:
    sample = REPO / "plugins" / "noise" / "_probe_for_test.py"
    sample.write_text("from plugins.journeys import recorder\nfrom .. import compose\nimport plugins.codegen\n"
                      "from plugins import compare\n")
    try:
        modules = [m for _, m in imported_modules(sample)]
    finally:
        sample.unlink()
    assert {"plugins.journeys", "plugins.compose", "plugins.codegen", "plugins.compare"} <= set(modules)


def plugin_file(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / f"{name}.py"
    path.write_text("from ghost_addons.hookspecs import hookimpl\n"
                    "from ghost_addons.settings_schema import Setting\n\n" + body)
    return str(path)


def make_ghost(tmp_path: Path, *paths: str, disabled: tuple[str, ...] = ()) -> Ghost:
    return Ghost(tmp_path / "home", plugin_paths=paths, default_plugins=DEFAULT_PLUGINS,
                 disabled_plugins=disabled, api_port=1)


def test_a_second_exporter_named_har_is_refused_naming_both(tmp_path: Path) -> None:
    rogue = plugin_file(tmp_path, "rogue_har", "@hookimpl\ndef ghost_exporters(register):\n"
                                               "    register('har', object())\n")
    with pytest.raises(PluginLoadError, match="exporter 'har' is registered by both 'exporters' and 'rogue_har'"):
        make_ghost(tmp_path, rogue)


@pytest.mark.parametrize("hook, body, message", [
    ("ghost_code_generators", "register('curl', lambda flow: '')",
     "code generator 'curl' is registered by both 'codegen' and 'clash'"),
    ("ghost_importers", "register('har', object())", "importer 'har' is registered by both 'importers' and 'clash'"),
    ("ghost_settings", "register('proxy', Setting('noise_threshold', 1, 'x'))",
     "setting proxy.noise_threshold is declared by both 'noise' and 'clash'"),
    ("ghost_event_types", "register('flow.created', '{}', 'x')",
     "event type 'flow.created' is registered by both 'core' and 'clash'"),
    ("ghost_code_generators", "register('mine', 'not a function')", "must be a function"),
    ("ghost_settings", "register('mine', Setting('n', 5, 'x', minimum=10))", "breaks its own rules"),
])
def test_every_registry_refuses_clashes(tmp_path: Path, hook: str, body: str, message: str) -> None:
    clash = plugin_file(tmp_path, "clash", f"@hookimpl\ndef {hook}(register):\n    {body}\n")
    with pytest.raises(PluginLoadError, match=re.escape(message)):
        make_ghost(tmp_path, clash)


def test_two_plugins_with_one_name_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    first = plugin_file(tmp_path, "twin", "")
    second = plugin_file(tmp_path / "a", "twin", "")
    with pytest.raises(PluginLoadError, match="two plugins are named 'twin'"):
        make_plugin_manager([], [first, second], entry_points=False)


async def test_a_route_taken_by_another_plugin_is_refused(tmp_path: Path) -> None:
    clash = plugin_file(tmp_path, "clash", "@hookimpl\ndef ghost_routes(ghost, routes):\n"
                                           "    routes.add('GET', '/api/v1/health', None, 'mine')\n")
    from ghost_addons.api.app import make_app

    ghost = make_ghost(tmp_path, clash)
    with pytest.raises(ValueError, match="GET /api/v1/health is registered by both 'core' and 'clash'"):
        make_app(ghost)


def test_who_registered_what_is_recorded(tmp_path: Path) -> None:
    ghost = make_ghost(tmp_path)
    assert ghost.exporters.owner_of("har") == "exporters"
    assert ghost.code_generators.owner_of("curl") == "codegen"
    assert ghost.events.types.owner_of("journey:started") == "journeys"
    assert ghost.settings.schema.lookup("proxy.noise_threshold").owner == "noise"
    assert ghost.settings.schema.lookup("proxy.port").owner == "core"


def test_a_disabled_plugin_is_not_even_imported(tmp_path: Path) -> None:
    loud = plugin_file(tmp_path, "loud", "raise RuntimeError('imported although disabled')\n")
    ghost = make_ghost(tmp_path, loud, disabled=("loud", "noise"))
    names = {name for name, plugin in ghost.pm.list_name_plugin() if plugin is not None}
    assert "noise" not in names and "loud" not in names and "retention" in names
    assert ghost.settings.schema.lookup("proxy.noise_threshold") is None


def test_the_core_declares_only_its_own_sections() -> None:
    assert set(core_schema().sections) == {"proxy", "api", "store", "replay"}


def test_an_undeclared_event_is_refused(tmp_path: Path) -> None:
    ghost = make_ghost(tmp_path)
    with pytest.raises(UnknownEvent, match="'flow.exploded'"):
        ghost.events.publish("flow.exploded", {})


def published_literals() -> list[tuple[str, str]]:
    """(where, event type) of every `publish("...")` and `publish(f"x.{kind}")` in the code; the
    f-string ones expand over the kinds their callers pass."""
    found = []
    for folder in ("ghost_addons", "plugins"):
        for path in python_files(folder):
            text = path.read_text(encoding="utf-8")
            for match in re.finditer(r'publish\(\s*(f?)"([^"]+)"', text):
                where = f"{path.relative_to(REPO)}:{text[:match.start()].count(chr(10)) + 1}"
                if match.group(1):
                    prefix = match.group(2).split("{")[0]
                    kinds = set(re.findall(r'publish\(\s*"(created|updated|deleted)"', text))
                    found += [(where, prefix + kind) for kind in kinds]
                elif "." in match.group(2) or ":" in match.group(2):
                    found.append((where, match.group(2)))
    return found


def test_every_event_the_code_publishes_is_declared(tmp_path: Path) -> None:
    declared = make_ghost(tmp_path).events.types
    literals = published_literals()
    assert len(literals) >= 25
    missing = [f"{where}: {name}" for where, name in literals if name not in declared]
    assert not missing, "declare these in a ghost_event_types hook:\n" + "\n".join(missing)


def test_the_readme_tables_match_the_declarations() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    fresh = with_tables(readme, declared_tables(make_plugin_manager(DEFAULT_PLUGINS, entry_points=False)))
    assert fresh == readme, "run `.venv/bin/python scripts/readme_tables.py` to update README.md"


def test_openapi_describes_the_settings_from_their_declarations(tmp_path: Path) -> None:
    from ghost_addons.api.app import make_app
    from ghost_addons.api.core_routes import ROUTES_KEY

    app = make_app(make_ghost(tmp_path))
    spec = app[ROUTES_KEY].openapi("test")
    body = spec["paths"]["/api/v1/settings"]["put"]["requestBody"]["content"]["application/json"]["schema"]
    noise = body["properties"]["proxy"]["properties"]["noise_threshold"]
    assert noise["type"] == "integer" and noise["minimum"] == 1
    assert body["properties"]["logging"]["properties"]["level"]["enum"] == ["debug", "info", "warn", "error"]
    assert body["properties"]["llm"]["properties"]["api_key"]["writeOnly"] is True
    assert body["additionalProperties"] is False
