"""Device names from User-Agent strings ("iPhone (iOS 18.1)", "Pixel 8 (Android 14)"): pure,
bounded (the User-Agent is cut to MAX_USER_AGENT characters; the patterns are linear)."""

from __future__ import annotations

import re

MAX_USER_AGENT = 512

_IOS = re.compile(r"\((iPhone|iPad|iPod)[^;)]*;[^)]*?OS (\d+(?:_\d+)*) like Mac OS X")
_ANDROID = re.compile(r"Android (\d+(?:\.\d+)*)(?:; ([^;)]+))?")
_MAC = re.compile(r"Macintosh; Intel Mac OS X (\d+(?:[_.]\d+)*)")
_WINDOWS = re.compile(r"Windows NT (\d+\.\d+)")
_APP = re.compile(r"^([A-Za-z][\w.-]{0,40})/(\d[\w.-]{0,20})")
_ANDROID_NOISE = {"K", "wv", "Mobile", "U", "Linux"}


def device_name(user_agent: str) -> str:
    """A short human name for the device (or program) a User-Agent belongs to; "" when none."""
    ua = user_agent[:MAX_USER_AGENT]
    if m := _IOS.search(ua):
        kind = m.group(1)
        system = "iPadOS" if kind == "iPad" and int(m.group(2).split("_")[0]) >= 13 else "iOS"
        return f"{kind} ({system} {m.group(2).replace('_', '.')})"
    if m := _ANDROID.search(ua):
        model = (m.group(2) or "").split(" Build/")[0].strip()
        model = "" if model in _ANDROID_NOISE else model
        return f"{model or 'Android device'} (Android {m.group(1)})"
    if m := _MAC.search(ua):
        return f"Mac (macOS {m.group(1).replace('_', '.')})"
    if m := _WINDOWS.search(ua):
        return "Windows PC"
    if "CrOS" in ua:
        return "Chromebook"
    if "X11; Linux" in ua or "X11; Ubuntu" in ua:
        return "Linux PC"
    if m := _APP.match(ua):
        return f"{m.group(1)} {m.group(2)}"
    return ""


def device_id(client_addr: str) -> str:
    """The device's id: its client address without the port ("192.168.1.23", "::1")."""
    host = client_addr.rsplit(":", 1)[0] if client_addr.count(":") == 1 or client_addr.startswith("[") else client_addr
    return host.strip("[]")
