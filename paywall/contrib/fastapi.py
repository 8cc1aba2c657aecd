"""The paywall's view of the reader in a FastAPI (or Starlette) app.

Behind :class:`paywall.PaywallMiddleware`, ``request.state.paywall`` is the
request's :class:`~paywall.access.reader_state.ReaderState`; these dependencies read
it, so a page can say "2 free articles left this month" or hide its Subscribe
button from members::

    from typing import Annotated
    from fastapi import Depends
    from paywall.contrib.fastapi import ReaderAccess, paywall_access

    @app.get("/articles/{slug}")
    async def article(slug: str, access: Annotated[ReaderAccess | None, Depends(paywall_access)]): ...

Nothing is computed until a dependency is used, and then once per request, by
the same identification the middleware decides with. The dependencies take
only a Starlette ``Request``, so they work unchanged as plain helpers in a
Starlette endpoint (``await paywall_access(request)``). They answer None where
no paywall stands in front (``exclude_paths``, the app run on its own).
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from ..access.reader_state import ReaderAccess, reader_state
from ..access.readers import Reader


async def paywall_access(request: HTTPConnection) -> ReaderAccess | None:
    """The reader's access (kind, trial end, free articles left), or None without a paywall in front."""
    state = reader_state(request.scope)
    return None if state is None else await state.access()


async def paywall_reader(request: HTTPConnection) -> Reader | None:
    """The :class:`~paywall.access.readers.Reader` the paywall decides for, or None without a paywall in front."""
    state = reader_state(request.scope)
    return None if state is None else await state.reader()


__all__ = ["ReaderAccess", "paywall_access", "paywall_reader"]
