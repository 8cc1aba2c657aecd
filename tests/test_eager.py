"""``within``: a time limit that arms no timer for a coroutine that never waits, and is a real limit otherwise."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Generator
from typing import Any

import anyio
import pytest

from paywall.access import eager
from paywall.access.eager import within


@pytest.mark.anyio
async def test_a_coroutine_that_never_waits_is_done_without_a_timer() -> None:
    loop = asyncio.get_running_loop()

    async def answer() -> str:
        return "member"

    timers = len(loop._scheduled)  # the loop's timer heap: what a timeout would add to
    result = await within(5.0, answer())
    assert result == "member"
    assert len(loop._scheduled) == timers


@pytest.mark.anyio
async def test_a_coroutine_that_waits_gets_its_answer_from_the_loop() -> None:
    event = anyio.Event()

    async def waits() -> int:
        await event.wait()
        await asyncio.sleep(0)
        return 42

    async def later() -> None:
        await asyncio.sleep(0.01)
        event.set()

    async with anyio.create_task_group() as group:
        group.start_soon(later)
        assert await within(5.0, waits()) == 42


@pytest.mark.anyio
async def test_a_coroutine_that_waits_too_long_is_cancelled_where_it_waits() -> None:
    cleaned = []

    async def hangs() -> bool:
        try:
            await asyncio.sleep(60)
        finally:
            cleaned.append(True)
        return True

    started = asyncio.get_running_loop().time()
    with pytest.raises(TimeoutError):
        await within(0.05, hangs())
    assert cleaned == [True]
    assert asyncio.get_running_loop().time() - started < 5


@pytest.mark.anyio
async def test_errors_come_out_whether_raised_at_once_or_after_waiting() -> None:
    async def at_once() -> bool:
        raise ValueError("no accounts service")

    async def after_waiting() -> bool:
        await asyncio.sleep(0)
        raise KeyError("session")

    with pytest.raises(ValueError):
        await within(1.0, at_once())
    with pytest.raises(KeyError):
        await within(1.0, after_waiting())


@pytest.mark.anyio
async def test_the_caller_cancelled_cancels_the_coroutine() -> None:
    cancelled = []

    async def slow() -> bool:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return True

    with anyio.move_on_after(0.05):
        await within(30.0, slow())
    assert cancelled == [True]


def test_the_first_step_is_taken_in_c_where_the_suite_runs() -> None:
    """The C step (``_step.c``) is built with the package, compiler or not of the rest (``setup.py``)."""
    from paywall.access import _step

    assert eager.first_step is _step.first_step


@pytest.mark.parametrize("step", [eager.first_step, eager._first_step_in_python], ids=["c", "python"])
def test_a_first_step_says_whether_the_coroutine_returned_or_waits(step: Callable[..., tuple[bool, Any]]) -> None:
    async def returns() -> str:
        return "member"

    async def returns_none() -> None:
        return None

    class Waits:
        def __await__(self) -> Generator[str, Any, int]:
            answer = yield "the future"
            return int(answer)

    async def waits() -> int:
        return await Waits()

    async def raises() -> bool:
        raise LookupError("session")

    assert step(returns()) == (True, "member")
    assert step(returns_none()) == (True, None)
    waiting = waits()
    assert step(waiting) == (False, "the future")
    with pytest.raises(StopIteration) as done:  # the rest as the loop would take it
        waiting.send("7")
    assert done.value.value == 7
    with pytest.raises(LookupError):
        step(raises())


def test_a_coroutine_whose_first_step_raises_is_closed() -> None:
    closed = []

    async def raises() -> bool:
        try:
            raise LookupError("session")
        finally:
            closed.append(True)

    coro = raises()
    with pytest.raises(LookupError):
        eager.begin(coro)
    assert closed == [True]
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED  # nothing left to close or warn about
