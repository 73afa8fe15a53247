"""The large-buffer policy on this machine's glibc (Debian): a freed body of a few MB is
given back to the OS. The control, in the same fresh-process conditions without the policy,
shows what it fixes: after one larger block was freed, glibc keeps the next one in its heap."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

PROBE = """
import sys
from pathlib import Path
from ghost_addons.malloc import return_large_buffers_to_the_os

def rss_kb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

if sys.argv[1] == "policy":
    assert return_large_buffers_to_the_os() is True
block = bytearray(8 << 20)  # freed: glibc's dynamic threshold would rise to 8 MB
del block
body = bytearray(6 << 20)   # a 6 MB body, touched
during = rss_kb()
del body
print(during - rss_kb())    # KB given back when it was freed
"""


def given_back_kb(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=60,
                          check=True)
    return int(done.stdout.strip())


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_a_freed_large_body_goes_back_to_the_os_with_the_policy_and_not_without() -> None:
    assert given_back_kb("policy") > 5_000
    assert given_back_kb("control") < 1_000
