"""The plugin manager factory: built-in plugins, entry points, plugin files by path."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import logging
import sys
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pluggy

from ghost_addons import hookspecs

log = logging.getLogger("ghost.plugins")

ENTRY_POINT_GROUP = "ghost"


class PluginLoadError(Exception):
    pass


def load_plugin_file(path: Path) -> object:
    """Import a plugin module from a .py file (or a package directory)."""
    target = path / "__init__.py" if path.is_dir() else path
    if not target.is_file():
        raise PluginLoadError(f"plugin path {path} is not a .py file or a package directory")
    name = f"ghost_plugin_{path.stem if path.is_file() else path.name}"
    spec = importlib.util.spec_from_file_location(name, target)
    if spec is None or spec.loader is None:
        raise PluginLoadError(f"cannot load plugin from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        sys.modules.pop(name, None)
        raise PluginLoadError(f"plugin {path} failed to import: {type(e).__name__}: {e}") from e
    return module


def instantiate(module: object) -> object:
    """A plugin module with state exposes `make_plugin()`; each Ghost gets a fresh instance
    (scripts reload, so no plugin keeps state at module level). Others register as is."""
    factory = getattr(module, "make_plugin", None)
    return factory() if callable(factory) else module


def _no_results(**kwargs: Any) -> list[Any]:
    return []


def direct_caller(hook: pluggy.HookCaller) -> Callable[..., list[Any]]:
    """Call a hook's implementations in pluggy's order and with its results (None left out),
    without pluggy's per-call machinery, which costs several times what the implementations
    do on the hooks run for every flow. Hooks with wrappers or `firstresult` keep pluggy."""
    impls = hook.get_hookimpls()
    if not impls:
        return _no_results
    firstresult = bool(hook.spec and hook.spec.opts.get("firstresult"))
    if firstresult or any(impl.hookwrapper or impl.wrapper for impl in impls):
        return hook
    calls = [(impl.function, impl.argnames) for impl in reversed(impls)]
    if len(calls) == 1:  # the common case on the proxy's path: no loop, no list to fill
        function, argnames = calls[0]

        def call_one(**kwargs: Any) -> list[Any]:
            result = function(*[kwargs[name] for name in argnames])
            return [] if result is None else [result]

        return call_one

    def call(**kwargs: Any) -> list[Any]:
        results = []
        for function, argnames in calls:
            result = function(*[kwargs[name] for name in argnames])
            if result is not None:
                results.append(result)
        return results

    return call


class GhostPluginManager(pluggy.PluginManager):
    """pluggy's manager plus `direct(name)`: the fast caller for hooks on the proxy's path,
    rebuilt whenever a plugin is registered or unregistered."""

    def __init__(self) -> None:
        super().__init__("ghost")
        self._direct: dict[str, Callable[..., list[Any]]] = {}
        self.origins: dict[str, PluginOrigin] = {}

    def register(self, plugin: object, name: str | None = None) -> str | None:
        self._direct.clear()
        return super().register(plugin, name)

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        self._direct.clear()
        return super().unregister(plugin, name)

    def direct(self, name: str) -> Callable[..., list[Any]]:
        """The caller of hook `name`; `is_empty(caller)` when no plugin implements it."""
        caller = self._direct.get(name)
        if caller is None:
            caller = self._direct[name] = direct_caller(getattr(self.hook, name))
        return caller


def is_empty(caller: Callable[..., list[Any]]) -> bool:
    return caller is _no_results


async def settle(results: list[Any]) -> list[Any]:
    """A hook's results with each awaitable one awaited, in order (async implementations)."""
    return [await result if isinstance(result, Awaitable) else result for result in results]


@dataclass(frozen=True, slots=True)
class PluginOrigin:
    """Where a plugin came from, for `GET /api/v1/plugins`."""

    kind: str  # "builtin", "entry point" or "path"
    source: str  # the module, the entry point's `module:attr`, or the file
    version: str
    distribution: str = ""


