"""Every hook of the plugin contract is typed, documented in hookspecs.py and in the README."""

import inspect
from pathlib import Path

import pytest

from ghost_addons import hookspecs
from ghost_addons.plugins import make_plugin_manager
from plugins import DEFAULT_PLUGINS

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
HOOKS = [name for name, fn in vars(hookspecs).items() if callable(fn) and hasattr(fn, "ghost_spec")]


def test_there_are_hooks() -> None:
    assert len(HOOKS) >= 10


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_prefixed_typed_and_documented(name: str) -> None:
    fn = getattr(hookspecs, name)
    assert name.startswith("ghost_")
    assert inspect.getdoc(fn), f"{name} has no docstring"
    signature = inspect.signature(fn)
    assert signature.return_annotation is not inspect.Signature.empty
    assert all(p.annotation is not inspect.Parameter.empty for p in signature.parameters.values())
    assert f"`{name}(" in README, f"{name} is missing from the README's hook table"


def test_builtin_plugins_implement_only_known_hooks() -> None:
    pm = make_plugin_manager(DEFAULT_PLUGINS, entry_points=False)
    pm.check_pending()
    for plugin in pm.get_plugins():
        for attr in dir(plugin):
            if hasattr(getattr(plugin, attr), "ghost_impl"):
                assert attr in HOOKS, f"{plugin} implements {attr}, which is no hook"


def test_unknown_hook_is_refused(tmp_path) -> None:
    from ghost_addons.plugins import PluginLoadError

    bad = tmp_path / "bad.py"
    bad.write_text("from ghost_addons.hookspecs import hookimpl\n@hookimpl\ndef ghost_nope(): pass\n")
    with pytest.raises(PluginLoadError, match="ghost_nope"):
        make_plugin_manager([], [str(bad)], entry_points=False)
