"""Who is a member, by Django's own auth; and the reader's access as the paywall sees it.

The check is ``request.user.has_perm(PAYWALL_MEMBER_PERMISSION)`` (default
``"paywall.read_full"``) unless ``PAYWALL_MEMBER_CHECK`` names another: a
callable, or its dotted path, that takes the request and returns True for a
member. It runs at most once per request; a check that raises, or returns
anything but True, means "not a member".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.http import HttpRequest
from django.utils.module_loading import import_string

from ...access.reader_state import ReaderAccess, ReaderState, reader_state

logger = logging.getLogger("paywall")

DEFAULT_PERMISSION = "paywall.read_full"
_MEMO = "_paywall_member"


def _has_permission(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is None:
        raise RuntimeError("request.user is missing: put AuthenticationMiddleware before PaywallMemberMiddleware")
    return bool(user.has_perm(getattr(settings, "PAYWALL_MEMBER_PERMISSION", DEFAULT_PERMISSION)))


def member_check() -> Callable[[HttpRequest], Any]:
    """The check the settings name (``PAYWALL_MEMBER_CHECK``), or the permission check."""
    named = getattr(settings, "PAYWALL_MEMBER_CHECK", None)
    if named is None:
        return _has_permission
    check = import_string(named) if isinstance(named, str) else named
    if not callable(check):
        raise TypeError(f"PAYWALL_MEMBER_CHECK: {named!r} is not callable")
    return check  # type: ignore[no-any-return]


def is_member(request: HttpRequest) -> bool:
    """Whether Django's auth makes this reader a member (checked once per request, fails closed)."""
    memo = getattr(request, _MEMO, None)
    if memo is not None:
        return bool(memo)
    try:
        answer = member_check()(request) is True
    except Exception:
        logger.exception("paywall: the member check failed for %s; treating the reader as a non-member", request.path)
        answer = False
    setattr(request, _MEMO, answer)
    return answer


def paywall_state(request: HttpRequest) -> ReaderState | None:
    """The paywall's view of this request when :class:`paywall.PaywallMiddleware` wraps Django."""
    return reader_state(getattr(request, "scope", None))


def _without_paywall(request: HttpRequest) -> ReaderAccess:
    # Behind ``paywall proxy`` or under WSGI the paywall's own view is out of reach:
    # Django knows its members, not trials or the meter.
    return ReaderAccess("member" if is_member(request) else "anonymous")


def access(request: HttpRequest) -> ReaderAccess:
    """The reader's access, from sync code (views, templates); see :func:`aaccess` in async views."""
    state = paywall_state(request)
    if state is None:
        return _without_paywall(request)
    known = state.known_access
    if known is not None:
        return known
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # a sync view's thread: ask the paywall on the server's event loop
        return async_to_sync(state.access)()
    logger.warning("paywall: %s rendered the reader's access in an async view without aaccess()", request.path)
    return _without_paywall(request)


async def aaccess(request: HttpRequest) -> ReaderAccess:
    """The reader's access from an async view; templates rendered afterwards reuse it."""
    state = paywall_state(request)
    if state is None:
        return await sync_to_async(_without_paywall)(request)
    return await state.access()
