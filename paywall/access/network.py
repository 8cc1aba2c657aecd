"""Who is connecting: the peer, the client behind trusted proxies, and HTTPS."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import Headers


def is_https(scope: Mapping[str, Any], trusted_proxies: tuple[str, ...] = ()) -> bool:
    """Whether the reader's connection is encrypted.

    Behind a TLS-terminating proxy listed in ``trusted_proxies`` the scheme comes
    from its ``X-Forwarded-Proto`` (the right-most value, which that proxy set);
    from anyone else the header is ignored.
    """
    if scope.get("scheme") in ("https", "wss"):
        return True
    if not is_trusted(peer_address(scope), trusted_proxies):
        return False
    forwarded = Headers(raw=list(scope.get("headers") or [])).getlist("x-forwarded-proto")
    if not forwarded:
        return False
    return forwarded[-1].split(",")[-1].strip().lower() in ("https", "wss")


def client_address(scope: Mapping[str, Any], trusted_proxies: tuple[str, ...]) -> str | None:
    """The reader's address.

    ``X-Forwarded-For`` is believed only when the connecting peer is a trusted
    proxy; then the right-most address that is not itself trusted is the
    client (addresses further left can be forged by the client).
    """
    peer = peer_address(scope)
    if peer is None or not is_trusted(peer, trusted_proxies):
        return peer
    raw_headers = scope.get("headers") or []
    forwarded: list[str] = []
    for key, value in raw_headers:
        if key.lower() == b"x-forwarded-for":
            forwarded.extend(p.strip() for p in value.decode("latin-1").split(","))
    for candidate in reversed([f for f in forwarded if f]):
        if not _valid_ip(candidate):
            return peer
        if not is_trusted(candidate, trusted_proxies):
            return candidate
    return peer


def _valid_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def peer_address(scope: Mapping[str, Any]) -> str | None:
    """The address of the connecting peer (which may be a proxy), or None."""
    client = scope.get("client")
    peer = client[0] if isinstance(client, tuple | list) and client else None
    return peer if isinstance(peer, str) else None


@functools.lru_cache(maxsize=16)
def _networks(trusted: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(net, strict=False) for net in trusted)


def is_trusted(address: str | None, trusted: tuple[str, ...]) -> bool:
    """Whether ``address`` lies in one of the ``trusted_proxies`` networks (parsed once per setting)."""
    if address is None or not trusted:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(trusted))
