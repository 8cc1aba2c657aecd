"""``PaywallMemberMiddleware``: Django's members are the paywall's members.

Place it after ``AuthenticationMiddleware``. For a member (see
:mod:`paywall.contrib.django.members`) it

* tells the paywall's view of the request, before the view renders, so that
  templates and the gate agree (``request.state.paywall`` under ASGI), and
* adds ``X-Paywall-Access: member`` to the response, which the paywall reads
  and removes, so the same settings work behind ``paywall proxy``.

The check touches ``request.user``, so every response varies on the session
cookie (the paywall adds ``Vary: Cookie`` to the pages it handles anyway).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponseBase

from .members import is_member, member_check, paywall_state

ACCESS_HEADER = "X-Paywall-Access"


class PaywallMemberMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]]) -> None:
        self.get_response = get_response
        try:
            member_check()  # a check that cannot be found fails when the server starts, not on each request
        except (ImportError, TypeError) as exc:
            raise ImproperlyConfigured(f"PAYWALL_MEMBER_CHECK: {exc}") from exc
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.is_async:
            return self.__acall__(request)
        member = self._vouch(request, is_member(request))
        response = self.get_response(request)
        assert isinstance(response, HttpResponseBase)
        return _tell(response, member)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        member = self._vouch(request, await sync_to_async(is_member)(request))
        response = self.get_response(request)
        assert not isinstance(response, HttpResponseBase)
        return _tell(await response, member)

    @staticmethod
    def _vouch(request: HttpRequest, member: bool) -> bool:
        state = paywall_state(request)
        if member and state is not None:
            state.vouch_member()
        return member


def _tell(response: HttpResponseBase, member: bool) -> HttpResponseBase:
    if member:
        response.headers[ACCESS_HEADER] = "member"
    return response
