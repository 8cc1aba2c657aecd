"""URL paths as the paywall judges them: normalised, matched against the publisher's patterns."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from typing import Any


def path_with_query(scope: Mapping[str, Any]) -> str:
    """The request's path and query as the reader sent them (``/news/story?page=2``), for links back to it.

    Starlette's ``request.url`` builds the whole URL (scheme, host, port) where only these two are wanted.
    """
    query: bytes = scope.get("query_string", b"")
    return f"{scope['path']}?{query.decode('latin-1')}" if query else str(scope["path"])


def has_dot_segment(path: str) -> bool:
    """Whether a server could resolve ``path`` to another one by removing dot segments.

    ``path`` is decoded (``%2e`` is already a dot). Besides ``/``, a backslash
    separates segments for some servers (IIS, Windows file servers) and ``;``
    starts path parameters others strip before resolving (``/..;/`` in Tomcat).
    """
    return any(segment.split(";", 1)[0] in (".", "..") for segment in re.split(r"[/\\]", path))


def normalize_path(path: str) -> str:
    """``path`` with dot segments resolved and repeated slashes merged.

    Servers and proxies in front of the app resolve ``/free/../story`` to
    ``/story`` (and nginx merges ``//``), so path rules must judge that form.
    """
    if "." not in path and "//" not in path:
        return path
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment not in ("", "."):
            segments.append(segment)
    trailing = path.endswith(("/", "/.", "/..")) and segments
    return "/" + "/".join(segments) + ("/" if trailing else "")


def match_path(path: str, patterns: Iterable[str]) -> bool:
    """Whether ``path`` matches one of the configured path patterns.

    A pattern ending in ``/`` matches everything below it (``/static/``); a
    pattern with ``*`` or ``?`` is a shell-style glob where ``*`` also crosses
    ``/`` (``/news/*/free``); anything else must equal the path.
    """
    for pattern in patterns:
        if pattern.endswith("/"):
            if path.startswith(pattern) or path == pattern[:-1]:
                return True
        elif "*" in pattern or "?" in pattern or "[" in pattern:
            if fnmatch.fnmatchcase(path, pattern):
                return True
        elif path == pattern:
            return True
    return False
