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

The first step is taken in C where the package is built with it
(``_step.c``, :func:`first_step`): Python's ``send()`` tells a coroutine that
returned by raising ``StopIteration``, and catching that costs as much as
the rest of the step. A caller on the request path takes the step itself
(:func:`begin`, then :func:`rest_within` only for a coroutine that waits),
which saves the coroutine :func:`within` would add around it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any, Generic, TypeVar

import anyio

T = TypeVar("T")


def _first_step_in_python(coro: Coroutine[Any, Any, Any]) -> tuple[bool, Any]:
    """:func:`first_step` where its C part is not built: the same answers, through ``StopIteration``."""
    try:
        return False, coro.send(None)
    except StopIteration as done:
        return True, done.value


try:
    from ._step import first_step
except ImportError:  # built without C: the same step, read from the exception send() raises
    first_step = _first_step_in_python


def begin(coro: Coroutine[Any, Any, Any]) -> tuple[bool, Any]:
    """The first step of :func:`within`, for a caller that saves a coroutine of its own around it:
    ``(True, what coro returned)``, or ``(False, what it waits on)``, which :func:`rest_within` takes on
    from. What the step raises is raised, and ``coro`` closed."""
    try:
        return first_step(coro)
    except BaseException:
        coro.close()
        raise


async def within(seconds: float, coro: Coroutine[Any, Any, T]) -> T:
    """``await coro``, or :class:`TimeoutError` when it still waits ``seconds`` after it first did."""
    done, value = begin(coro)
    if done:
        return value  # type: ignore[no-any-return]
    return await rest_within(seconds, coro, value)


async def rest_within(seconds: float, coro: Coroutine[Any, Any, T], waiting_on: Any) -> T:
    """The rest of :func:`within` once its first step waits on ``waiting_on``: the timer, from now on."""
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


__all__ = ["begin", "first_step", "rest_within", "within"]
