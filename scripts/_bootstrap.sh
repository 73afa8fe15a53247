# Sourced by scripts/ghost, scripts/test and scripts/bench: finds Python 3.12 and makes or
# refreshes Ghost's venv in .venv (editable install) when setup.cfg changed.
set -euo pipefail
GHOST_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$GHOST_ROOT/.venv"

find_python() {
  local candidate
  for candidate in "${GHOST_PYTHON:-}" python3.12 "$(cd "$GHOST_ROOT" && pyenv which python3.12 2>/dev/null || true)"; do
    [ -n "$candidate" ] || continue
    if (cd "$GHOST_ROOT" && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 12)') >/dev/null 2>&1; then
      (cd "$GHOST_ROOT" && "$candidate" -c 'import sys; print(sys.executable)')
      return 0
    fi
  done
  echo "Ghost needs Python 3.12 (python3.12 on PATH, or pyenv with a 3.12 version)" >&2
  return 1
}

# pip without this machine's noise about missing local index folders; keeps pip's exit code.
pip_quiet() {
  "$VENV/bin/python" -m pip --quiet "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; } >&2
  return "${PIPESTATUS[0]}"
}

# ensure_venv EXTRAS: e.g. ensure_venv "" or ensure_venv "[test]"
ensure_venv() {
  local extras="$1" stamp want
  if [ ! -x "$VENV/bin/python" ]; then
    echo "Making Ghost's virtual environment in $VENV ..." >&2
    "$(find_python)" -m venv "$VENV"
    pip_quiet install --upgrade pip
  fi
  stamp="$VENV/.ghost-installed$extras"
  want="$(cat "$GHOST_ROOT/setup.cfg" "$GHOST_ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
  # an install with the test extras holds everything the plain one does
  if [ -z "$extras" ] && [ "$(cat "$VENV/.ghost-installed[test]" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "Installing Ghost$extras into $VENV ..." >&2
    (cd "$GHOST_ROOT" && pip_quiet install -e ".$extras")
    "$VENV/bin/python" -m pip check >&2
    echo "$want" > "$stamp"
  fi
}