def _version_of(module: object, fallback: str = "") -> str:
    version = getattr(module, "__version__", None) or getattr(module, "VERSION", None)
    return str(version) if version else fallback


def builtin_name(module_name: str) -> str:
    """A built-in plugin's name: its package's last part (`plugins.noise` -> `noise`)."""
    return module_name.rsplit(".", 1)[-1]


def make_plugin_manager(
    default_plugins: Iterable[str],
    plugin_paths: Iterable[str] = (),
    entry_points: bool = True,
    disabled: Iterable[str] = (),
) -> GhostPluginManager:
    """Register built-ins, then entry-point plugins, then plugin files; reject unknown hooks.

    A name in `disabled` (a plugin's name as `GET /api/v1/plugins` lists it) is blocked
    before anything loads, with pluggy's `set_blocked`: its code is not even imported."""
    from ghost_addons import __version__

    pm = GhostPluginManager()
    pm.add_hookspecs(hookspecs)
    for name in disabled:
        pm.set_blocked(name)
    for module_name in default_plugins:
        name = builtin_name(module_name)
        if pm.is_blocked(name):
            continue
        _register(pm, instantiate(importlib.import_module(module_name)), name,
                  PluginOrigin("builtin", module_name, __version__))
    if entry_points:
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if pm.get_plugin(entry_point.name) is not None or pm.is_blocked(entry_point.name):
                continue
            try:
                plugin = entry_point.load()
            except Exception as e:
                raise PluginLoadError(f"plugin {entry_point.name!r} ({entry_point.value}) failed to load: {e}") from e
            dist = entry_point.dist
            origin = PluginOrigin("entry point", entry_point.value, dist.version if dist else _version_of(plugin),
                                  dist.name if dist else "")
            _register(pm, instantiate(plugin), entry_point.name, origin)
    for raw in plugin_paths:
        path = Path(raw).expanduser().resolve()
        name = path.stem if path.is_file() else path.name
        if pm.is_blocked(name):
            continue
        module = load_plugin_file(path)
        _register(pm, instantiate(module), name, PluginOrigin("path", str(path), _version_of(module)))
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as e:
        raise PluginLoadError(f"a plugin implements a hook Ghost does not have: {e}") from e
    return pm


def _register(pm: GhostPluginManager, plugin: object, name: str, origin: PluginOrigin) -> None:
    taken = pm.origins.get(name)
    if taken is not None:
        raise PluginLoadError(
            f"two plugins are named {name!r}: {taken.kind} {taken.source} and {origin.kind} {origin.source}; "
            "rename one, or disable one with --set ghost_disable_plugins=NAME"
        )
    try:
        pm.register(plugin, name=name)
    except ValueError as e:  # pluggy: the same plugin object registered twice
        raise PluginLoadError(f"plugin {name!r} ({origin.source}) cannot be registered: {e}") from e
    pm.origins[name] = origin


def declare[R](pm: pluggy.PluginManager, hook_name: str, registrar: Callable[[R, str], Callable[..., None]],
               registry: R) -> R:
    """Fill `registry` through the registration hook `hook_name`, each plugin with the
    `register` that `registrar(registry, plugin_name)` makes; a clash or a bad entry stops
    Ghost with a PluginLoadError naming the plugins."""
    try:
        call_each(pm, hook_name, lambda owner: {"register": registrar(registry, owner)})
    except (TypeError, ValueError) as e:
        raise PluginLoadError(str(e)) from e
    return registry


def call_each(pm: pluggy.PluginManager, hook_name: str, arguments_for: Callable[[str], dict[str, Any]]) -> None:
    """Call every implementation of a registration hook with arguments made for its plugin
    (e.g. a `register` that records the plugin as the owner), in registration order."""
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        arguments = arguments_for(impl.plugin_name)
        impl.function(*[arguments[name] for name in impl.argnames])
