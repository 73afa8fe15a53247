"""The plugin manager factory: built-in plugins, entry points, plugin files by path."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import logging
import sys
from collections.abc import Awaitable, Callable, Iterable
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


def make_plugin_manager(
    default_plugins: Iterable[str], plugin_paths: Iterable[str] = (), entry_points: bool = True
) -> GhostPluginManager:
    """Register built-ins, then entry-point plugins, then plugin files; reject unknown hooks."""
    pm = GhostPluginManager()
    pm.add_hookspecs(hookspecs)
    for module_name in default_plugins:
        pm.register(instantiate(importlib.import_module(module_name)), name=module_name)
    if entry_points:
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if pm.get_plugin(entry_point.name) is not None or pm.is_blocked(entry_point.name):
                continue
            try:
                plugin = entry_point.load()
            except Exception as e:
                raise PluginLoadError(f"plugin {entry_point.name!r} ({entry_point.value}) failed to load: {e}") from e
            pm.register(instantiate(plugin), name=entry_point.name)
    for raw in plugin_paths:
        path = Path(raw).expanduser().resolve()
        pm.register(instantiate(load_plugin_file(path)), name=f"path:{path}")
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as e:
        raise PluginLoadError(f"a plugin implements a hook Ghost does not have: {e}") from e
    return pm
