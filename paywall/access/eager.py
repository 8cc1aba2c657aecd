"""A time limit for a coroutine that mostly finishes without waiting, with no timer for those that do.

The member resolver runs under ``member_resolver_timeout`` on every request
that needs the reader. Most resolvers answer from the request itself (a cookie,
a header, the session a middleware loaded) and never wait; arming and
cancelling a timer for them is the dearest part of the call (about 5 us with
asyncio's own timeout, ten times that with a cancel scope). So
:func:`within` runs the coroutine's first step at once, as an eager task
would: one that finishes there is done, and only one that waits (an accounts
service asked over the network, a worker thread) gets the timer, from that
point on. A first step cannot be interrupted by any timeout anyway: a
coroutine is only ever stopped where it waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any, Generic, TypeVar

import anyio

T = TypeVar("T")


async def within(seconds: float, coro: Coroutine[Any, Any, T]) -> T:
    """``await coro``, or :class:`TimeoutError` when it still waits ``seconds`` after it first did."""
    try:
        waiting_on = coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    except BaseException:
        coro.close()
        raise
    resumed = _Resumed(coro, waiting_on)
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # another event loop (trio): anyio's cancel scope
        with anyio.fail_after(seconds):
            return await resumed
    async with asyncio.timeout(seconds):
        return await resumed


class _Resumed(Generic[T]):
    """The rest of a coroutine whose first step has run: what ``await`` would have done from there.

    Hands the event loop what the coroutine waits on, and passes the loop's
    answers (values, cancellation) back into it, exactly as ``await`` does.
    """

    def __init__(self, coro: Coroutine[Any, Any, T], waiting_on: Any) -> None:
        self.coro = coro
        self.waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, T]:
        coro, waiting_on = self.coro, self.waiting_on
        while True:
            try:
                answer = yield waiting_on
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancellation, a timeout: the coroutine sees it where it waits
                try:
                    waiting_on = coro.throw(exc)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]
            else:
                try:
                    waiting_on = coro.send(answer)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]


__all__ = ["within"]
