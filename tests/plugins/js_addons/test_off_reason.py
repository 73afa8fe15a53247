from plugins.js_addons import V8_ADDRESS_SPACE_MB, off_reason


def test_the_reason_names_the_address_space_limit_only_when_there_is_one() -> None:
    error = RuntimeError("the addon worker exited while starting: Failed to reserve memory for new V8 Isolate")
    limited = off_reason(error, 4096)
    assert limited.startswith("the V8 worker did not start: the addon worker exited")
    assert "ulimit -v) of 4096 MB" in limited and f"about {V8_ADDRESS_SPACE_MB} MB" in limited
    assert "restart Ghost" in limited
    assert off_reason(error, None) == f"the V8 worker did not start: {error}"


def test_the_limit_is_read_from_the_process_the_workers_inherit_it_from() -> None:
    import subprocess
    import sys
    from pathlib import Path

    code = "from plugins.js_addons import address_space_limit_mb as f; print(f())"
    repo = Path(__file__).resolve().parents[3]
    limited = subprocess.run(["prlimit", f"--as={3 * 1024 ** 3}", "--", sys.executable, "-c", code],
                             cwd=repo, capture_output=True, text=True, timeout=60)
    assert limited.stdout.strip() == "3072", limited.stderr
    unlimited = subprocess.run(["prlimit", "--as=unlimited", "--", sys.executable, "-c", code],
                               cwd=repo, capture_output=True, text=True, timeout=60)
    assert unlimited.stdout.strip() == "None", unlimited.stderr
